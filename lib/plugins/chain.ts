// Builds the request path once at startup: the plugins' stages in order, and the runner that takes
// a query down through them and its reply back up. "Every plugin feels the effects of all
// plugins below it" (CoreDNS plugin.cfg). A stage that does not wait costs a function call: no
// promise, closure or async frame per stage and query (lib/plugins/README.md).
import type { Logger } from 'pino';
import type { Handler, MaybePromise, Plugin, Request, Response, Stage } from './types';
import { servfail } from './servfail';
import { MetricsRegistry, type Metrics } from '../metrics/registry';

export interface Chain {
  handle: Handler;
  plugins: readonly Plugin[];
  /** where the plugins registered their metrics */
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * Compose plugins (first = outermost). With `timed` (default: when the log is at debug level, where
 * querylog prints them) each stage's inclusive time (its down() to its up()) is recorded in
 * req.timings[name]; otherwise the request path reads no clock per stage.
 */
export function buildChain(plugins: Plugin[], log: Logger, metrics: Metrics = new MetricsRegistry(), timed = log.isLevelEnabled('debug')): Chain {
  const stages: Stage[] = plugins.map((p) => p.setup(log.child({ plugin: p.name }), metrics));
  const names = plugins.map((p) => p.name);
  const n = stages.length;
  const chainLog = log.child({ part: 'chain' });

  /** A stage threw (a bug: DNS failures are Responses): SERVFAIL from that stage, logged; the stages above still see it. */
  const failed = (req: Request, i: number, err: unknown): Response => {
    chainLog.error({ plugin: names[i], name: req.query.name, err: (err as Error)?.stack ?? String(err) }, 'plugin threw; SERVFAIL');
    return servfail(req);
  };

  const stamp = (req: Request, i: number): void => {
    req.timings[names[i]] = Number(process.hrtime.bigint());
  };
  const elapsed = (req: Request, i: number): void => {
    const t = req.timings[names[i]];
    if (t !== undefined) req.timings[names[i]] = Number(process.hrtime.bigint()) - t;
  };

  /** The reply goes up from stage `from` (the stages above the one that answered). */
  const up = (req: Request, from: number, res: Response): MaybePromise<Response> => {
    for (let j = from; j >= 0; j--) {
      const s = stages[j];
      if (s.up !== undefined) {
        let r: MaybePromise<Response>;
        try {
          r = s.up(req, res);
        } catch (err) {
          r = failed(req, j, err);
        }
        if (r instanceof Promise) {
          return r.then(
            (v) => {
              if (timed) elapsed(req, j);
              return up(req, j - 1, v);
            },
            (err: unknown) => up(req, j - 1, failed(req, j, err)),
          );
        }
        res = r;
      }
      if (timed) elapsed(req, j);
    }
    return res;
  };

  /** The query goes down from stage `from` until a stage answers it. */
  const down = (req: Request, from: number): MaybePromise<Response> => {
    for (let i = from; i < n; i++) {
      const s = stages[i];
      if (timed) stamp(req, i);
      if (s.down === undefined) continue;
      let r: MaybePromise<Response | undefined>;
      try {
        r = s.down(req);
      } catch (err) {
        r = failed(req, i, err);
      }
      if (r === undefined) continue;
      if (r instanceof Promise) {
        return r.then(
          (v) => (v === undefined ? down(req, i + 1) : answered(req, i, v)),
          (err: unknown) => answered(req, i, failed(req, i, err)),
        );
      }
      return answered(req, i, r);
    }
    return up(req, n - 1, servfail(req)); // nothing answered: "no next plugin"
  };

  /** Stage i answered: it has nothing to add on the way up (its up() is for replies from below). */
  const answered = (req: Request, i: number, res: Response): MaybePromise<Response> => {
    if (timed) elapsed(req, i);
    return up(req, i - 1, res);
  };

  const handle: Handler = (req) => {
    const r = down(req, 0);
    return r instanceof Promise ? r : Promise.resolve(r);
  };

  return {
    handle,
    plugins,
    metrics,
    async close() {
      for (const p of plugins) if (p.close) await p.close();
    },
  };
}
