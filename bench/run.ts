// npm run bench: dnswall against dnsmasq (plain and --nftset) and the upstream itself, in a
// throw-away namespace topology, with dnsperf in pod1. --scale: the SetProgrammer at 1M elements.
// Everything is bounded: each run by dnsperf -l and an exec timeout, the whole by a budget.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { createTopology, ADDR, type Topology } from '../lib/sandbox/topology';
import { onExitCleanup, removeStaleTopologies } from '../lib/sandbox/cleanup';
import { startDnsmasq } from '../lib/sandbox/dnsmasq-peer';
import { writeNameFiles, hotAddress, uniqueAddress, UNIQUE_SPACE, WARM_NAMES, type NameFiles } from './names';
import { runDnsperf, warmUp } from './dnsperf';
import { startTarget, rssMiB, TARGETS, ALL_TARGETS, type TargetName } from './targets';
import { summarize, formatTable, WORKLOADS, type RunRecord, type Workload } from './report';
import { runProfile } from './profile-run';
import { runScale } from './scale';

export interface BenchOptions {
  rounds: number;
  duration: number;
  clients: number;
  outstanding: number;
  rate: number;
  uniqueNames: number;
  budgetS: number;
  /** workload to profile dnswall under (--profile [workload]), or none */
  profile: Workload | null;
  /** which dnswall target --profile runs (dnswall: cache off, dnswall-cache: the defaults) */
  profileTarget: 'dnswall' | 'dnswall-cache';
  /** extra node flags for the dnswall targets (--dnswall-node-args "--max-semi-space-size=4") */
  dnswallNodeArgs: string[];
  /** --pin: the target under test on one CPU, everything else (load, upstream, this) on the other */
  pin: boolean;
  scale: boolean;
  scaleElements: number;
  targets: TargetName[];
  workloads: Workload[];
}

export const RESULTS_DIR = path.join(__dirname, '..', '..', 'bench', 'results');
const log = (s: string) => process.stderr.write(s + '\n');

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'the bench needs root (network namespaces, nftables)';
  for (const [cmd, arg] of [
    ['dnsperf', '-h'],
    ['dnsmasq', '--version'],
    ['nft', '--version'],
    ['ip', '-V'],
  ]) {
    const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
    if (r.error) return `the bench needs "${cmd}" (${r.error.message}); on Debian: apt-get install dnsperf dnsmasq nftables iproute2`;
  }
  return null;
}

