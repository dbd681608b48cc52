// dnswall under one workload (unique by default) with node --cpu-prof (a node flag: it must come before the
// script, where startDaemon's extraArgs cannot go, and NODE_OPTIONS refuses it).
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Topology } from '../lib/sandbox/topology';
import { runDnsperf } from './dnsperf';
import { startTarget } from './targets';
import { topSelfTime, formatProfile, type SelfTime } from './profile';

export async function runProfile(
  topo: Topology,
  o: { duration: number; clients: number; outstanding: number; dnswallNodeArgs?: string[] },
  workload: string,
  target: 'dnswall' | 'dnswall-cache',
  file: string,
  dir: string,
): Promise<{ text: string; summary: { workload: string; target: string; file: string; qps: number; totalMs: number; top: SelfTime[] } }> {
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const t = await startTarget(topo, target, { dnswallNodeArgs: [...(o.dnswallNodeArgs ?? []), '--cpu-prof', `--cpu-prof-dir=${dir}`] });
  let qps: number;
  try {
    const r = await runDnsperf(topo, topo.ns.pod1, { server: t.server, file, durationS: o.duration, clients: o.clients, outstanding: o.outstanding, timeoutS: 2 });
    qps = r.qps;
  } finally {
    await t.stop(); // SIGTERM: the daemon exits normally, and node writes the profile then
  }
  const prof = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= started)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!prof) throw new Error(`no .cpuprofile written to ${dir} (did the daemon exit cleanly?)`);
  const s = topSelfTime(prof, 25);
  return {
    text: `${target} --cpu-prof under the ${workload} workload (${qps.toFixed(0)} qps with the profiler on): ${prof}\n${formatProfile(s)}`,
    summary: { workload, target, file: prof, qps, ...s },
  };
}
