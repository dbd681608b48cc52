// The flood stress run: one pod sends ≥ 1,000,000 hostile packets (flood-main.ts:
// mutated, truncated, random, QR=1, oversized datagrams, plus garbage TCP connections) at the
// resolver on the node while the other pod asks a valid name every 0.2 s. Per target: the other
// pod's success rate and latency during the flood, the flooder's first answer after it stops,
// the resolver's peak RSS, kernel counters, and (dnswall, --profile) the CPU profile's top.
// Not part of the unit suite; run it under the shared lock:
//
//   flock /work/notes/bench.lock node dist/bench/flood.js [--targets dnswall,dnsmasq]
//        [--packets 1000000] [--seconds 20] [--senders 2] [--tcp 400] [--seed 1] [--rate 2000] [--profile]
// (--rate: dnswall's limits.sourceQueriesPerSecond; 0 = off)
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTopology, ADDR, type Topology } from '../lib/sandbox/topology';
import { onExitCleanup, removeStaleTopologies } from '../lib/sandbox/cleanup';
import { startDnsmasq } from '../lib/sandbox/dnsmasq-peer';
import { Agent } from '../lib/sandbox/agent';
import { startTarget, rssMiB, type TargetName } from './targets';
import { topSelfTime, formatProfile } from './profile';
import { percentile } from './dnsperf';
import { flood } from '../lib/sandbox/flood';

const RESULTS_DIR = path.join(__dirname, '..', '..', 'bench', 'results');
const NAME = 'ok.example.bench';
const ANSWER = '198.18.0.10';
const PROBE_EVERY_MS = 200;
const PROBE_TIMEOUT_MS = 2000;

interface Options {
  targets: TargetName[];
  packets: number;
  seconds: number;
  senders: number;
  tcp: number;
  seed: number;
  rate: number;
  profile: boolean;
}

function parse(argv: string[]): Options {
  const get = (k: string, d: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 && argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[i + 1] : d;
  };
  const int = (k: string, d: number, lo: number, hi: number) => {
    const v = Number(get(k, String(d)));
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`--${k} must be an integer in ${lo}..${hi}`);
    return v;
  };
  const targets = get('targets', 'dnswall,dnsmasq').split(',') as TargetName[];
  for (const t of targets) if (t !== 'dnswall' && t !== 'dnsmasq') throw new Error(`--targets: "${t}" is not dnswall or dnsmasq`);
  return {
    targets,
    packets: int('packets', 1_000_000, 1000, 10_000_000),
    seconds: int('seconds', 20, 1, 120),
    senders: int('senders', 2, 1, 4),
    tcp: int('tcp', 400, 0, 5000),
    seed: int('seed', 1, 0, 2 ** 31 - 1),
    rate: int('rate', 2000, 0, 1_000_000),
    profile: argv.includes('--profile'),
  };
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  at: number;
  ok: boolean;
  ms: number;
  error?: string;
}

/** Every PROBE_EVERY_MS a lookup from `agent`, not waiting for the previous one; stop() ends it. */
function prober(agent: Agent, t0: number) {
  const probes: Probe[] = [];
  const inflight: Promise<void>[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const at = performance.now() - t0;
      inflight.push(
        agent.dns({ server: ADDR.nodePod1.v4, name: NAME, timeoutMs: PROBE_TIMEOUT_MS }).then((r) => {
          const ok = r.ok && r.rcode === 'NOERROR' && r.answers.some((a) => a.data === ANSWER);
          probes.push({ at, ok, ms: r.ms, ...(ok ? {} : { error: r.ok ? r.rcode : r.error }) });
        }),
      );
      await sleep(PROBE_EVERY_MS);
    }
  })();
  return {
    probes,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(inflight);
    },
  };
}

