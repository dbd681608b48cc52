// nftset's metrics: answers held for the kernel by outcome, elements committed, and how long an
// answer waited for its commit (a histogram).
import type { LeanHistogram } from '../../metrics/histogram';
import { COMMIT_BUCKETS, type Metrics } from '../../metrics/registry';
import type { NftsetStats } from './nftset';

/** Registers the counters; returns the hold-time histogram (seconds) the handler observes. */
export function registerNftsetMetrics(m: Metrics, stats: NftsetStats): LeanHistogram {
  m.counterFrom('dnswall_nftset_answers_total', 'Allowed answers held for the kernel, by outcome (committed, failed, timeout)', ['outcome'], (set) => {
    set({ outcome: 'committed' }, stats.programmedAnswers);
    set({ outcome: 'failed' }, stats.failures);
    set({ outcome: 'timeout' }, stats.timeouts);
  });
  m.counterFrom('dnswall_nftset_elements_total', 'Set elements committed for answers', [], (set) => set({}, stats.elements));
  return m.histogram('dnswall_nftset_hold_duration_seconds', 'Time an allowed answer waited for the kernel to commit its addresses', [], COMMIT_BUCKETS);
}
