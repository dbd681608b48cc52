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

/** A ratio of two targets: median over rounds of the per-round ratio, and its min and max. */
export interface Ratio {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

export interface Summary {
  qps: Record<Exclude<Workload, 'latency'>, Partial<Record<TargetName, number>>>;
  /** per-round ratios `${target}/${peer}` of qps (hot, unique, mixed) and latency (p50, p99) */
  ratios: Record<string, Record<string, Ratio>>;
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
  const s: Summary = { qps: { hot: {}, unique: {}, mixed: {} }, ratios: {}, p50Ms: {}, p99Ms: {}, lost: {}, rssMiB: {}, checks: [] };
  // Ratios round by round (the runs of one round are back to back), so a ratio that holds only
  // on a good round shows as a wide min–max.
  const rounds = [...new Set(runs.map((r) => r.round))];
  const metric = (w: Workload, m: 'qps' | 'p50' | 'p99') => (r: RunRecord) => (m === 'qps' ? r.result.qps : m === 'p50' ? r.result.p50Ms : r.result.p99Ms) ?? NaN;
  for (const a of ['dnswall', 'dnswall-cache'] as const) {
    for (const b of TARGETS) {
      if (a === b) continue;
      const rows: Record<string, Ratio> = {};
      for (const [label, w, m] of [
        ['hot qps', 'hot', 'qps'],
        ['unique qps', 'unique', 'qps'],
        ['mixed qps', 'mixed', 'qps'],
        ['p50', 'latency', 'p50'],
        ['p99', 'latency', 'p99'],
      ] as const) {
        const xs: number[] = [];
        for (const round of rounds) {
          const ra = runs.find((r) => r.round === round && r.workload === w && r.target === a);
          const rb = runs.find((r) => r.round === round && r.workload === w && r.target === b);
          if (ra && rb) xs.push(metric(w, m)(ra) / metric(w, m)(rb));
        }
        const ok = xs.filter(Number.isFinite);
        if (ok.length) rows[label] = { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), rounds: ok.length };
      }
      if (Object.keys(rows).length) s.ratios[`${a}/${b}`] = rows;
    }
  }
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
  // The speed targets, for dnswall (cache off, like the peers) and dnswall-cache (the defaults).
  for (const t of ['dnswall', 'dnswall-cache'] as const) {
    if (!s.lost[t]) continue;
    const hot = ratio(q.hot[t], q.hot.dnsmasq);
    const hotGoal = t === 'dnswall' ? 1.0 : 1.5;
    check(`hot qps ${t} / dnsmasq`, hot, `>= ${hotGoal}`, hot >= hotGoal);
    const u1 = ratio(q.unique[t], q.unique.dnsmasq);
    check(`unique qps ${t} / dnsmasq`, u1, '>= 0.8', u1 >= 0.8);
    const u2 = ratio(q.unique[t], q.unique['dnsmasq-nftset']);
    check(`unique qps ${t} / dnsmasq-nftset`, u2, '>= 2.5', u2 >= 2.5);
    const p50 = (s.p50Ms[t] ?? NaN) - (s.p50Ms['dnsmasq-nftset'] ?? NaN);
    check(`p50 at 2000 qps: ${t} - dnsmasq-nftset (ms)`, p50, '<= 0', p50 <= 0);
    const p99 = (s.p99Ms[t] ?? NaN) - (s.p99Ms.dnsmasq ?? NaN);
    check(`p99 at 2000 qps: ${t} - dnsmasq (ms)`, p99, '<= 0.5', p99 <= 0.5);
    const rss = s.rssMiB[t] ?? NaN;
    const rssGoal = t === 'dnswall' ? 100 : 150;
    check(`peak RSS ${t} (MiB)`, rss, `<= ${rssGoal}`, rss <= rssGoal);
    const lost = s.lost[t]?.latency ?? NaN;
    check(`lost at 2000 qps, ${t}`, lost, '== 0', lost === 0);
  }
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
  lines.push('', 'ratios, per round (median [min–max] over rounds):');
  const peersOf = (a: string) => Object.keys(s.ratios).filter((k) => k.startsWith(a + '/'));
  for (const a of ['dnswall', 'dnswall-cache']) {
    for (const k of peersOf(a)) {
      const r = s.ratios[k];
      const cell = (x?: Ratio) => (x ? `${fmt(x.median, 2)} [${fmt(x.min, 2)}–${fmt(x.max, 2)}]` : '-');
      lines.push(`  ${k.padEnd(30)} hot ${cell(r['hot qps'])}  unique ${cell(r['unique qps'])}  mixed ${cell(r['mixed qps'])}  p50 ${cell(r.p50)}  p99 ${cell(r.p99)}`);
    }
  }
  lines.push('', 'targets:');
  for (const c of s.checks) lines.push(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.what} = ${fmt(c.value, 2)} (goal ${c.goal})`);
  return lines.join('\n');
}
