// The kernel programmer's metrics: commit duration (a histogram, from the programmer's onBatch
// hook), failed batches, live elements beside their caps, evictions by cap.
import { COMMIT_BUCKETS, type Metrics } from '../metrics/registry';
import type { BatchInfo, SetProgrammer } from './programmer';

export type ProgrammerView = Pick<SetProgrammer, 'stats' | 'limits' | 'sizes'>;

/** Registers the metrics; returns the onBatch hook to hand to the programmer. */
export function registerProgrammerMetrics(m: Metrics, programmer: () => ProgrammerView | undefined): (info: BatchInfo) => void {
  const commit = m.histogram(
    'dnswall_nft_commit_duration_seconds',
    'Time from sending a netlink batch to nf_tables until its commit (or failure) was acknowledged',
    [],
    COMMIT_BUCKETS,
  );
  m.counterFrom('dnswall_nft_batches_total', 'Netlink batches sent to nf_tables, by outcome', ['outcome'], (set) => {
    const s = programmer()?.stats;
    if (!s) return;
    set({ outcome: 'committed' }, s.batches - s.failedBatches);
    set({ outcome: 'failed' }, s.failedBatches);
  });
  m.counterFrom('dnswall_nft_commit_failures_total', 'Netlink batches nf_tables refused (every answer in them got SERVFAIL)', [], (set) => {
    const s = programmer()?.stats;
    if (s) set({}, s.failedBatches);
  });
  m.counterFrom(
    'dnswall_nft_skipped_total',
    'Elements of allowed answers not sent to nf_tables because the kernel already held them long enough (the change watch vouched for them)',
    [],
    (set) => {
      const s = programmer()?.stats;
      if (s) set({}, s.skipped);
    },
  );
  m.gaugeFrom('dnswall_nft_elements', 'Live allow-set elements dnswall keeps (all allow sets)', [], (set) => {
    const p = programmer();
    if (p) set({}, p.sizes().elements);
  });
  m.gaugeFrom(
    'dnswall_nft_elements_max',
    "The caps beside dnswall_nft_elements: limits.maxElements (total; also each allow set's kernel size), maxElementsPerSource, maxAddressesPerName (per source and name)",
    ['cap'],
    (set) => {
      const l = programmer()?.limits;
      if (!l) return;
      set({ cap: 'maxElements' }, l.maxElements);
      if (Number.isFinite(l.maxElementsPerSource)) set({ cap: 'maxElementsPerSource' }, l.maxElementsPerSource);
      if (Number.isFinite(l.maxAddressesPerName)) set({ cap: 'maxAddressesPerName' }, l.maxAddressesPerName);
    },
  );
  m.gaugeFrom('dnswall_nft_sources', 'Sources with live elements', [], (set) => {
    const p = programmer();
    if (p) set({}, p.sizes().sources);
  });
  m.counterFrom('dnswall_nft_evictions_total', 'Elements deleted before their time because a cap was reached, by cap', ['cap'], (set) => {
    const e = programmer()?.stats.evictions;
    if (!e) return;
    set({ cap: 'maxAddressesPerName' }, e.perName);
    set({ cap: 'maxElementsPerSource' }, e.perSource);
    set({ cap: 'maxElements' }, e.total);
  });
  return (info) => commit.observe(info.durationMs / 1000);
}
