// The SERVFAIL a stage answers with (a failure is a Response, never an exception): the client's
// ID and question, with an Extended DNS Error when the stage says why (RFC 8914).
import type { Request, Response } from './types';
import { errorResponse } from '../dns/synth';
import { RCODE } from '../dns/constants';

export function servfail(req: Pick<Request, 'wire' | 'query'>, ede?: { code: number; text: string }): Response {
  return { wire: errorResponse(req.wire, req.query, RCODE.SERVFAIL, ede), rcode: RCODE.SERVFAIL, origin: 'synthesized' };
}
