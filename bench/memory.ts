// What the daemon's resident memory is made of, phase by phase (issue 13; not part of `npm run
// bench`). The bench's topology and upstream, one dnswall target started as the bench starts it
// (its shipped node flags, then --node-args), and after each phase — idle, the bench's warm-up, a
// saturating hot run, a saturating unique run — its VmRSS, VmHWM and the anonymous and
// file-backed parts (/proc/PID/status, smaps_rollup). File-backed is mostly node's own binary.
//   node dist/bench/memory.js [--target dnswall|dnswall-cache] [--hot 5] [--unique 10]
//                             [--node-args "--heap-growing-percent=30 …"]
// Run it under the bench lock, like the bench.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTopology, ADDR } from '../lib/sandbox/topology';
import { onExitCleanup, removeStaleTopologies } from '../lib/sandbox/cleanup';
import { startDnsmasq } from '../lib/sandbox/dnsmasq-peer';
import { writeNameFiles } from './names';
import { runDnsperf, warmUp } from './dnsperf';
import { startTarget, statusMiB } from './targets';
import { arg } from './args';

function show(pid: number, phase: string): void {
  const s = statusMiB(pid, ['VmRSS', 'VmHWM', 'RssAnon', 'RssFile']);
  for (const [k, v] of Object.entries(s)) if (Number.isNaN(v)) throw new Error(`/proc/${pid}/status: no ${k}`);
  const f = (v: number) => v.toFixed(1).padStart(6);
  process.stdout.write(`${phase.padEnd(22)} VmRSS ${f(s.VmRSS)}  VmHWM ${f(s.VmHWM)}  anon ${f(s.RssAnon)}  file ${f(s.RssFile)} MiB\n`);
}

async function main(): Promise<void> {
  const target = arg('--target', 'dnswall');
  if (target !== 'dnswall' && target !== 'dnswall-cache') throw new Error(`--target: "${target}" is not dnswall or dnswall-cache`);
  const hotS = Number(arg('--hot', '5'));
  const uniqueS = Number(arg('--unique', '10'));
  for (const [k, v] of [
    ['--hot', hotS],
    ['--unique', uniqueS],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 120) throw new Error(`${k} must be an integer from 1 to 120 (seconds), got ${v}`);
  }
  const nodeArgs = arg('--node-args', '').split(' ').filter(Boolean);
  await removeStaleTopologies('dwmem');
  const topo = await createTopology({ prefix: 'dwmem' });
  onExitCleanup(topo);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-memory-'));
  try {
    const files = await writeNameFiles(dir, 300_000);
    await startDnsmasq(topo, { ns: topo.ns.net, listen: ADDR.net.v4, hostsFile: files.hosts, localTtl: 300, cacheSize: 0 });
    const t = await startTarget(topo, target, { dnswallNodeArgs: nodeArgs });
    try {
      const pid = t.pid!;
      await new Promise((r) => setTimeout(r, 1000));
      show(pid, 'idle');
      await warmUp(topo, topo.ns.pod1, t.server, files, { clients: 4, qps: 2000, newNames: true });
      show(pid, 'warm-up');
      for (const [name, file, seconds] of [
        ['hot', files.hot, hotS],
        ['unique', files.unique, uniqueS],
      ] as const) {
        const r = await runDnsperf(topo, topo.ns.pod1, { server: t.server, file, durationS: seconds, clients: 4, outstanding: 100, timeoutS: 2 });
        show(pid, `${name} ${Math.round(r.qps)} q/s`);
      }
    } finally {
      await t.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await topo.destroy();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`memory: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
