// Turning the runs into one table (stdout) and one JSON document (bench/results/).
import type { DnsperfResult } from './dnsperf';
import { ALL_TARGETS, type TargetName } from './targets';

export type Workload = 'hot' | 'unique' | 'mixed' | 'latency';
export const WORKLOADS: Workload[] = ['hot', 'unique', 'mixed', 'latency'];

export interface RunRecord {
  round: number;
  workload: Workload;
  target: TargetName;
  result: DnsperfResult;
  /** forwarder's VmRSS / VmHWM in MiB at the end of the run */
  rssMiB?: number;
  hwmMiB?: number;
  /** sampled answered addresses found in the target's set after the run (dnsmasq-nftset: set4, dnswall: allow4) */
  probe?: { checked: number; found: number; missing: string[] };
  /** ms to start the target */
  startMs: number;
}

export interface Summary {
  qps: Record<Exclude<Workload, 'latency'>, Partial<Record<TargetName, number>>>;
  p50Ms: Partial<Record<TargetName, number>>;
  p99Ms: Partial<Record<TargetName, number>>;
  lost: Partial<Record<TargetName, { saturation: number; latency: number; sent: number }>>;
  rssMiB: Partial<Record<TargetName, number>>;
  checks: { what: string; value: number; goal: string; pass: boolean }[];
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(runs: RunRecord[]): Summary {
  const TARGETS = ALL_TARGETS;
  const pick = (w: Workload, t: TargetName) => runs.filter((r) => r.workload === w && r.target === t);
  const s: Summary = { qps: { hot: {}, unique: {}, mixed: {} }, p50Ms: {}, p99Ms: {}, lost: {}, rssMiB: {}, checks: [] };
  for (const t of TARGETS) {
    for (const w of ['hot', 'unique', 'mixed'] as const) {
      const rs = pick(w, t);
      if (rs.length) s.qps[w][t] = median(rs.map((r) => r.result.qps));
    }
    const lat = pick('latency', t);
    if (lat.length) {
      s.p50Ms[t] = median(lat.map((r) => r.result.p50Ms ?? NaN));
      s.p99Ms[t] = median(lat.map((r) => r.result.p99Ms ?? NaN));
    }
    const all = runs.filter((r) => r.target === t);
    if (all.length) {
      s.lost[t] = {
        saturation: all.filter((r) => r.workload !== 'latency').reduce((a, r) => a + r.result.lost, 0),
        latency: lat.reduce((a, r) => a + r.result.lost, 0),
        sent: all.reduce((a, r) => a + r.result.sent, 0),
      };
      const rss = all.map((r) => r.hwmMiB ?? NaN).filter(Number.isFinite);
      if (rss.length) s.rssMiB[t] = Math.max(...rss);
    }
  }
  const q = s.qps;
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : NaN);
  const check = (what: string, value: number, goal: string, pass: boolean) => s.checks.push({ what, value, goal, pass: Number.isFinite(value) && pass });
  const u = ratio(q.unique.dnswall, q.unique['dnsmasq-nftset']);
  check('unique qps dnswall / dnsmasq-nftset', u, '>= 5', u >= 5);
  const h1 = ratio(q.hot.dnswall, q.hot['dnsmasq-nftset']);
  check('hot qps dnswall / dnsmasq-nftset', h1, '>= 1.5', h1 >= 1.5);
  const h2 = ratio(q.hot.dnswall, q.hot.dnsmasq);
  check('hot qps dnswall / dnsmasq', h2, '>= 0.8', h2 >= 0.8);
  const dp = (s.p99Ms.dnswall ?? NaN) - (s.p99Ms.direct ?? NaN);
  check('p99 at 2000 qps: dnswall - direct (ms)', dp, '<= 1', dp <= 1);
  const lost = s.lost.dnswall?.latency ?? NaN;
  check('lost at 2000 qps, dnswall', lost, '== 0', lost === 0);
  return s;
}

const fmt = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

/** The table: one column per target, then dnswall / each peer. */
export function formatTable(s: Summary): string {
  const TARGETS = ALL_TARGETS.filter((t) => s.lost[t] !== undefined);
  const peers = TARGETS.filter((t) => t !== 'dnswall');
  const head = ['', ...TARGETS, ...peers.map((p) => `dw/${p}`)];
  const rows: string[][] = [head];
  const row = (label: string, vals: Partial<Record<TargetName, number>>, d: number) =>
    rows.push([label, ...TARGETS.map((t) => fmt(vals[t], d)), ...peers.map((p) => fmt((vals.dnswall ?? NaN) / (vals[p] ?? NaN), 2))]);
  row('hot qps', s.qps.hot, 0);
  row('unique qps', s.qps.unique, 0);
  row('mixed qps', s.qps.mixed, 0);
  row('p50 ms @2000qps', s.p50Ms, 3);
  row('p99 ms @2000qps', s.p99Ms, 3);
  const lostSat = Object.fromEntries(TARGETS.map((t) => [t, s.lost[t]?.saturation]));
  const lostLat = Object.fromEntries(TARGETS.map((t) => [t, s.lost[t]?.latency]));
  rows.push(['lost (saturation)', ...TARGETS.map((t) => fmt(lostSat[t])), ...peers.map(() => '')]);
  rows.push(['lost @2000qps', ...TARGETS.map((t) => fmt(lostLat[t])), ...peers.map(() => '')]);
  rows.push(['peak RSS MiB', ...TARGETS.map((t) => fmt(s.rssMiB[t], 1)), ...peers.map(() => '')]);
  const w = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
  lines.splice(1, 0, w.map((n) => '-'.repeat(n)).join('  '));
  lines.push('', 'targets:');
  for (const c of s.checks) lines.push(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.what} = ${fmt(c.value, 2)} (goal ${c.goal})`);
  return lines.join('\n');
}
