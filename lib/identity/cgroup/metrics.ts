// The cgroup identity's metrics: sock_diag lookups of local senders by outcome, and their time.
import { COMMIT_BUCKETS, type Metrics } from '../../metrics/registry';
import type { SockDiag } from './sockdiag';

export function registerCgroupMetrics(m: Metrics, identity: { readonly diag: Pick<SockDiag, 'stats' | 'observe'> }): void {
  const diag = identity.diag;
  m.counterFrom(
    'dnswall_cgroup_lookups_total',
    "sock_diag lookups of a local sender's cgroup, by outcome (found; failed: no socket, another socket, no cgroup id, timeout)",
    ['outcome'],
    (set) => {
      set({ outcome: 'found' }, diag.stats.found);
      set({ outcome: 'failed' }, diag.stats.failed);
    },
  );
  // 50 µs … 1.6 s, doubling: a lookup is one netlink round trip
  const seconds = m.histogram('dnswall_cgroup_lookup_duration_seconds', "Time of a sock_diag lookup of a local sender's cgroup", [], COMMIT_BUCKETS);
  diag.observe = (s) => seconds.observe(s);
}
