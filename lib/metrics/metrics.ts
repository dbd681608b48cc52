// Prometheus metrics, pulled: every value is read from the counters the parts already keep
// (plugin, listener, upstream and programmer `stats`) at scrape time, so the request path pays
// nothing for them. Names follow namespace_subsystem_name (dnswall_policy_decisions_total).
import http from 'node:http';
import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client';
import type { Endpoint } from '../config/types';
import type { PolicyStats } from '../plugins/policy/policy';
import type { NftsetStats } from '../plugins/nftset/nftset';
import type { UpstreamStats } from '../upstream/stats';
import type { ListenerStats } from '../server/udp';
import type { CacheStats } from '../plugins/cache/store';
import type { FairnessStats } from '../fairness/budget';
import type { KernelFairness } from '../fairness/kernel';
import type { GuardStats } from '../plugins/guard/guard';
import type { SockDiagStats } from '../identity/cgroup/sockdiag';

/** What the daemon hands over; each getter may return undefined (e.g. no nftset in audit mode). */
export interface MetricsSources {
  listeners: () => { transport: 'udp' | 'tcp'; listen: string; stats: ListenerStats }[];
  policy: () => PolicyStats | undefined;
  nftset: () => NftsetStats | undefined;
  upstream: () => UpstreamStats | undefined;
  cache?: () => { stats: CacheStats; size: number; bytes: number } | undefined;
  guard?: () => GuardStats | undefined;
  /** sock_diag lookups of local senders' cgroups (absent without cgroup sources) */
  cgroup?: () => SockDiagStats | undefined;
  programmer: () => { batches: number; messages: number; elements: number; failedBatches: number } | undefined;
  /** reloads by result: applied, partial (some keys not in force), rejected (invalid file), failed */
  reloads?: () => Record<string, number>;
  /** the daemon's per-source budget (lib/fairness/budget.ts) */
  fairness?: () => { stats: FairnessStats; sources: number } | undefined;
  /** what the kernel meter dropped (lib/fairness/kernel.ts); undefined in audit mode */
  fairnessKernel?: () => Promise<KernelFairness | undefined>;
}

/** p-quantile of the filled part of a ring of samples. */
export function quantile(ring: Float64Array, filled: number, p: number): number {
  const n = Math.min(filled, ring.length);
  if (n === 0) return 0;
  const xs = Array.from(ring.subarray(0, n)).sort((a, b) => a - b);
  return xs[Math.min(n - 1, Math.floor(p * n))];
}

function counter(reg: Registry, name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, v: number) => void) => void): void {
  new Counter({
    name, help, labelNames, registers: [reg],
    collect() {
      this.reset();
      read((labels, v) => this.inc(labels, v));
    },
  });
}

function gauge(reg: Registry, name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers: [reg], collect() { this.set(read()); } });
}

