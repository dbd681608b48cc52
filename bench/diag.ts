// Diagnostic (not part of npm run bench): saturation run against dnswall with metrics on, then
// the latency histograms (request, nftset hold, nft commit) as dnswall saw them.
// DIAG_RATE=2000: the measured run at that fixed rate instead of saturation.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTopology, ADDR } from '../lib/sandbox/topology';
import { onExitCleanup, removeStaleTopologies } from '../lib/sandbox/cleanup';
import { startDnsmasq } from '../lib/sandbox/dnsmasq-peer';
import { writeNameFiles } from './names';
import { runDnsperf, warmUp } from './dnsperf';
import { dnswallConfig } from './targets';
import { startDaemon } from '../lib/sandbox/daemon-peer';

async function main(): Promise<void> {
  const fname = process.argv[2] ?? 'unique';
  const cache = process.argv[3] === 'cache';
  await removeStaleTopologies('dwdiag');
  const topo = await createTopology({ prefix: 'dwdiag' });
  onExitCleanup(topo);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-diag-'));
  for (const ns of [topo.ns.node, topo.ns.net]) await topo.exec(ns, ['sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=5']).catch(() => undefined);
  const files = await writeNameFiles(dir, 300_000);
  await startDnsmasq(topo, { ns: topo.ns.net, listen: ADDR.net.v4, hostsFile: files.hosts, localTtl: 300, cacheSize: 0 });
  const yaml = dnswallConfig({ cache }) + 'metrics: "127.0.0.1:9553"\n';
  // DIAG_NODE_ARGS: node flags for the daemon (A/B of GC settings)
  const flags = (process.env.DIAG_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const d = await startDaemon(topo, yaml, { logLevel: 'info', nodeArgs: flags });
  const started = readFileSync(`/proc/${d.proc.pid}/status`, 'utf8');
  process.stdout.write(`at start: ${/VmRSS:.*/.exec(started)?.[0]}\n`);
  await warmUp(topo, topo.ns.pod1, ADDR.nodePod1.v4, files, { clients: 4, qps: 2000 });
  const file = fname === 'hot' ? files.hot : fname === 'unique' ? files.unique : files.mixed;
  const pid = d.proc.pid!;
  const cpu = () => {
    const th = readdirSync(`/proc/${pid}/task`).map((t) => {
      const f = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
      return [t, Number(f[11]) + Number(f[12])] as const;
    });
    return new Map(th);
  };
  const c0 = cpu();
  const w0 = performance.now();
  const r = await runDnsperf(topo, topo.ns.pod1, {
    server: ADDR.nodePod1.v4,
    file,
    durationS: Number(process.argv[4] ?? 6),
    clients: 4,
    outstanding: 100,
    timeoutS: 2,
    qps: Number(process.env.DIAG_RATE ?? 0) || undefined,
  });
  const c1 = cpu();
  const wall = (performance.now() - w0) / 1000;
  process.stdout.write(
    `qps ${r.qps.toFixed(0)}  main thread ${(((c1.get(String(pid))! - c0.get(String(pid))!) / 100 / wall) * 100).toFixed(0)}% of a CPU over ${wall.toFixed(1)} s; others ${[...c1]
      .filter(([t]) => t !== String(pid))
      .map(([t, v]) => v - (c0.get(t) ?? 0))
      .join(',')} ticks\n`,
  );
  const m = await topo.exec(topo.ns.node, ['curl', '-s', 'http://127.0.0.1:9553/metrics']);
  for (const l of m.stdout.split('\n')) if (/_(bucket|sum|count)/.test(l) && /request_duration|hold_duration|commit_duration|upstream/.test(l)) process.stdout.write(l + '\n');
  for (const l of m.stdout.split('\n')) if (/dnswall_nft_(batches|elements|messages)|batch/.test(l) && !l.startsWith('#')) process.stdout.write(l + '\n');
  for (const l of m.stdout.split('\n')) if (/^(nodejs_heap_size|nodejs_external|process_resident|dnswall_cache)/.test(l)) process.stdout.write(l + '\n');
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  process.stdout.write(`${/VmHWM:.*/.exec(st)?.[0]}  ${/VmRSS:.*/.exec(st)?.[0]}\n`);
  d.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
}
main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  },
);
