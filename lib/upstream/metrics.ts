// The upstream pool's metrics: tries and failures per upstream (as CoreDNS's forward plugin:
// coredns_forward_requests_total{to}), and the pool's own events.
import type { Metrics } from '../metrics/registry';
import type { UpstreamStats } from './stats';

export interface ServerStats {
  /** host:port as configured */
  readonly upstream: string;
  /** tries sent to this server (a failover or a TCP retry of the same exchange counts once per server) */
  requests: number;
  /** failed tries by reason: timeout, all_failed, bad_reply, servfail, refused, … (lowercased error code) */
  readonly failures: Map<string, number>;
  /** Date.now() of the last reply this server sent that was accepted (any rcode); 0 = never */
  lastReplyAt: number;
}

export function registerUpstreamMetrics(m: Metrics, pool: { readonly stats: UpstreamStats; readonly perServer: readonly ServerStats[] }): void {
  m.counterFrom('dnswall_upstream_requests_total', 'Tries sent to each upstream', ['upstream'], (set) => {
    for (const s of pool.perServer) set({ upstream: s.upstream }, s.requests);
  });
  m.counterFrom(
    'dnswall_upstream_failures_total',
    'Tries that failed or were answered SERVFAIL/REFUSED (then the next upstream is tried), by upstream and reason',
    ['upstream', 'reason'],
    (set) => {
      for (const s of pool.perServer) for (const [reason, v] of s.failures) set({ upstream: s.upstream, reason }, v);
    },
  );
  m.counterFrom('dnswall_upstream_events_total', 'Upstream pool events (exchanges, sent, accepted, timeouts, failovers, tcpRetries, dropped replies, …)', ['event'], (set) => {
    for (const [k, v] of Object.entries(pool.stats)) if (typeof v === 'number') set({ event: k }, v);
  });
}
