// querylog: one debug line per query with the verdict, rcode and per-stage timings.
// Outermost plugin, so it sees the final reply; costs nothing unless the level is debug.
import type { Logger } from 'pino';
import type { Handler, Plugin, Request, Response } from '../types';

export class QueryLogPlugin implements Plugin {
  readonly name = 'querylog';

  setup(next: Handler, log: Logger): Handler {
    if (!log.isLevelEnabled('debug')) return next;
    return async (req: Request): Promise<Response> => {
      const res = await next(req);
      log.debug({
        source: req.source?.display ?? req.peer.address,
        kind: req.source?.kind,
        transport: req.transport,
        name: req.query.name,
        qtype: req.query.qtype,
        verdict: req.decision?.verdict,
        rcode: res.rcode,
        origin: res.origin,
        addresses: res.answer?.addresses.length,
        timingsNs: req.timings,
      }, 'query');
      return res;
    };
  }
}
