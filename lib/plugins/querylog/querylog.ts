// querylog: the decision log (config `queryLog`). Outermost plugin, so it sees the final reply:
// one JSON line per decision — source (pod or cgroup when known), name, qtype by name, verdict,
// policy, rcode, latency. `denied` (default) logs denials (and audit mode's would-be denials),
// `all` every decision, `off` none. Denial lines are rate-limited (a flood of denied search-path
// expansions must not flood the log; the suppressed count rides on the next line). At debug level
// every query gets a line with the per-stage timings too.
import type { Logger } from 'pino';
import type { Plugin, Request, Response, Stage } from '../types';
import { rcodeName, typeName } from '../../dns/constants';
import { LogLimiter } from '../../util/ratelimit';

export type QueryLogMode = 'denied' | 'all' | 'off';

/** Denial lines per second (burst the same), as the policy plugin logged them before. */
export const DENIED_LINES_PER_SECOND = 20;

export class QueryLogPlugin implements Plugin {
  readonly name = 'querylog';
  private readonly limiter = new LogLimiter(DENIED_LINES_PER_SECOND);

  constructor(private readonly opts: { mode?: QueryLogMode; audit?: boolean } = {}) {}

  setup(log: Logger): Stage {
    const mode = this.opts.mode ?? 'denied';
    const audit = !!this.opts.audit;
    const debug = log.isLevelEnabled('debug');
    const info = log.isLevelEnabled('info');
    if ((mode === 'off' || !info) && !debug) return {};
    const limiter = this.limiter;
    const up = (req: Request, res: Response): Response => {
      const d = req.decision;
      const verdict = d?.verdict;
      const denied = verdict === 'deny';
      if (debug) log.debug({ ...fields(req, res, audit), origin: res.origin, addresses: res.answer?.addresses.length, timingsNs: req.timings }, 'query');
      else if (d && mode !== 'off' && (mode === 'all' || denied)) {
        if (denied && !limiter.take()) return res;
        // a denial line says how many before it were held back (0: none)
        log.info(
          { ...fields(req, res, audit), ...(denied ? { suppressed: limiter.suppressed() } : {}) },
          denied ? (audit ? 'would deny (audit mode)' : 'denied') : verdict === 'allow' ? 'allowed' : 'unmanaged',
        );
      }
      return res;
    };
    return { up };
  }
}

/** One decision's line: who, what, which verdict and policy, the answer, how long. */
function fields(req: Request, res: Response, audit: boolean): Record<string, unknown> {
  const s = req.source;
  const d = req.decision;
  const out: Record<string, unknown> = { source: s?.address ?? req.peer.address };
  if (s?.kind === 'pod') out.pod = s.display.slice(s.display.indexOf(' ') + 1);
  if (s?.kind === 'cgroup') out.cgroup = s.cgroup?.path ?? s.display;
  out.transport = req.transport;
  out.name = req.query.name;
  out.qtype = typeName(req.query.qtype);
  if (d) {
    out.verdict = audit && d.verdict === 'deny' ? 'would_deny' : d.verdict;
    if (d.verdict === 'allow') out.policy = d.policy;
    else if (d.policies.length) out.policies = d.policies;
  }
  out.rcode = rcodeName(res.rcode);
  out.latencyMs = Math.round(Number(process.hrtime.bigint() - req.received) / 1e4) / 100;
  return out;
}
