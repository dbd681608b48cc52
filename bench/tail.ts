// Where does the latency tail at a fixed rate come from? (issue 13; not part of `npm run bench`.)
// dnsperf -Q RATE -v against each target on the mixed, hot-only and unique-only name files; the
// per-response latencies split by hot vs unique name, and the target's CPU time (all threads,
// and per thread), threads, context switches and page faults from /proc over the measured run.
//   node dist/bench/tail.js [--targets dnsmasq,dnswall,dnswall-audit] [--files mixed,hot,unique]
//                           [--duration 5] [--rounds 1] [--rate 2000]
// Targets: those of targets.ts, plus `dnswall-audit` (enforce.mode audit: no programmer at all)
// and `node-relay` (relay-main.ts: a bare node:dgram relay, the floor of any Node.js forwarder);
// `dnswall+--flag+--flag2` passes node flags to the daemon (e.g. `dnswall+--single-threaded-gc`).
// TAIL_NODE_ARGS="--flag ..." adds node flags to every dnswall target. TAIL_SLOW=1 prints every response over 1 ms (position in the run : h/u : ms).
// Each run is preceded by the bench's warm-up (hot names, then new ones; TAIL_NO_WARM_NEW=1: hot only).
// TAIL_NICE=-5 renices every thread of the dnswall targets after start (a scheduling experiment).
// Run it under the bench lock, like the bench.
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createTopology, ADDR } from '../lib/sandbox/topology';
import { onExitCleanup, removeStaleTopologies } from '../lib/sandbox/cleanup';
import { startDnsmasq } from '../lib/sandbox/dnsmasq-peer';
import { writeNameFiles } from './names';
import { runDnsperf, percentile, warmUp } from './dnsperf';
import { startTarget, dnswallConfig, type TargetName } from './targets';
import { startDaemon } from '../lib/sandbox/daemon-peer';
import { arg } from './args';

function stats(lat: number[]): string {
  const s = [...lat].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(3);
  const over1 = s.filter((x) => x > 1).length;
  return `n ${s.length} p50 ${f(percentile(s, 0.5))} p90 ${f(percentile(s, 0.9))} p99 ${f(percentile(s, 0.99))} p999 ${f(percentile(s, 0.999))} max ${f(s[s.length - 1] ?? NaN)} >1ms ${over1}`;
}

/** CPU ms per thread (tid:name). */
function threadCpu(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      m.set(`${t}:${name}`, (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      /* gone */
    }
  }
  return m;
}

/** CPU ms of the process (all threads), system part, threads, context switches summed over threads. */
function procStat(pid: number): {
  cpuMs: number;
  sysMs: number;
  threads: number;
  vol: number;
  invol: number;
  minflt: number;
  majflt: number;
  runNs: number;
  waitNs: number;
  slices: number;
} {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const tick = 100; // USER_HZ (CLK_TCK) on Linux
  const cpuMs = ((Number(f[11]) + Number(f[12])) * 1000) / tick;
  let vol = 0;
  let invol = 0;
  const tasks = readdirSync(`/proc/${pid}/task`);
  for (const t of tasks) {
    const s = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
    vol += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
    invol += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
  }
  // schedstat of the main thread (tid = pid): ns on the CPU, ns runnable but waiting for it, time slices
  const [runNs, waitNs, slices] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { cpuMs, sysMs: (Number(f[12]) * 1000) / tick, threads: tasks.length, vol, invol, minflt: Number(f[7]), majflt: Number(f[9]), runNs, waitNs, slices };
}

async function startAudit(topo: Awaited<ReturnType<typeof createTopology>>, flags: string[]) {
  await topo.exec(topo.ns.node, ['nft', 'delete', 'table', 'inet', 'dnswall']).catch(() => undefined);
  const d = await startDaemon(topo, dnswallConfig({}).replace('mode: enforce', 'mode: audit'), { logLevel: 'info', nodeArgs: flags });
  return { server: ADDR.nodePod1.v4, pid: d.proc.pid, stop: async () => void (await d.stop()) };
}

async function startRelay(topo: Awaited<ReturnType<typeof createTopology>>, flags: string[]) {
  const proc = topo.spawn(topo.ns.node, [process.execPath, ...flags, path.join(__dirname, 'relay-main.js'), ADDR.nodePod1.v4, ADDR.net.v4]);
  await new Promise((resolve, reject) => {
    proc.stdout?.once('data', resolve);
    proc.once('exit', (code) => reject(new Error(`node-relay exited (${code}) before it was ready`)));
  });
  return { server: ADDR.nodePod1.v4, pid: proc.pid, stop: () => Promise.resolve(void proc.kill()) };
}

