// dnswall's own CPU per query, end to end over UDP, in a network namespace of its own (issue 13;
// not part of `npm run bench`). The daemon runs in this process (enforcing or auditing, the
// real ruleset and programmer); dnsperf asks it on loopback and a dnsmasq upstream answers from
// the bench's generated names. What is reported is this process's CPU time (user + system, all
// threads) over the measured run divided by the queries answered: on a 2-vCPU machine where the
// peers compete for the CPU, q/s swings from run to run but CPU per query is the steadier sign of
// what a change to the request path costs or saves.
//   node dist/bench/cpu.js [--mode enforce|audit] [--workload hot|unique|mixed] [--cache]
//                          [--duration 5] [--rounds 3] [--rate QPS (default: saturate)] [--memory] [--alloc]
//                          [--metrics: the programmer's batch/element/skip counters after each round]
//                          [--relay: bench/relay.ts instead of the daemon, the floor of a Node forwarder]
//                          [--ruleset: with --relay, under the enforce ruleset the daemon would install]
// Under `node --cpu-prof` the profile holds only the daemon (and this harness's idle waits).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import pino from 'pino';
import { inOwnNetns } from './own-netns';
import { daemonConfig } from './targets';
import { parseConfig } from '../lib/config/load';
import { Daemon } from '../lib/server/daemon';
import { dnsmasqArgs } from '../lib/sandbox/dnsmasq-peer';
import { writeNameFiles } from './names';
import { parseDnsperf, type DnsperfResult } from './dnsperf';
import { allocationProfile } from './alloc';
import { arg, has } from './args';
import { startRelay } from './relay';
import { installRuleset, renderRuleset } from '../lib/nft/ruleset';
import { PolicyIndex } from '../lib/policy/index';

const LISTEN = '127.0.0.1';
const PORT = 5353;
const UPSTREAM = '127.0.0.2';

function dnsperf(file: string, seconds: number, rate: number, outstanding = 100): Promise<DnsperfResult> {
  const a = ['-s', LISTEN, '-p', String(PORT), '-d', file, '-l', String(seconds), '-c', '4', '-q', String(outstanding), '-t', '2'];
  if (rate > 0) a.push('-Q', String(rate));
  return new Promise((resolve, reject) => {
    const p = spawn('dnsperf', a, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), (seconds + 30) * 1000);
    p.on('close', () => {
      clearTimeout(t);
      try {
        resolve(parseDnsperf(out, false));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/** RSS and V8's spaces in MiB (--memory): where a run's peak comes from. */
function memory(): string {
  const m = process.memoryUsage();
  const mib = (b: number) => (b / 1048576).toFixed(1);
  const spaces = v8
    .getHeapSpaceStatistics()
    .filter((s) => s.space_size > 1 << 20)
    .map((s) => `${s.space_name} ${mib(s.space_used_size)}/${mib(s.space_size)}`)
    .join(', ');
  return `rss ${mib(m.rss)} heap ${mib(m.heapUsed)}/${mib(m.heapTotal)} external ${mib(m.external)} (arrayBuffers ${mib(m.arrayBuffers)}); ${spaces}`;
}

/** --metrics: the programmer's counters so far (batches, elements, skips): which path answers took. */
function kernelCounters(text: string): string {
  return text
    .split('\n')
    .filter((l) => /^dnswall_nft(set)?_(batches|elements|skipped)/.test(l))
    .map((l) => `  ${l}`)
    .join('\n');
}

async function inner(): Promise<void> {
  const mode = has('--relay') ? 'relay' : arg('--mode', 'enforce');
  const workload = arg('--workload', 'hot');
  const seconds = Number(arg('--duration', '5'));
  const rounds = Number(arg('--rounds', '3'));
  const rate = Number(arg('--rate', '0'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dwcpu-'));
  let upstream: ChildProcess | undefined;
  /** the daemon, or with --relay the bare relay: whichever answers on LISTEN:PORT */
  let server: { stop(): Promise<void> | void } | undefined;
  let daemon: Daemon | undefined;
  try {
    const files = await writeNameFiles(dir, 300_000);
    upstream = spawn('dnsmasq', dnsmasqArgs({ ns: '', listen: UPSTREAM, hostsFile: files.hosts, localTtl: 300, cacheSize: 0 }), { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1500)); // dnsmasq reads 300k hosts lines
    const cfg = parseConfig(
      daemonConfig({
        listen: `${LISTEN}:${PORT}`,
        upstream: `${UPSTREAM}:53`,
        table: 'dwcpu',
        sources: ['127.0.0.0/8'],
        mode: mode === 'audit' ? 'audit' : 'enforce',
        cache: has('--cache'),
      }),
      'bench/cpu',
    );
    if (has('--relay')) {
      // --ruleset: under the ruleset the daemon would install (what the kernel's share costs)
      if (has('--ruleset')) await installRuleset(renderRuleset(cfg, PolicyIndex.compile(cfg.policies)));
      const relay = await startRelay(LISTEN, PORT, UPSTREAM);
      server = { stop: () => relay.close() };
    } else {
      daemon = new Daemon(cfg, pino({ level: 'warn' }));
      server = daemon;
      await daemon.start();
    }
    if (has('--memory')) console.log(`started: ${memory()}`);
    const file = workload === 'hot' ? files.hot : workload === 'unique' ? files.unique : files.mixed;
    await dnsperf(files.hot, 1, 2000); // warm process, hot elements present
    await dnsperf(files.warm, 1, 2000); // warm insert path (bench/README.md)
    if (has('--alloc')) {
      // one run under the sampling heap profiler: where this daemon's bytes per query go
      let answered = 0;
      await allocationProfile(
        async () => {
          answered = (await dnsperf(file, seconds, rate)).completed;
        },
        () => answered,
      );
      return;
    }
    for (let r = 1; r <= rounds; r++) {
      const c0 = process.cpuUsage();
      const res = await dnsperf(file, seconds, rate);
      const c = process.cpuUsage(c0);
      const n = res.completed;
      const noerror = res.rcodes.NOERROR ?? 0;
      console.log(
        `round ${r} ${mode} ${workload}${has('--cache') ? ' cache' : ''}${rate ? ` @${rate}` : ''}: ${((c.user + c.system) / n).toFixed(1)} us CPU/query (user ${(c.user / n).toFixed(1)}, sys ${(c.system / n).toFixed(1)}), ${Math.round(res.qps)} q/s, NOERROR ${noerror}/${n}, lost ${res.lost}`,
      );
      if (noerror !== n) throw new Error(`rcodes ${JSON.stringify(res.rcodes)}`);
      if (has('--memory')) console.log(`  ${memory()}`);
      if (has('--metrics') && daemon) console.log(kernelCounters(await daemon.metrics.text()));
    }
    if (has('--heap-snapshot')) console.log(`heap snapshot: ${v8.writeHeapSnapshot(path.join(os.tmpdir(), `dnswall-cpu-${process.pid}.heapsnapshot`))}`);
  } finally {
    await server?.stop();
    upstream?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

inOwnNetns('dwcpu', __filename, inner);
