// metrics: the request-level measures of the whole chain below it, as CoreDNS's prometheus
// plugin keeps them: how long each query took (a histogram by transport and verdict) and the
// responses by rcode. The other plugins register their own in their own metrics.ts.
import type { Logger } from 'pino';
import type { Histogram } from 'prom-client';
import type { Handler, Plugin, Request, Response } from '../types';
import { DURATION_BUCKETS, type Metrics } from '../../metrics/registry';
import { rcodeName } from '../../dns/constants';

export class MetricsPlugin implements Plugin {
  readonly name = 'metrics';
  /** responses by rcode (index 0…15, RFC 1035 header rcode) */
  readonly responses = new Float64Array(16);

  setup(next: Handler, _log: Logger, metrics?: Metrics): Handler {
    if (!metrics) return next;
    const responses = this.responses;
    metrics.counterFrom('dnswall_dns_responses_total', 'Responses sent by the chain, by rcode', ['rcode'], (set) => {
      responses.forEach((v, i) => {
        if (v > 0) set({ rcode: rcodeName(i) }, v);
      });
    });
    const duration: Histogram<string> = metrics.histogram(
      'dnswall_dns_request_duration_seconds',
      "Time from a query's arrival to its response, by transport and policy verdict (none: not decided, e.g. a malformed question)",
      ['transport', 'verdict'],
      DURATION_BUCKETS,
    );
    return async (req: Request): Promise<Response> => {
      const res = await next(req);
      responses[res.rcode & 0xf]++;
      duration.observe({ transport: req.transport, verdict: req.decision?.verdict ?? 'none' }, Number(process.hrtime.bigint() - req.received) / 1e9);
      return res;
    };
  }
}