export function createRegistry(src: MetricsSources): Registry {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg, prefix: 'dnswall_' });
  counter(reg, 'dnswall_requests_total', 'DNS messages received, by transport and listen address', ['transport', 'listen'], (set) => {
    for (const l of src.listeners()) set({ transport: l.transport, listen: l.listen }, l.stats.received);
  });
  counter(reg, 'dnswall_bad_requests_total', 'Messages dropped or answered FORMERR/NOTIMP without running the chain', ['transport', 'kind'], (set) => {
    for (const l of src.listeners()) {
      set({ transport: l.transport, kind: 'dropped' }, l.stats.dropped);
      set({ transport: l.transport, kind: 'formerr' }, l.stats.formerr);
      set({ transport: l.transport, kind: 'overloaded' }, l.stats.overloaded);
    }
  });
  counter(reg, 'dnswall_policy_decisions_total', 'Policy decisions by verdict (would_deny: audit mode)', ['verdict'], (set) => {
    const s = src.policy();
    if (!s) return;
    set({ verdict: 'allow' }, s.allowed);
    set({ verdict: 'deny' }, s.denied);
    set({ verdict: 'unmanaged' }, s.unmanaged);
    set({ verdict: 'would_deny' }, s.wouldDeny);
  });
  counter(reg, 'dnswall_nftset_answers_total', 'Allowed answers held for the kernel, by outcome', ['outcome'], (set) => {
    const s = src.nftset();
    if (!s) return;
    set({ outcome: 'committed' }, s.programmedAnswers);
    set({ outcome: 'failed' }, s.failures);
    set({ outcome: 'timeout' }, s.timeouts);
  });
  counter(reg, 'dnswall_nftset_elements_total', 'Set elements committed for answers', [], (set) => {
    const s = src.nftset();
    if (s) set({}, s.elements);
  });
  new Gauge({
    name: 'dnswall_nftset_hold_seconds', help: 'Time an answer waited for the kernel commit, over the last 4096 answers', labelNames: ['quantile'], registers: [reg],
    collect() {
      this.reset();
      const s = src.nftset();
      if (!s) return;
      for (const q of [0.5, 0.9, 0.99]) this.set({ quantile: String(q) }, quantile(s.held, s.heldCount, q) / 1e9);
    },
  });
  counter(reg, 'dnswall_nft_batches_total', 'Netlink batches sent to nf_tables, by outcome', ['outcome'], (set) => {
    const s = src.programmer();
    if (!s) return;
    set({ outcome: 'committed' }, s.batches - s.failedBatches);
    set({ outcome: 'failed' }, s.failedBatches);
  });
  counter(reg, 'dnswall_cache_events_total', 'Answer cache events (hits, misses, inserts, evictions, expired, uncacheable)', ['event'], (set) => {
    const c = src.cache?.();
    if (!c) return;
    for (const [k, v] of Object.entries(c.stats) as [string, number][]) set({ event: k }, v);
  });
  gauge(reg, 'dnswall_cache_entries', 'Answers in the cache', () => src.cache?.()?.size ?? 0);
  gauge(reg, 'dnswall_cache_bytes', 'Bytes of answers in the cache', () => src.cache?.()?.bytes ?? 0);
  counter(reg, 'dnswall_guard_addresses_total', 'Answer addresses in a guarded range, by policy and outcome (stripped, excepted by allowCIDRs, would_strip in audit mode)', ['policy', 'outcome'], (set) => {
    for (const [policy, s] of src.guard?.()?.byPolicy ?? []) {
      set({ policy, outcome: 'stripped' }, s.stripped);
      set({ policy, outcome: 'excepted' }, s.excepted);
      set({ policy, outcome: 'would_strip' }, s.wouldStrip);
    }
  });
  counter(reg, 'dnswall_guard_blocked_answers_total', 'Answers turned into SERVFAIL (EDE 15) because every address was guarded, by policy', ['policy'], (set) => {
    for (const [policy, s] of src.guard?.()?.byPolicy ?? []) set({ policy }, s.blocked);
  });
  counter(reg, 'dnswall_upstream_events_total', 'Upstream exchange events (sent, accepted, timeouts, failovers, dropped replies, …)', ['event'], (set) => {
    const s = src.upstream();
    if (!s) return;
    for (const [k, v] of Object.entries(s)) if (typeof v === 'number') set({ event: k }, v);
  });
  counter(reg, 'dnswall_reloads_total', 'Configuration reloads by result (applied, partial: some keys need a restart or failed, rejected: invalid file, failed)', ['result'], (set) => {
    for (const [k, v] of Object.entries(src.reloads?.() ?? {})) set({ result: k }, v);
  });
  fairnessMetrics(reg, src);
  counter(reg, 'dnswall_cgroup_lookups_total', 'sock_diag lookups of a local sender\'s cgroup, by outcome (found, failed: no socket, another socket, no cgroup id, timeout)', ['outcome'], (set) => {
    const c = src.cgroup?.();
    if (!c) return;
    set({ outcome: 'found' }, c.found);
    set({ outcome: 'failed' }, c.failed);
  });
  new Gauge({
    name: 'dnswall_cgroup_lookup_seconds', help: 'Time of a sock_diag cgroup lookup, over the last lookups', labelNames: ['quantile'], registers: [reg],
    collect() {
      this.reset();
      const c = src.cgroup?.();
      if (!c) return;
      for (const q of [0.5, 0.9, 0.99]) this.set({ quantile: String(q) }, quantile(c.latency, c.latencyCount, q) / 1e9);
    },
  });
  return reg;
}

/** limits.sourceQueriesPerSecond and the per-source shares: what the kernel and the daemon turned away. */
function fairnessMetrics(reg: Registry, src: MetricsSources): void {
  counter(reg, 'dnswall_fairness_rejected_total', 'Queries and connections the daemon turned away per source (rate_dropped: UDP over the rate, rate_paused: TCP reads paused, pending: over the share of maxPendingQueries, connections: over the share of tcpMaxConnections, bad_input_silenced: malformed UDP dropped instead of FORMERR over 100/s)', ['reason'], (set) => {
    const f = src.fairness?.();
    if (!f) return;
    set({ reason: 'rate_dropped' }, f.stats.rateDropped);
    set({ reason: 'rate_paused' }, f.stats.ratePaused);
    set({ reason: 'pending' }, f.stats.pendingRejected);
    set({ reason: 'connections' }, f.stats.connectionsRejected);
    set({ reason: 'bad_input_silenced' }, f.stats.badInputSilenced);
  });
  gauge(reg, 'dnswall_fairness_sources', 'Sources the daemon keeps per-source state for', () => src.fairness?.()?.sources ?? 0);
  new Counter({
    name: 'dnswall_fairness_kernel_dropped_total', help: 'Packets to the listen addresses dropped by the kernel meter (over limits.sourceQueriesPerSecond), by family', labelNames: ['family'], registers: [reg],
    async collect() {
      this.reset();
      const k = await src.fairnessKernel?.();
      if (!k) return;
      this.inc({ family: '4' }, k.dropped[4]);
      this.inc({ family: '6' }, k.dropped[6]);
    },
  });
  new Gauge({
    name: 'dnswall_fairness_kernel_top_source_dropped', help: 'Packets the kernel meter dropped for each of the 10 sources with the most drops (a source is forgotten 10 min after its last drop)', labelNames: ['source'], registers: [reg],
    async collect() {
      this.reset();
      const k = await src.fairnessKernel?.();
      for (const o of k?.top ?? []) this.set({ source: o.source }, o.packets);
    },
  });
}

/** GET /metrics on the endpoint; anything else 404. Resolves once listening. */
export async function serveMetrics(ep: Endpoint, reg: Registry): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    reg.metrics().then(
      (body) => res.writeHead(200, { 'content-type': reg.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ep.port, ep.host, () => { server.off('error', reject); resolve(); });
  });
  return server;
}