function summarizeProbes(ps: Probe[]) {
  const ms = ps.map((p) => (p.ok ? p.ms : PROBE_TIMEOUT_MS)).sort((a, b) => a - b);
  return { asked: ps.length, answered: ps.filter((p) => p.ok).length, p50Ms: percentile(ms, 0.5), p99Ms: percentile(ms, 0.99), maxMs: ms[ms.length - 1] ?? NaN };
}

async function counters(topo: Topology): Promise<Record<string, { packets: number; bytes: number }>> {
  const r = await topo.exec(topo.ns.node, ['nft', '-j', 'list', 'counters', 'table', 'inet', 'dnswall']);
  if (r.code !== 0) return {};
  const out: Record<string, { packets: number; bytes: number }> = {};
  for (const o of (JSON.parse(r.stdout) as { nftables: { counter?: { name: string; packets: number; bytes: number } }[] }).nftables) {
    if (o.counter) out[o.counter.name] = { packets: o.counter.packets, bytes: o.counter.bytes };
  }
  return out;
}

async function runTarget(topo: Topology, target: TargetName, o: Options, profDir: string) {
  const started = Date.now();
  const t = await startTarget(topo, target, {
    sourceQueriesPerSecond: o.rate,
    ...(target === 'dnswall' && o.profile ? { dnswallNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}),
  });
  const [pod1, pod2] = await Promise.all([Agent.start(topo, topo.ns.pod1), Agent.start(topo, topo.ns.pod2)]);
  try {
    for (const a of [pod1, pod2]) {
      const r = await a.dns({ server: ADDR.nodePod1.v4, name: NAME, timeoutMs: 3000 });
      if (!r.ok || r.rcode !== 'NOERROR') throw new Error(`${target}: warm-up lookup from ${a.ns} failed: ${JSON.stringify(r)}`);
    }
    const rss0 = t.pid ? rssMiB(t.pid) : null;
    let peak = rss0?.rss ?? 0;
    const sampler = setInterval(() => {
      const m = t.pid ? rssMiB(t.pid) : null;
      if (m && m.rss > peak) peak = m.rss;
    }, 100);
    const t0 = performance.now();
    const other = prober(pod2, t0);
    await sleep(1000); // a second of normal service first
    const floodStart = performance.now() - t0;
    const per = Math.ceil(o.packets / o.senders);
    const sent = await Promise.all(
      Array.from({ length: o.senders }, (_, k) =>
        flood(topo, topo.ns.pod1, {
          server: ADDR.nodePod1.v4,
          packets: per,
          seconds: o.seconds,
          seed: o.seed + k,
          tcp: k === 0 ? o.tcp : 0,
        }),
      ),
    );
    const floodEnd = performance.now() - t0;
    // the flooding pod asks normally again: how soon is it answered?
    let flooderBackMs = NaN;
    for (let i = 0; i < 50; i++) {
      const at = performance.now() - t0;
      const r = await pod1.dns({ server: ADDR.nodePod1.v4, name: NAME, timeoutMs: 500 });
      if (r.ok && r.rcode === 'NOERROR') {
        flooderBackMs = at + r.ms - floodEnd;
        break;
      }
    }
    await sleep(1000);
    await other.stop();
    clearInterval(sampler);
    const end = t.pid ? rssMiB(t.pid) : null;
    const during = other.probes.filter((p) => p.at >= floodStart && p.at < floodEnd);
    const kernel = target === 'dnswall' ? await counters(topo) : {};
    const udpTotal = sent.reduce((a, s) => a + s.udp.total, 0);
    const res = {
      target,
      floodSeconds: (floodEnd - floodStart) / 1000,
      udpSent: udpTotal,
      udpRate: udpTotal / ((floodEnd - floodStart) / 1000),
      kinds: sent.map((s) => s.udp),
      tcp: sent[0].tcp,
      otherDuring: summarizeProbes(during),
      otherAll: summarizeProbes(other.probes),
      failures: during
        .filter((p) => !p.ok)
        .map((p) => `${(p.at / 1000).toFixed(1)}s ${p.error}`)
        .slice(0, 20),
      flooderBackMs,
      rssBeforeMiB: rss0?.rss,
      peakRssMiB: Math.max(peak, end?.rss ?? 0),
      hwmMiB: end?.hwm,
      kernel,
      profile: undefined as ReturnType<typeof topSelfTime> | undefined,
    };
    return { res, started };
  } finally {
    await Promise.allSettled([pod1.stop(), pod2.stop()]);
    await t.stop();
  }
}

