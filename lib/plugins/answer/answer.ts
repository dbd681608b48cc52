// answer: read what an allowed upstream reply gives for the query name (addresses through the
// CNAME chain and SVCB/HTTPS hints) and cap its TTLs at ttl.max in place, before anyone above
// sees it. Fail closed: a reply we cannot read is not relayed to a managed source.
import type { Logger } from 'pino';
import type { Plugin, Request, Response, Stage } from '../types';
import { readAnswer } from '../../dns/answer';
import { servfail } from '../servfail';

export class AnswerPlugin implements Plugin {
  readonly name = 'answer';
  unreadable = 0;

  constructor(private readonly ttlMax: number) {}

  setup(log: Logger): Stage {
    const ttlMax = this.ttlMax;
    const up = (req: Request, res: Response): Response => {
      // Only managed, allowed queries are programmed; unmanaged ones pass unfiltered.
      if (req.decision?.verdict !== 'allow' || res.origin === 'synthesized') return res;
      try {
        res.answer = readAnswer(res.wire, req.query.name, req.query.qtype, ttlMax);
      } catch (err) {
        this.unreadable++;
        log.warn({ name: req.query.name, err: (err as Error).message }, 'unreadable upstream reply; SERVFAIL');
        return servfail(req);
      }
      return res;
    };
    return { up };
  }
}
