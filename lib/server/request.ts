// From received bytes to a Request, or to the reply that bad input deserves (never an exception).
import type { Request, Transport } from '../plugins/types';
import type { LocalEnd } from '../identity/types';
import { parseQuery, DnsFormatError } from '../dns/query';
import { errorResponse } from '../dns/synth';
import { RCODE } from '../dns/constants';

export type Intake =
  | { kind: 'query'; req: Request }
  /** answer this directly (FORMERR/NOTIMP) without running the chain */
  | { kind: 'reply'; wire: Buffer; why: string }
  /** say nothing: responses (QR=1) and packets too short to carry an ID */
  | { kind: 'drop'; why: string };

const UDP_MIN = 512;
/** RFC 6891 §6.2.5: values below 512 are treated as 512; we also cap what we promise. */
const UDP_MAX = 4096;
const TCP_MAX = 65535;

/** address/port: the sender; local: where the query arrived (see Request.local). */
export function intake(wire: Buffer, address: string, port: number, transport: Transport, local: LocalEnd): Intake {
  let query;
  try {
    query = parseQuery(wire);
  } catch (err) {
    if (!(err instanceof DnsFormatError)) throw err;
    const code = err.code;
    if (code === 'RESPONSE' || wire.length < 12) return { kind: 'drop', why: err.message };
    const rcode = code === 'NOTIMP' ? RCODE.NOTIMP : RCODE.FORMERR;
    return { kind: 'reply', wire: errorResponse(wire, null, rcode), why: err.message };
  }
  const family = address.includes(':') ? 6 : 4;
  const maxReplySize = transport === 'tcp' ? TCP_MAX : query.edns ? Math.min(Math.max(query.edns.udpSize, UDP_MIN), UDP_MAX) : UDP_MIN;
  return {
    kind: 'query',
    req: {
      wire,
      query,
      peer: { address, family, port },
      local,
      transport,
      maxReplySize,
      received: process.hrtime.bigint(),
      timings: {},
    },
  };
}

/** "::ffff:192.0.2.10" (dual-stack sockets) → "192.0.2.10": a source is named one way only. */
export function canonicalSource(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