function latestProfile(dir: string, since: number): string | undefined {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= since)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

function report(r: Awaited<ReturnType<typeof runTarget>>['res']): string {
  const d = r.otherDuring;
  const lines = [
    `${r.target}: ${r.udpSent} datagrams in ${r.floodSeconds.toFixed(1)} s (${Math.round(r.udpRate)}/s)${r.tcp ? `, tcp ${JSON.stringify(r.tcp)}` : ''}`,
    `  other pod during the flood: ${d.answered}/${d.asked} answered, p50 ${d.p50Ms.toFixed(1)} ms, p99 ${d.p99Ms.toFixed(1)} ms, max ${d.maxMs.toFixed(1)} ms`,
    `  flooding pod answered again ${r.flooderBackMs.toFixed(0)} ms after the flood ended`,
    `  RSS ${r.rssBeforeMiB?.toFixed(1)} MiB before, peak ${r.peakRssMiB.toFixed(1)} MiB (VmHWM ${r.hwmMiB?.toFixed(1)})`,
  ];
  if (Object.keys(r.kernel).length)
    lines.push(
      `  kernel counters: ${Object.entries(r.kernel)
        .map(([k, v]) => `${k}=${v.packets}`)
        .join(' ')}`,
    );
  if (r.failures.length) lines.push(`  failures: ${r.failures.join(', ')}`);
  if (r.profile) lines.push(formatProfile({ totalMs: r.profile.totalMs, top: r.profile.top.slice(0, 15) }).replace(/^/gm, '  '));
  return lines.join('\n');
}

async function main(): Promise<number> {
  const o = parse(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    log('flood: needs root (network namespaces)');
    return 2;
  }
  await removeStaleTopologies('dwflood');
  const topo = await createTopology({ prefix: 'dwflood' });
  const removeHook = onExitCleanup(topo);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-flood-'));
  const profDir = path.join(RESULTS_DIR, 'profile');
  mkdirSync(profDir, { recursive: true });
  try {
    for (const ns of [topo.ns.node, topo.ns.net]) await topo.exec(ns, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=5']);
    const hosts = path.join(dir, 'hosts');
    writeFileSync(hosts, `${ANSWER} ${NAME}\n`);
    const upstream = await startDnsmasq(topo, { ns: topo.ns.net, listen: ADDR.net.v4, hostsFile: hosts, localTtl: 300, cacheSize: 0 });
    const all = [];
    for (const target of o.targets) {
      log(
        `flood: ${target}: ${o.packets} datagrams from ${o.senders} sender(s) in pod1 (≤ ${o.seconds} s) + ${o.tcp} garbage TCP connections; pod2 asks ${NAME} every ${PROBE_EVERY_MS} ms`,
      );
      const { res, started } = await runTarget(topo, target, o, profDir);
      if (target === 'dnswall' && o.profile) {
        const f = latestProfile(profDir, started);
        if (f) res.profile = topSelfTime(f, 25);
      }
      log(report(res));
      all.push(res);
    }
    await upstream.stop();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = path.join(RESULTS_DIR, `flood-${stamp}.json`);
    writeFileSync(file, JSON.stringify({ when: new Date().toISOString(), options: o, cpus: os.cpus().length, load: os.loadavg(), results: all }, null, 2) + '\n');
    log(`results: ${file}`);
    return 0;
  } finally {
    await topo.destroy();
    removeHook();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (c) => process.exit(c),
  (e: Error) => {
    log(`flood: ${e.stack ?? e.message}`);
    process.exit(2);
  },
);