function parseArgs(argv: string[]): BenchOptions {
  const c = new Command('bench')
    .option('--quick', 'about 2 minutes: 1 round of 4 s runs')
    .option('--rounds <n>', 'rounds over all targets (A B C D, A B C D, ...); ratios show min–max over rounds', '3')
    .option('--duration <s>', 'seconds per dnsperf run', '10')
    .option('--clients <n>', 'dnsperf -c', '4')
    .option('--outstanding <n>', 'dnsperf -q', '100')
    .option('--rate <qps>', 'fixed rate of the latency run', '2000')
    .option('--unique-names <n>', 'distinct names for the unique workload', '300000')
    .option('--budget <s>', 'stop starting new runs after this many seconds', '570')
    .option('--targets <list>', `comma-separated, of ${ALL_TARGETS.join(',')}`, TARGETS.join(','))
    .option('--workloads <list>', `comma-separated subset of ${WORKLOADS.join(',')}`, WORKLOADS.join(','))
    .option('--profile [workload]', 'also run dnswall under this workload (default unique) with node --cpu-prof')
    .option('--profile-target <target>', 'dnswall (cache off) or dnswall-cache (the defaults)', 'dnswall')
    .option('--dnswall-node-args <flags>', 'extra node flags for the dnswall targets (space-separated)', '')
    .option('--pin', 'the target under test alone on CPU 1, dnsperf, the upstream and the bench on CPU 0 (less variance; needs 2 CPUs)')
    .option('--scale', 'only the scale run: SetProgrammer with --scale-elements elements')
    .option('--scale-elements <n>', 'elements for --scale', '1000000')
    .parse(argv);
  const o = c.opts<{
    quick?: boolean;
    rounds: string;
    duration: string;
    clients: string;
    outstanding: string;
    rate: string;
    uniqueNames: string;
    budget: string;
    targets: string;
    workloads: string;
    profile?: string | true;
    profileTarget: string;
    dnswallNodeArgs: string;
    pin?: boolean;
    scale?: boolean;
    scaleElements: string;
  }>();
  const int = (v: string, what: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${what} must be an integer in ${min}..${max}, got "${v}"`);
    return n;
  };
  const list = <T extends string>(v: string, all: readonly T[], what: string): T[] => {
    const xs = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    for (const x of xs) if (!all.includes(x as T)) throw new Error(`--${what}: unknown "${x}" (one of ${all.join(', ')})`);
    return xs as T[];
  };
  return {
    // --quick sets defaults; an explicit --rounds / --duration still wins
    rounds: int(o.quick && c.getOptionValueSource('rounds') === 'default' ? '1' : o.rounds, 'rounds', 1, 20),
    duration: int(o.quick && c.getOptionValueSource('duration') === 'default' ? '4' : o.duration, 'duration', 1, 120),
    clients: int(o.clients, 'clients', 1, 64),
    outstanding: int(o.outstanding, 'outstanding', 1, 10000),
    rate: int(o.rate, 'rate', 1, 100000),
    uniqueNames: int(o.uniqueNames, 'unique-names', 1000, 2_000_000),
    budgetS: int(o.budget, 'budget', 10, 7200),
    profile: o.profile === undefined ? null : o.profile === true ? 'unique' : list(o.profile, WORKLOADS, 'profile')[0],
    profileTarget: list(o.profileTarget, ['dnswall', 'dnswall-cache'] as const, 'profile-target')[0],
    dnswallNodeArgs: o.dnswallNodeArgs.split(/\s+/).filter(Boolean),
    pin: o.pin === true,
    scale: !!o.scale,
    scaleElements: int(o.scaleElements, 'scale-elements', 1, 1 << 20),
    targets: list(o.targets, ALL_TARGETS, 'targets'),
    workloads: list(o.workloads, WORKLOADS, 'workloads'),
  };
}

/** dnsmasq uses a fresh source port per upstream query: 30 s of conntrack per port would fill
 * the (global) table at these rates, so our own node and net namespaces keep UDP flows 5 s. */
async function tuneConntrack(topo: Topology): Promise<void> {
  for (const ns of [topo.ns.node, topo.ns.net]) {
    const r = await topo.exec(ns, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=5', 'net.netfilter.nf_conntrack_udp_timeout_stream=5']);
    if (r.code !== 0) log(`warning: conntrack UDP timeout not set in ${ns}: ${r.stderr.trim()}`);
  }
}

/** Addresses that answered queries of this run must have put in the set: hot ones, and unique
 * ones well inside what completed (dnsperf reads its file in order; the tail may be lost). */
function sampleAddresses(w: Workload, completed: number): string[] {
  const SAMPLES = 40;
  const hot = Array.from({ length: 10 }, (_, i) => hotAddress(i * 10));
  // (below the warm-up names' addresses: those elements are there whatever the measured run did)
  const uniqueDone = Math.min(UNIQUE_SPACE - WARM_NAMES, Math.floor((w === 'unique' ? completed : completed / 10) * 0.9));
  const uniq = uniqueDone < SAMPLES ? [] : Array.from({ length: SAMPLES }, (_, i) => uniqueAddress(Math.floor((i * uniqueDone) / SAMPLES)));
  return w === 'hot' ? hot : w === 'unique' ? uniq : [...hot, ...uniq];
}

const fileFor = (f: NameFiles, w: Workload) => (w === 'hot' ? f.hot : w === 'unique' ? f.unique : f.mixed);

async function benchmark(topo: Topology, o: BenchOptions, files: NameFiles, t0: number): Promise<{ runs: RunRecord[]; skipped: number }> {
  const runs: RunRecord[] = [];
  let skipped = 0;
  for (let round = 1; round <= o.rounds; round++) {
    for (const workload of o.workloads) {
      // Each round starts one target later (round 1: A B C D, round 2: B C D A, …): what one run
      // leaves behind (the peers' conntrack entries — dnsmasq uses a new source port per upstream
      // query — expiring, the upstream's state) falls on a different target each round.
      const order = o.targets.map((_, i) => o.targets[(i + round - 1) % o.targets.length]);
      for (const target of order) {
        if ((performance.now() - t0) / 1000 + o.duration + 5 > o.budgetS) {
          skipped++;
          continue;
        }
        const s0 = performance.now();
        const t = await startTarget(topo, target, { dnswallNodeArgs: o.dnswallNodeArgs });
        if (o.pin && t.pid) pinTo(t.pid, PIN_TARGET_CPU);
        const startMs = performance.now() - s0;
        try {
          // Every target alike (dnsperf.ts warmUp): hot names, then names new to the target, so
          // the refresh and the insert path are warm — a fresh dnswall's first second of new
          // names ran at half speed (bench/tail.ts). The unique names are untouched by both:
          // their run still exercises inserts.
          await warmUp(topo, topo.ns.pod1, t.server, files, { clients: o.clients, qps: o.rate });
          const result = await runDnsperf(topo, topo.ns.pod1, {
            server: t.server,
            file: fileFor(files, workload),
            durationS: o.duration,
            clients: o.clients,
            outstanding: o.outstanding,
            timeoutS: 2,
            qps: workload === 'latency' ? o.rate : undefined,
          });
          const mem = t.pid ? rssMiB(t.pid) : null;
          const probe = t.probe
            ? await t.probe(sampleAddresses(workload, result.completed)).catch((e: Error) => {
                log(`warning: ${e.message}`);
                return undefined;
              })
            : undefined;
          runs.push({ round, workload, target, result, startMs, rssMiB: mem?.rss, hwmMiB: mem?.hwm, probe });
          const lat = result.p99Ms !== undefined ? ` p50 ${result.p50Ms!.toFixed(3)} p99 ${result.p99Ms.toFixed(3)} ms` : '';
          log(
            `round ${round} ${workload.padEnd(7)} ${target.padEnd(14)} ${result.qps.toFixed(0).padStart(7)} qps  lost ${result.lost}/${result.sent}${lat}${mem ? `  rss ${mem.rss.toFixed(1)} MiB` : ''}${probe ? `  in set ${probe.found}/${probe.checked}` : ''}`,
          );
        } finally {
          await t.stop();
        }
      }
    }
  }
  return { runs, skipped };
}

function writeResults(name: string, doc: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(RESULTS_DIR, `${name === 'bench' ? '' : name + '-'}${stamp}.json`);
  const json = JSON.stringify(doc, null, 2) + '\n';
  writeFileSync(file, json);
  writeFileSync(path.join(RESULTS_DIR, name === 'bench' ? 'latest.json' : `${name}-latest.json`), json);
  return file;
}

const PIN_REST_CPU = 0;
const PIN_TARGET_CPU = 1;

/** Every thread of pid onto one CPU (taskset -a: threads started later inherit it). */
function pinTo(pid: number, cpu: number): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`--pin: taskset of pid ${pid} to CPU ${cpu} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv);
  const why = missing();
  if (why) {
    log(`bench: ${why}`);
    return 2;
  }
  if (o.pin) pinTo(process.pid, PIN_REST_CPU); // before any spawn: every child starts there
  await removeStaleTopologies('dwbench');
  const t0 = performance.now();
  const topo = await createTopology({ prefix: 'dwbench' });
  const removeHook = onExitCleanup(topo);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-bench-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  try {
    if (o.scale) {
      const r = await runScale(topo, o.scaleElements);
      log(`results: ${writeResults('scale', { when: new Date().toISOString(), machine: machine(), ...r })}`);
      return 0;
    }
    await tuneConntrack(topo);
    const files = await writeNameFiles(dir, o.uniqueNames);
    const upstream = await startDnsmasq(topo, { ns: topo.ns.net, listen: ADDR.net.v4, hostsFile: files.hosts, localTtl: 300, cacheSize: 0 });
    log(
      `bench: topology ${topo.ns.node.replace(/-node$/, '')}, upstream dnsmasq with ${files.uniqueNames + 100 + WARM_NAMES} names ready after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    log(
      `bench: ${o.rounds} round(s) × ${o.workloads.length} workloads × ${o.targets.length} targets, ${o.duration} s each (dnsperf -c ${o.clients} -q ${o.outstanding} -t 2; latency -Q ${o.rate})`,
    );
    // warm-up: page in the upstream's hash tables and dnsperf itself
    await runDnsperf(topo, topo.ns.pod1, { server: ADDR.net.v4, file: files.mixed, durationS: 1, clients: o.clients, outstanding: o.outstanding, timeoutS: 2 });
    const { runs, skipped } = await benchmark(topo, o, files, t0);
    if (skipped) log(`bench: budget of ${o.budgetS} s reached: ${skipped} run(s) skipped`);
    const summary = summarize(runs);
    const profile = o.profile ? await runProfile(topo, o, o.profile, o.profileTarget, fileFor(files, o.profile), path.join(RESULTS_DIR, 'profile')) : undefined;
    process.stdout.write(formatTable(summary) + '\n');
    if (profile) process.stdout.write('\n' + profile.text + '\n');
    const file = writeResults('bench', {
      when: new Date().toISOString(),
      machine: machine(),
      options: o,
      seconds: (performance.now() - t0) / 1000,
      summary,
      runs,
      skipped,
      profile: profile?.summary,
      upstream: upstream.argv,
    });
    log(`results: ${file}`);
    await upstream.stop();
    return 0;
  } finally {
    await topo.destroy();
    removeHook();
    removeDir();
  }
}

function machine() {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release(), node: process.version, load: os.loadavg() };
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      log(`bench: ${(e as Error).stack ?? e}`);
      process.exitCode = 2;
    },
  );
}
