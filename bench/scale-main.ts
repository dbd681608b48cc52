// The scale run, inside the bench's node namespace: N distinct (source, destination) elements
// through SetProgrammer against an installed dnswall ruleset, then RSS and lookup times.
// Prints one JSON line. Usage: node dist/bench/scale-main.js [N]
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseConfig } from '../lib/config/load';
import { renderRuleset, installRuleset } from '../lib/nft/ruleset';
import { SetProgrammer } from '../lib/nft/programmer';
import { NfnlSocket } from '../lib/nft/netlink/socket';
import { NFPROTO_INET, NFT_MSG_GETSETELEM, NLM_F_ACK } from '../lib/nft/netlink/constants';
import { setElemMsg, encodeElement } from '../lib/nft/netlink/setelem';
import { encodeKey } from '../lib/nft/keys';
import { readSet } from '../lib/nft/sets';
import { dnswallConfig } from './targets';

const WAVE = 2000; // add() calls per tick, one element each (the DNS path's shape)
const MAX_OUTSTANDING = 50_000;
const TIMEOUT_MS = 3600_000; // live for the whole run
const DEADLINE_MS = 15 * 60_000;
const NFT_CLI_TIMEOUT_MS = 20_000; // `nft get element` reads the whole set first: bounded
const DUMP_TIMEOUT_MS = 60_000;

const src = (i: number) => Buffer.from([192, 0, 2, 10 + (i >>> 17)]);
const dst = (i: number) => Buffer.from([198, 18 + ((i >>> 16) & 1), (i >>> 8) & 255, i & 255]);
const ip = (b: Buffer) => [...b].join('.');

function memMiB(): { rss: number; hwm: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

interface Lookup {
  element: string;
  ms: number;
  found: boolean;
  error?: string;
}

/** One NFT_MSG_GETSETELEM for one key (no dump): the kernel's own lookup. */
async function netlinkLookup(sock: NfnlSocket, i: number): Promise<Lookup> {
  const element = `${ip(src(i))} . ${ip(dst(i))}`;
  const key = encodeKey({ set: 'allow4', source: src(i), destination: dst(i) });
  const t0 = performance.now();
  try {
    await sock.get(`get element ${element}`, (seq) => setElemMsg(NFT_MSG_GETSETELEM, NLM_F_ACK, seq, NFPROTO_INET, 'dnswall', 'allow4', [encodeElement({ key })]));
    return { element, ms: performance.now() - t0, found: true };
  } catch (e) {
    return { element, ms: performance.now() - t0, found: false, error: (e as Error).message };
  }
}

/** `nft get element inet dnswall allow4 '{ a . b }'`, bounded. */
function nftLookup(i: number): Lookup {
  const element = `${ip(src(i))} . ${ip(dst(i))}`;
  const t0 = performance.now();
  const r = spawnSync('nft', ['get', 'element', 'inet', 'dnswall', 'allow4', `{ ${element} }`], { encoding: 'utf8', timeout: NFT_CLI_TIMEOUT_MS });
  const error = r.error ? `timed out after ${NFT_CLI_TIMEOUT_MS} ms` : r.status !== 0 ? r.stderr.trim() : undefined;
  return { element, ms: performance.now() - t0, found: r.status === 0, error };
}

/** The whole set as SetProgrammer.open() seeds it (GETSETELEM dump), bounded. */
async function timeDump(): Promise<{ ms: number; elements: number; error?: string }> {
  const sock = new NfnlSocket({ replyTimeoutMs: DUMP_TIMEOUT_MS });
  const t0 = performance.now();
  try {
    const els = await readSet(sock, 'dnswall', 'allow4');
    return { ms: performance.now() - t0, elements: els.length };
  } catch (e) {
    return { ms: performance.now() - t0, elements: 0, error: (e as Error).message };
  } finally {
    sock.close();
  }
}

(async () => {
  const n = Math.min(Number(process.argv[2] ?? 1_000_000), 8 << 17);
  if (!Number.isInteger(n) || n < 1) throw new Error(`element count must be 1..${8 << 17}`);
  const cfg = parseConfig(dnswallConfig(), '<bench>');
  await installRuleset(renderRuleset(cfg, { managed: { v4: ['192.0.2.0/24'], v6: [] } }));
  const p = new SetProgrammer({ table: 'dnswall', limits: cfg.limits });
  await p.open();
  const before = memMiB();
  let done = 0,
    failed = 0,
    firstError = '';
  const t0 = performance.now();
  for (let i = 0; i < n;) {
    if (performance.now() - t0 > DEADLINE_MS) throw new Error(`scale run over ${DEADLINE_MS / 60000} min at ${done} elements`);
    if (i - done - failed > MAX_OUTSTANDING) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    for (const end = Math.min(n, i + WAVE); i < end; i++) {
      p.add([{ set: 'allow4', source: src(i), destination: dst(i), timeoutMs: TIMEOUT_MS, comment: `u${i}.example.bench` }]).then(
        () => {
          done++;
        },
        (e: Error) => {
          failed++;
          firstError ||= e.message;
        },
      );
    }
    await new Promise((r) => setImmediate(r));
  }
  while (done + failed < n) await new Promise((r) => setTimeout(r, 5));
  const secs = (performance.now() - t0) / 1000;
  if (global.gc) global.gc();
  const after = memMiB();
  const heap = process.memoryUsage();
  const probe = [0, 1, n >> 1, n - 1, Math.floor(n * 0.77)];
  const sock = new NfnlSocket();
  const lookups: Lookup[] = [];
  for (const i of probe) lookups.push(await netlinkLookup(sock, i));
  const absentLookup = n < 8 << 17 ? await netlinkLookup(sock, n) : undefined;
  sock.close();
  const nftCli = [nftLookup(probe[2])];
  const dump = await timeDump();
  console.log(
    JSON.stringify({
      elements: n,
      programmed: done,
      failed,
      firstError,
      seconds: secs,
      elementsPerSec: done / secs,
      batches: p.stats.batches,
      messages: p.stats.messages,
      evictions: (p.stats as { evictions?: unknown }).evictions,
      rssMiB: after.rss,
      hwmMiB: after.hwm,
      rssBeforeMiB: before.rss,
      heapUsedMiB: heap.heapUsed / 1048576,
      heapTotalMiB: heap.heapTotal / 1048576,
      lookups,
      absentLookup,
      nftCli,
      dump,
    }),
  );
  await p.close();
})().catch((e) => {
  console.error(`scale: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