async function main(): Promise<void> {
  const targets = arg('--targets', 'dnswall,dnswall-cache').split(',');
  const fileNames = arg('--files', 'mixed,hot,unique').split(',');
  const duration = Number(arg('--duration', '5'));
  const rounds = Number(arg('--rounds', '1'));
  const rate = Number(arg('--rate', '2000'));
  for (const [k, v] of [
    ['--duration', duration],
    ['--rounds', rounds],
    ['--rate', rate],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer`);
  }
  for (const f of fileNames) if (!['mixed', 'hot', 'unique'].includes(f)) throw new Error(`--files: unknown file "${f}" (mixed, hot, unique)`);
  await removeStaleTopologies('dwtail');
  const topo = await createTopology({ prefix: 'dwtail' });
  onExitCleanup(topo);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-tail-'));
  try {
    await topo.exec(topo.ns.node, ['sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=5', 'net.netfilter.nf_conntrack_udp_timeout_stream=5']).catch(() => undefined);
    await topo.exec(topo.ns.net, ['sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=5', 'net.netfilter.nf_conntrack_udp_timeout_stream=5']).catch(() => undefined);
    const files = await writeNameFiles(dir, 300_000);
    await startDnsmasq(topo, { ns: topo.ns.net, listen: ADDR.net.v4, hostsFile: files.hosts, localTtl: 300, cacheSize: 0 });
    await runDnsperf(topo, topo.ns.pod1, { server: ADDR.net.v4, file: files.mixed, durationS: 1, clients: 4, outstanding: 100, timeoutS: 2 });
    const nodeArgs = process.env.TAIL_NODE_ARGS ? process.env.TAIL_NODE_ARGS.split(' ') : [];
    for (let round = 1; round <= rounds; round++) {
      for (const fname of fileNames) {
        const file = fname === 'hot' ? files.hot : fname === 'unique' ? files.unique : files.mixed;
        for (const target of targets) {
          const [tname, ...extra] = target.split('+');
          const t =
            tname === 'node-relay'
              ? await startRelay(topo, [...nodeArgs, ...extra])
              : tname === 'dnswall-audit'
                ? await startAudit(topo, [...nodeArgs, ...extra])
                : await startTarget(topo, tname as TargetName, { dnswallNodeArgs: [...nodeArgs, ...extra] });
          try {
            if (process.env.TAIL_NICE && t.pid && tname.startsWith('dnswall'))
              for (const tid of readdirSync(`/proc/${t.pid}/task`)) spawnSync('renice', ['-n', process.env.TAIL_NICE, '-p', tid]);
            await warmUp(topo, topo.ns.pod1, t.server, files, { clients: 4, qps: rate, newNames: !process.env.TAIL_NO_WARM_NEW });
            const before = t.pid ? procStat(t.pid) : null;
            const tb = t.pid ? threadCpu(t.pid) : null;
            const argv = ['dnsperf', '-s', t.server, '-p', '53', '-d', file, '-l', String(duration), '-c', '4', '-q', '100', '-t', '2', '-Q', String(rate), '-v'];
            const r = await topo.exec(topo.ns.pod1, argv, { timeoutMs: (duration + 25) * 1000 });
            const after = t.pid ? procStat(t.pid) : null;
            if (tb && t.pid) {
              const ta = threadCpu(t.pid);
              process.stdout.write(`  threads: ${[...ta].map(([k, v]) => `${k.split(':')[1]} ${v - (tb.get(k) ?? 0)}`).join(', ')}\n`);
            }
            if (before && after)
              process.stdout.write(
                `round ${round} ${fname.padEnd(6)} ${target.padEnd(14)} cpu ${(after.cpuMs - before.cpuMs).toFixed(0)} ms (${(((after.cpuMs - before.cpuMs) / (duration * rate)) * 1000).toFixed(1)} us/query, sys ${(after.sysMs - before.sysMs).toFixed(0)} ms) threads ${after.threads} pid ${t.pid} ctxsw vol ${after.vol - before.vol} invol ${after.invol - before.invol} faults minor ${after.minflt - before.minflt} major ${after.majflt - before.majflt}\n` +
                  `  main thread: on CPU ${((after.runNs - before.runNs) / 1e6).toFixed(0)} ms, runnable but waiting ${((after.waitNs - before.waitNs) / 1e6).toFixed(0)} ms over ${after.slices - before.slices} slices (${((after.waitNs - before.waitNs) / 1e3 / Math.max(1, after.slices - before.slices)).toFixed(1)} us per slice)\n`,
              );
            const all: number[] = [];
            const hot: number[] = [];
            const uniq: number[] = [];
            const slow: string[] = [];
            let i = 0;
            for (const m of r.stdout.matchAll(/^> [A-Z]+ (\S+) \S+ ([\d.]+)$/gm)) {
              const ms = Number(m[2]) * 1000;
              all.push(ms);
              (m[1].startsWith('h') ? hot : uniq).push(ms);
              if (ms > 1) slow.push(`${((i / rate) * 1000).toFixed(0)}:${m[1][0]}:${ms.toFixed(1)}`);
              i++;
            }
            process.stdout.write(`round ${round} ${fname.padEnd(6)} ${target.padEnd(14)} all    ${stats(all)}\n`);
            if (hot.length && uniq.length) {
              process.stdout.write(`round ${round} ${fname.padEnd(6)} ${target.padEnd(14)} hot    ${stats(hot)}\n`);
              process.stdout.write(`round ${round} ${fname.padEnd(6)} ${target.padEnd(14)} unique ${stats(uniq)}\n`);
            }
            if (process.env.TAIL_SLOW) process.stdout.write(`  slow (ms-in-run:kind:latency): ${slow.join(' ')}\n`);
          } finally {
            await t.stop();
          }
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await topo.destroy();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`tail: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
