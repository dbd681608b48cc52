// Running dnsperf inside a pod namespace and reading its report: saturation numbers from the
// "Statistics" block; latency percentiles from -v, which prints one line per response.
import type { Topology } from '../lib/sandbox/topology';
import type { NameFiles } from './names';

export interface DnsperfRun {
  server: string;
  file: string;
  durationS: number;
  clients: number;
  /** -q: queries outstanding */
  outstanding: number;
  timeoutS: number;
  /** -Q: fixed rate; with it, -v per-query latencies are collected */
  qps?: number;
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  avgLatencyMs: number;
  rcodes: Record<string, number>;
  /** only with a fixed rate (-v) */
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  maxMs?: number;
}

function num(out: string, re: RegExp, what: string): number {
  const m = re.exec(out);
  if (!m) throw new Error(`dnsperf: no "${what}" in its output: ${out.slice(-800)}`);
  return Number(m[1]);
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

/** Parses dnsperf 2.10's stdout (the Statistics block, plus "> RCODE name type secs" lines). */
export function parseDnsperf(out: string, verbose: boolean): DnsperfResult {
  const r: DnsperfResult = {
    sent: num(out, /Queries sent:\s+(\d+)/, 'Queries sent'),
    completed: num(out, /Queries completed:\s+(\d+)/, 'Queries completed'),
    lost: num(out, /Queries lost:\s+(\d+)/, 'Queries lost'),
    qps: num(out, /Queries per second:\s+([\d.]+)/, 'Queries per second'),
    avgLatencyMs: num(out, /Average Latency \(s\):\s+([\d.]+)/, 'Average Latency') * 1000,
    rcodes: {},
  };
  const rc = /Response codes:\s+(.*)/.exec(out);
  if (rc) for (const m of rc[1].matchAll(/([A-Z]+) (\d+)/g)) r.rcodes[m[1]] = Number(m[2]);
  if (verbose) {
    const lat: number[] = [];
    for (const m of out.matchAll(/^> [A-Z]+ \S+ \S+ ([\d.]+)$/gm)) lat.push(Number(m[1]) * 1000);
    lat.sort((a, b) => a - b);
    Object.assign(r, { p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), p999Ms: percentile(lat, 0.999), maxMs: lat[lat.length - 1] });
  }
  return r;
}

export async function runDnsperf(topo: Topology, ns: string, o: DnsperfRun): Promise<DnsperfResult> {
  const argv = ['dnsperf', '-s', o.server, '-p', '53', '-d', o.file, '-l', String(o.durationS), '-c', String(o.clients), '-q', String(o.outstanding), '-t', String(o.timeoutS)];
  if (o.qps) argv.push('-Q', String(o.qps), '-v');
  const r = await topo.exec(ns, argv, { timeoutMs: (o.durationS + o.timeoutS + 20) * 1000 });
  if (r.code !== 0) throw new Error(`dnsperf exited ${r.code}: ${(r.stderr || r.stdout).slice(-800)}`);
  return parseDnsperf(r.stdout, !!o.qps);
}

/**
 * The warm-up before every measured run (run.ts, and tail.ts/diag.ts like it), the same for
 * every target: 1 s of the hot names (a warm process; for hot, elements already present), then
 * 1 s of the warm-up names (names.ts WARM_NAMES: new to the target, in no measured file), so the
 * insert path is warm too. `newNames: false` skips the second part (tail.ts TAIL_NO_WARM_NEW).
 */
export async function warmUp(
  topo: Topology,
  ns: string,
  server: string,
  files: Pick<NameFiles, 'hot' | 'warm'>,
  o: { clients: number; qps: number; newNames?: boolean },
): Promise<void> {
  for (const file of o.newNames === false ? [files.hot] : [files.hot, files.warm])
    await runDnsperf(topo, ns, { server, file, durationS: 1, clients: o.clients, outstanding: 20, timeoutS: 2, qps: o.qps });
}
