// Builds the request path once at startup: plugins in order, each wrapping the next.
// "Every plugin feels the effects of all plugins below it" (CoreDNS plugin.cfg).
import type { Logger } from 'pino';
import type { Handler, Plugin, Request, Response } from './types';
import { errorResponse } from '../dns/synth';
import { RCODE } from '../dns/constants';
import { MetricsRegistry, type Metrics } from '../metrics/registry';

/** The handler below the last plugin: nothing answered the query, so SERVFAIL ("no next plugin"). */
const noNextPlugin: Handler = (req: Request): Promise<Response> =>
  Promise.resolve({
    wire: errorResponse(req.wire, req.query, RCODE.SERVFAIL),
    rcode: RCODE.SERVFAIL,
    origin: 'synthesized',
  });

export interface Chain {
  handle: Handler;
  plugins: readonly Plugin[];
  /** where the plugins registered their metrics */
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * Compose plugins (first = outermost). With `timed` (default: when the log is at debug level, where
 * querylog prints them) each stage's inclusive time is recorded in req.timings[name]; otherwise the
 * request path pays no extra async frame and clock reads per plugin.
 */
export function buildChain(plugins: Plugin[], log: Logger, metrics: Metrics = new MetricsRegistry(), timed = log.isLevelEnabled('debug')): Chain {
  let next: Handler = noNextPlugin;
  for (let i = plugins.length - 1; i >= 0; i--) {
    const p = plugins[i];
    const inner = p.setup(next, log.child({ plugin: p.name }), metrics);
    next = timed ? timedStage(p.name, inner) : inner;
  }
  return {
    handle: next,
    plugins,
    metrics,
    async close() {
      for (const p of plugins) if (p.close) await p.close();
    },
  };
}

/** Records inclusive time per stage; consumers derive exclusive times from the chain order. */
function timedStage(name: string, h: Handler): Handler {
  return async (req) => {
    const t0 = process.hrtime.bigint();
    try {
      return await h(req);
    } finally {
      req.timings[name] = Number(process.hrtime.bigint() - t0);
    }
  };
}
