// The listeners' and the daemon's own metrics: messages received per listen address, those
// dropped before the chain, and reloads by result.
import type { Metrics } from '../metrics/registry';
import type { ListenerStats } from './udp';

export interface ListenerView {
  transport: 'udp' | 'tcp';
  listen: string;
  stats: ListenerStats;
}

export function registerServerMetrics(m: Metrics, listeners: () => readonly ListenerView[], reloads: Readonly<Record<string, number>>): void {
  m.counterFrom('dnswall_dns_requests_total', 'DNS messages received, by transport and listen address', ['transport', 'listen'], (set) => {
    for (const l of listeners()) set({ transport: l.transport, listen: l.listen }, l.stats.received);
  });
  m.counterFrom(
    'dnswall_dns_bad_requests_total',
    'Messages dropped or answered FORMERR/NOTIMP without running the chain, or refused while overloaded',
    ['transport', 'kind'],
    (set) => {
      for (const l of listeners()) {
        set({ transport: l.transport, kind: 'dropped' }, l.stats.dropped);
        set({ transport: l.transport, kind: 'formerr' }, l.stats.formerr);
        set({ transport: l.transport, kind: 'overloaded' }, l.stats.overloaded);
      }
    },
  );
  m.counterFrom(
    'dnswall_reloads_total',
    'Configuration reloads by result (applied, partial: some keys need a restart or failed, rejected: invalid file, failed)',
    ['result'],
    (set) => {
      for (const [k, v] of Object.entries(reloads)) set({ result: k }, v);
    },
  );
}
