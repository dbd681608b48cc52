// Restart adoption at scale (issue 13): N live elements (default 100k, 200k, 1M: 8 sources,
// every name distinct), then for each N: the clean stop's save (close({ save: true })), a
// restart from the state file (prepare + the ruleset install + open, as the daemon does), and —
// for comparison — the adoption it replaces, a dump of the sets (bounded: --dump-max-s, default
// 120; at 1M it does not finish). Wall and CPU of each, one JSON line per N. The restarted
// programmer carries on to the next N (its book is complete, as the next save requires). Run it
// in a namespace of its own, under the bench lock:
//   ip netns add dwrs && flock /work/notes/bench.lock ip netns exec dwrs node dist/bench/restart-scale.js [N,N,…] [--dump-max-s S]; ip netns delete dwrs
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../lib/config/load';
import { renderRuleset, installRuleset } from '../lib/nft/ruleset';
import { SetProgrammer } from '../lib/nft/programmer';

// Paced as bench/revoke-scale.ts: the change-notification socket must keep up.
const WAVE = 100;
const MAX_OUTSTANDING = 50_000;
const DEADLINE_MS = 20 * 60_000;
const src = (i: number) => Buffer.from([192, 0, 2, 10 + (i & 7)]);
const dst = (i: number) => Buffer.from([198, 18 + ((i >>> 19) & 1), (i >>> 11) & 255, (i >>> 3) & 255]);
const name = (i: number) => `u${i}.bench`;
const cfg = parseConfig(
  `listen: ["127.0.0.1:53"]
upstreams: ["127.0.0.1:53"]
nftables: { table: dnswall }
limits: { maxElementsPerSource: 1000000, maxElements: 1000000 }
policies:
  - name: bench
    sources: ["192.0.2.0/24"]
    allow: ["**.bench"]
`,
  '<restart-scale>',
);
const cpuMs = (c: NodeJS.CpuUsage) => Math.round((c.user + c.system) / 1000);
const install = () => installRuleset(renderRuleset(cfg, { managed: { v4: ['192.0.2.0/24'], v6: [] } }));

/** Adds elements from..to-1, paced; throws on any failure. */
async function program(p: SetProgrammer, from: number, to: number): Promise<number> {
  let done = 0,
    failed = 0,
    firstError = '';
  const t0 = performance.now();
  for (let i = from; i < to;) {
    if (performance.now() - t0 > DEADLINE_MS) throw new Error(`programming over ${DEADLINE_MS / 60000} min`);
    if (i - from - done - failed > MAX_OUTSTANDING) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    for (const end = Math.min(to, i + WAVE); i < end; i++) {
      p.add([{ set: 'allow4', source: src(i), destination: dst(i), timeoutMs: 3600_000, comment: name(i) }]).then(
        () => void done++,
        (e: Error) => {
          failed++;
          firstError ||= e.message;
        },
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  while (done + failed < to - from) await new Promise((r) => setTimeout(r, 5));
  if (failed) throw new Error(`${failed} adds failed: ${firstError}`);
  return (performance.now() - t0) / 1000;
}

(async () => {
  const arg = process.argv.slice(2).find((a) => /^\d[\d,]*$/.test(a));
  const sizes = (arg ?? '100000,200000,1000000').split(',').map(Number);
  const dumpArg = process.argv.indexOf('--dump-max-s');
  const dumpMaxMs = (dumpArg > 0 ? Number(process.argv[dumpArg + 1]) : 120) * 1000;
  if (sizes.some((n, i) => !Number.isInteger(n) || n < 10 || n > 1_000_000 || (i > 0 && n <= sizes[i - 1]))) throw new Error('sizes: increasing, 10..1000000');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-restart-scale-'));
  const stateFile = path.join(dir, 'nft.state');
  const opts = { table: 'dnswall', limits: cfg.limits, refreshSlackMs: 5_000, stateFile, adopt: 'wait' as const };
  try {
    let p = new SetProgrammer(opts);
    await p.prepare();
    await install();
    await p.open();
    let have = 0;
    for (const n of sizes) {
      const programSec = await program(p, have, n);
      have = n;
      await p.drained();
      // 1. The clean stop's save.
      let c = process.cpuUsage();
      let t = performance.now();
      await p.close({ save: true });
      const save = { wallMs: Math.round(performance.now() - t), cpuMs: cpuMs(process.cpuUsage(c)), bytes: statSync(stateFile).size };
      // 2. Restart from the state file, in the daemon's order (the install timed on its own).
      c = process.cpuUsage();
      t = performance.now();
      const s = new SetProgrammer(opts);
      await s.prepare();
      const prepared = { wallMs: Math.round(performance.now() - t), cpuMs: cpuMs(process.cpuUsage(c)) };
      const i0 = performance.now();
      await install();
      const installMs = Math.round(performance.now() - i0);
      const c2 = process.cpuUsage();
      const o0 = performance.now();
      await s.open();
      const opened = { wallMs: Math.round(performance.now() - o0), cpuMs: cpuMs(process.cpuUsage(c2)) };
      const stats = s.adoptionStats;
      if (stats?.from !== 'state' || stats.elements !== n) throw new Error(`state restart adopted ${JSON.stringify(stats)}`);
      const state = {
        wallMs: prepared.wallMs + opened.wallMs,
        cpuMs: prepared.cpuMs + opened.cpuMs,
        prepare: prepared,
        open: opened,
        installMs,
        bookComplete: s.bookIncomplete === null,
      };
      // 3. The dump it replaces: a second programmer reads the sets (no install, no watch: it changes nothing).
      const d = new SetProgrammer({ table: 'dnswall', limits: cfg.limits, adopt: 'wait' });
      c = process.cpuUsage();
      t = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([d.open().then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), dumpMaxMs)))]);
      clearTimeout(timer);
      const dumpWall = Math.round(performance.now() - t);
      const dumpCpu = cpuMs(process.cpuUsage(c));
      const dstats = d.adoptionStats ? { ...d.adoptionStats } : null;
      await d.close();
      // A dump that read fewer elements than are live did not finish either (at 1M the first dump
      // outlasts its 60 s reply wait and adoption gives up).
      const dump =
        finished && dstats?.elements === n
          ? { wallMs: dumpWall, cpuMs: dumpCpu, elements: dstats?.elements, reads: dstats?.reads, duplicates: dstats?.duplicates }
          : { unfinishedAfterMs: dumpWall, cpuMs: dumpCpu, elementsRead: dstats?.elements ?? 0 };
      console.log(JSON.stringify({ elements: n, programSec: Math.round(programSec), save, state, dump, book: s.sizes() }));
      p = s;
    }
    await p.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})().catch((e) => {
  console.error(`restart-scale: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
