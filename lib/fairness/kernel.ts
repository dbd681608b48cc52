// What the kernel meter dropped (lib/nft/ruleset.ts, fairness()): the overrate4/6 counters and
// the per-source counters of offenders4/6, read with `nft -j` (three small objects, never the
// allow sets) and cached, so a scrape every second costs at most one read per CACHE_MS.
import { execFile } from 'node:child_process';

export interface KernelFairness {
  /** packets dropped over the rate, per family, since the counter was created */
  dropped: { 4: number; 6: number };
  /** the sources with the most drops (remembered 10 min after their last drop), most first */
  top: { source: string; packets: number }[];
}

const CACHE_MS = 5000;
export const TOP_OFFENDERS = 10;

function nftJson(args: string[], nft: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    /* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- execFile's error and JSON.parse's throw are Errors; the typings do not say so */
    execFile(nft, ['-j', ...args], { timeout: 5000, maxBuffer: 8 << 20 }, (err, stdout) => {
      if (err) return reject(err);
      try {
        resolve(JSON.parse(stdout));
      } catch (e) {
        reject(e);
      }
    });
    /* eslint-enable @typescript-eslint/prefer-promise-reject-errors */
  });
}

interface NftList {
  nftables: { counter?: { name: string; packets: number }; set?: { elem?: { elem?: { val: string; counter?: { packets: number } } }[] } }[];
}

/** One read of the kernel's fairness state in table inet `table`. */
export async function readKernelFairness(table: string, nft = 'nft'): Promise<KernelFairness> {
  const [counters, s4, s6] = (await Promise.all([
    nftJson(['list', 'counters', 'table', 'inet', table], nft),
    nftJson(['list', 'set', 'inet', table, 'offenders4'], nft),
    nftJson(['list', 'set', 'inet', table, 'offenders6'], nft),
  ])) as NftList[];
  const dropped = { 4: 0, 6: 0 };
  for (const o of counters.nftables) {
    if (o.counter?.name === 'overrate4') dropped[4] = o.counter.packets;
    if (o.counter?.name === 'overrate6') dropped[6] = o.counter.packets;
  }
  const top: KernelFairness['top'] = [];
  for (const l of [s4, s6]) {
    for (const o of l.nftables) {
      for (const e of o.set?.elem ?? []) if (e.elem?.counter) top.push({ source: e.elem.val, packets: e.elem.counter.packets });
    }
  }
  top.sort((a, b) => b.packets - a.packets);
  return { dropped, top: top.slice(0, TOP_OFFENDERS) };
}

/** readKernelFairness, at most once per CACHE_MS; a failed read gives the last good one (or undefined). */
export class KernelFairnessReader {
  private last?: KernelFairness;
  private at = 0;
  private inflight?: Promise<KernelFairness | undefined>;

  constructor(
    private readonly table: string,
    private readonly nft = 'nft',
  ) {}

  read(): Promise<KernelFairness | undefined> {
    if (this.last && Date.now() - this.at < CACHE_MS) return Promise.resolve(this.last);
    this.inflight ??= readKernelFairness(this.table, this.nft)
      .then(
        (k) => {
          this.last = k;
          this.at = Date.now();
          return k;
        },
        () => this.last,
      )
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }
}
