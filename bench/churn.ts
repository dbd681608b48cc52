// Churn: a SetProgrammer with small caps takes ever-new (source, destination, name) elements at a
// steady rate; memory must stay flat because the caps evict the oldest. Runs in a network
// namespace of its own (created and deleted here).
//   node dist/bench/churn.js [--minutes N] [--rate PER_SEC] [--max-elements N]   (default 3 min, at most 10)
// The exported runChurn() is also the core of test/nft/churn.test.ts.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { SetProgrammer, type Element } from '../lib/nft/programmer';
import { SET_DEFINITIONS, installRuleset } from '../lib/nft/ruleset';
import { NfnlSocket } from '../lib/nft/netlink/socket';
import { readSet } from '../lib/nft/sets';
import { ALLOW_SETS, isAllowSet } from '../lib/nft/keys';
import type { BoundLimits } from '../lib/nft/bounds';

export interface ChurnOptions {
  seconds: number;
  /** elements per second */
  rate: number;
  limits: BoundLimits;
  sampleEveryMs: number;
  /** distinct sources the elements cycle through */
  sources?: number;
  table?: string;
  onSample?: (s: ChurnSample) => void;
}

export interface ChurnSample {
  s: number;
  rssMiB: number;
  heapUsedMiB: number;
  book: number;
  elements: number;
  sources: number;
  names: number;
  queued: number;
  added: number;
  evicted: number;
}

export interface ChurnResult {
  samples: ChurnSample[];
  added: number;
  failed: number;
  skippedTicks: number;
  evictions: { perName: number; perSource: number; total: number };
  /** elements in the kernel sets at the end, and the book then */
  kernel: number;
  bookAtEnd: number;
  /** mean RSS of the last third of the samples / the first third */
  rssRatio: number;
  flat: boolean;
}

const TICK_MS = 10;
const MAX_PENDING_ADDS = 2_000;

/** The table and the four allow sets only (what SetProgrammer.open() checks), size = maxElements. */
export function churnRuleset(table: string, maxElements: number): string {
  const sets = SET_DEFINITIONS.filter(([n]) => isAllowSet(n)).map(([n, def]) => `add set inet ${table} ${n} { ${def} size ${maxElements}; }`);
  return [`add table inet ${table}`, ...sets].join('\n') + '\n';
}

const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;

export async function runChurn(o: ChurnOptions): Promise<ChurnResult> {
  const table = o.table ?? 'dnswall';
  const nSources = o.sources ?? 200;
  await installRuleset(churnRuleset(table, o.limits.maxElements));
  const p = new SetProgrammer({ table, limits: o.limits, seed: false });
  await p.open();
  const samples: ChurnSample[] = [];
  let seq = 0,
    added = 0,
    failed = 0,
    pending = 0,
    skippedTicks = 0;
  const t0 = performance.now();
  const sample = () => {
    const m = process.memoryUsage();
    const z = p.sizes();
    const e = p.stats.evictions;
    const s: ChurnSample = {
      s: Math.round((performance.now() - t0) / 1000),
      rssMiB: mib(m.rss),
      heapUsedMiB: mib(m.heapUsed),
      book: z.book,
      elements: z.elements,
      sources: z.sources,
      names: z.names,
      queued: z.queued,
      added,
      evicted: e.perName + e.perSource + e.total,
    };
    samples.push(s);
    o.onSample?.(s);
  };
  const perTick = Math.max(1, Math.round((o.rate * TICK_MS) / 1000));
  const ticks = Math.ceil((o.seconds * 1000) / TICK_MS);
  let nextSample = o.sampleEveryMs;
  for (let tick = 0; tick < ticks; tick++) {
    const due = t0 + (tick + 1) * TICK_MS;
    if (pending > MAX_PENDING_ADDS)
      skippedTicks++; // the kernel is behind: do not pile up
    else {
      // One answer = 1..3 addresses of an ever-new name for one source.
      for (let i = 0; i < perTick;) {
        const n = seq++;
        const src = n % 5 === 0 ? 0 : n % nSources; // source 0 is hot: a fifth of all answers
        const source = Buffer.from([10, 244, src >> 8, src & 255]);
        const name = `c${n}.churn.example.com`;
        const els: Element[] = [];
        for (let a = 0; a < 1 + (n % 3) && i < perTick; a++, i++) {
          const d = (n * 3 + a) % 131072; // 198.18.0.0/15
          els.push({ set: 'allow4', source, destination: Buffer.from([198, 18 + (d >> 16), (d >> 8) & 255, d & 255]), timeoutMs: 600_000, comment: name });
        }
        pending++;
        p.add(els)
          .then(
            () => {
              added += els.length;
            },
            () => {
              failed += els.length;
            },
          )
          .finally(() => {
            pending--;
          });
      }
    }
    if (performance.now() - t0 >= nextSample) {
      sample();
      nextSample += o.sampleEveryMs;
    }
    const wait = due - performance.now();
    await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
  }
  await p.drained();
  sample();
  const kernel = await countKernel(table);
  const bookAtEnd = p.sizes().book;
  await p.close();
  const third = Math.max(1, Math.floor(samples.length / 3));
  const mean = (xs: ChurnSample[]) => xs.reduce((a, s) => a + s.rssMiB, 0) / xs.length;
  const rssRatio = mean(samples.slice(-third)) / mean(samples.slice(0, third));
  return { samples, added, failed, skippedTicks, evictions: { ...p.stats.evictions }, kernel, bookAtEnd, rssRatio, flat: Math.abs(rssRatio - 1) <= 0.2 };
}

