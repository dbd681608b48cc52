// cache's metrics, named as CoreDNS's cache plugin names them (coredns_cache_hits_total, …).
import type { Metrics } from '../../metrics/registry';
import type { AnswerCache } from './store';

export function registerCacheMetrics(m: Metrics, store: AnswerCache): void {
  const s = store.stats;
  m.counterFrom('dnswall_cache_hits_total', 'Allowed queries answered from the cache', [], (set) => set({}, s.hits));
  m.counterFrom('dnswall_cache_misses_total', 'Allowed queries not in the cache (expired entries included)', [], (set) => set({}, s.misses));
  m.counterFrom('dnswall_cache_inserts_total', 'Replies stored in the cache', [], (set) => set({}, s.inserts));
  m.counterFrom('dnswall_cache_evictions_total', 'Entries removed to stay within cache.maxEntries / cache.maxBytes', [], (set) => set({}, s.evictions));
  m.counterFrom('dnswall_cache_uncacheable_total', 'Replies not stored (truncated, SERVFAIL, negative without SOA, TTL 0, …)', [], (set) => set({}, s.uncacheable));
  m.counterFrom('dnswall_cache_not_admitted_total', 'First asks of a question within the doorkeeper window: not looked up, not stored (stored on its second miss)', [], (set) =>
    set({}, s.notAdmitted),
  );
  m.gaugeFrom('dnswall_cache_entries', 'Answers in the cache', [], (set) => set({}, store.size));
  m.gaugeFrom('dnswall_cache_size_bytes', 'Bytes of answers in the cache', [], (set) => set({}, store.bytes));
}
