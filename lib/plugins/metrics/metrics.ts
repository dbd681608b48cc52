// metrics: the request-level measures of the whole chain below it, as CoreDNS's prometheus
// plugin keeps them: how long each query took (a histogram by transport and verdict) and the
// responses by rcode. The other plugins register their own in their own metrics.ts.
import type { Logger } from 'pino';
import type { Plugin, Request, Response, Stage } from '../types';
import { DURATION_BUCKETS, type Metrics } from '../../metrics/registry';
import { rcodeName } from '../../dns/constants';

export class MetricsPlugin implements Plugin {
  readonly name = 'metrics';
  /** responses by rcode (index 0…15, RFC 1035 header rcode) */
  readonly responses = new Float64Array(16);

  setup(_log: Logger, metrics?: Metrics): Stage {
    if (!metrics) return {};
    const responses = this.responses;
    metrics.counterFrom('dnswall_dns_responses_total', 'Responses sent by the chain, by rcode', ['rcode'], (set) => {
      responses.forEach((v, i) => {
        if (v > 0) set({ rcode: rcodeName(i) }, v);
      });
    });
    const duration = metrics.histogram(
      'dnswall_dns_request_duration_seconds',
      "Time from a query's arrival to its response, by transport and policy verdict (none: not decided, e.g. a malformed question)",
      ['transport', 'verdict'],
      DURATION_BUCKETS,
    );
    // the series of each transport × verdict, resolved once
    const verdicts = (transport: Request['transport']) => ({
      allow: duration.child({ transport, verdict: 'allow' }),
      deny: duration.child({ transport, verdict: 'deny' }),
      unmanaged: duration.child({ transport, verdict: 'unmanaged' }),
      none: duration.child({ transport, verdict: 'none' }),
    });
    const udp = verdicts('udp');
    const tcp = verdicts('tcp');
    const up = (req: Request, res: Response): Response => {
      responses[res.rcode & 0xf]++;
      const by = req.transport === 'udp' ? udp : tcp;
      by[req.decision?.verdict ?? 'none'].observe(Number(process.hrtime.bigint() - req.received) / 1e9);
      return res;
    };
    return { up };
  }
}