async function countKernel(table: string): Promise<number> {
  const sock = new NfnlSocket({ replyTimeoutMs: 60_000 });
  try {
    let n = 0;
    for (const set of ALLOW_SETS) n += (await readSet(sock, table, set)).length;
    return n;
  } finally {
    sock.close();
  }
}

// ---- command line: re-exec inside a fresh namespace, print the samples ----

const NS_ENV = 'DWB_CHURN_NETNS';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

async function inner(): Promise<void> {
  const minutes = Math.min(10, arg('--minutes', 3));
  const rate = Math.min(50_000, arg('--rate', 5_000));
  const maxElements = arg('--max-elements', 50_000);
  const limits = { maxElements, maxElementsPerSource: Math.ceil(maxElements / 50), maxAddressesPerName: 256 };
  process.stdout.write(`churn: ${minutes} min at ${rate} elements/s, caps ${JSON.stringify(limits)}, sample every 10 s\n`);
  process.stdout.write('   s  rssMiB  heapMiB     book  sources  names  queued     added  evicted\n');
  const r = await runChurn({
    seconds: minutes * 60,
    rate,
    limits,
    sampleEveryMs: 10_000,
    onSample: (s) =>
      process.stdout.write(
        `${String(s.s).padStart(4)}  ${String(s.rssMiB).padStart(6)}  ${String(s.heapUsedMiB).padStart(7)}  ${String(s.book).padStart(7)}  ${String(s.sources).padStart(7)}  ${String(s.names).padStart(5)}  ${String(s.queued).padStart(6)}  ${String(s.added).padStart(8)}  ${String(s.evicted).padStart(7)}\n`,
      ),
  });
  process.stdout.write(`added ${r.added}, failed ${r.failed}, skipped ticks ${r.skippedTicks}, evictions ${JSON.stringify(r.evictions)}\n`);
  process.stdout.write(`kernel elements at the end ${r.kernel}, book ${r.bookAtEnd} (cap ${maxElements})\n`);
  process.stdout.write(`RSS last third / first third = ${r.rssRatio.toFixed(3)}: ${r.flat ? 'FLAT (within 20%)' : 'NOT flat'}\n`);
  process.exitCode = r.flat && r.kernel <= maxElements && r.failed === 0 ? 0 : 1;
}

function outer(): void {
  if (process.getuid?.() !== 0) {
    process.stderr.write('churn: needs root (a network namespace and nftables)\n');
    process.exit(2);
  }
  const ns = `dwb-churn-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const cleanup = () => {
    spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  };
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, __filename, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, [NS_ENV]: ns } });
  // Hard bound: 10 minutes of churn plus setup and the final dump.
  const killer = setTimeout(() => child.kill('SIGKILL'), 12 * 60_000);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    clearTimeout(killer);
    cleanup();
    process.exit(code ?? (signal ? 1 : 0));
  });
}

if (require.main === module) {
  if (process.env[NS_ENV])
    inner().catch((e) => {
      process.stderr.write(`churn failed: ${(e as Error).stack}\n`);
      process.exit(2);
    });
  else outer();
}
