// forward: the client's bytes to the upstreams (only the ID rewritten), the reply's bytes back.
import type { Logger } from 'pino';
import type { Plugin, Request, Response, Stage } from '../types';
import type { Upstreams } from '../../upstream/upstreams';
import { truncatedResponse } from '../../dns/synth';
import { servfail } from '../servfail';
import { LogLimiter } from '../../util/ratelimit';

export class ForwardPlugin implements Plugin {
  readonly name = 'forward';
  failures = 0;

  constructor(private readonly upstreams: Pick<Upstreams, 'exchange'>) {}

  setup(log: Logger): Stage {
    const upstreams = this.upstreams;
    // A flood of forwarded queries that the upstream cannot keep up with must not become a
    // flood of log lines (bench/flood.ts: pino's writes were 13 % of the daemon's CPU).
    const limiter = new LogLimiter(10, 20);
    const relay = (req: Request, wire: Buffer): Response =>
      // A reply fetched over TCP (after TC) can exceed what the UDP client accepts: tell it to retry on TCP.
      wire.length > req.maxReplySize
        ? { wire: truncatedResponse(req.wire, req.query), rcode: wire[3] & 0x0f, origin: 'synthesized' }
        : { wire, rcode: wire[3] & 0x0f, origin: 'upstream' };
    const failed = (req: Request, err: unknown): Response => {
      const q = req.query;
      this.failures++;
      if (limiter.take()) log.warn({ name: q.name, err: (err as Error).message, suppressed: limiter.suppressed() }, 'no upstream answered; SERVFAIL');
      return servfail(req);
    };
    // UDP first whatever the client used (cheaper); the upstream layer retries over TCP on TC.
    // req.query was parsed from req.wire: exchange() does not read the question again.
    const down = (req: Request): Promise<Response> =>
      upstreams.exchange(req.wire, req.query).then(
        (r) => relay(req, r.wire),
        (err: unknown) => failed(req, err),
      );
    return { down };
  }
}
