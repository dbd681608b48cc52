// The kernel side of pod identity: which pod addresses the forward path manages (sets pods4 /
// pods6, next to the config's managed4/6 CIDRs), and deleting the allow elements of a pod
// address that changed hands or whose policies shrank — through the programmer, so its book
// forgets them too.
import { execFile } from 'node:child_process';
import ipaddr from 'ipaddr.js';
import type { SetProgrammer } from '../../nft/programmer';
import { installRuleset } from '../../nft/ruleset';
import { decodeKey, type AllowSet, type KeyFields } from '../../nft/keys';
import { commentIsWhole } from '../../server/revoke';
import { sourceFieldText, cgroupIdBytes } from '../../nft/owner';

/** Per source address (or "cgroup:<id>" of a hostNetwork pod): null = delete all of its elements; else keep(name, key) decides each. */
export type RevokePlan = Map<string, ((name: string, k: KeyFields) => boolean) | null>;

export interface PodKernel {
  revoke(plan: RevokePlan): Promise<number>;
  /** The addresses in pods4/pods6 now (before this daemon's first managed(): the previous daemon's pods). */
  previousPods(): Promise<Set<string>>;
  /** The source addresses that have live allow elements (cgroup ids left out). */
  liveSources(): Promise<Set<string>>;
  /** Makes pods4/pods6 hold exactly `want` (first call: flush + fill in one transaction). */
  managed(want: ReadonlySet<string>): Promise<void>;
}

export class NftPodKernel implements PodKernel {
  private have: Set<string> | null = null;

  constructor(
    private readonly table: string,
    private readonly programmer: Pick<SetProgrammer, 'remove' | 'readLive'> & Partial<Pick<SetProgrammer, 'nameOf' | 'revokeSourcesFromBook'>>,
  ) {}

  async revoke(plan: RevokePlan): Promise<number> {
    if (plan.size === 0) return 0;
    // From the book when it holds every live element: only these sources' elements are visited.
    const fromBook = await this.programmer.revokeSourcesFromBook?.(bookPlan(plan));
    if (fromBook) return fromBook.revoked;
    const doomed: KeyFields[] = [];
    await this.programmer.readLive((set, el) => {
      const k = decodeKey(set, el.key);
      if (!k) return;
      // a pod address, or (8 bytes) a hostNetwork pod's cgroup id as "cgroup:<id>"
      const src = k.source.length === 8 ? sourceFieldText(k.source) : ipaddr.fromByteArray([...k.source]).toString();
      if (!plan.has(src)) return;
      const keep = plan.get(src);
      if (!keep) {
        doomed.push(k); // the address changed hands: everything goes
        return;
      }
      // decided by the whole name (the book's, else an uncut comment); a cut name is never a basis to revoke
      const name = this.programmer.nameOf?.(set, el.key) ?? (commentIsWhole(el.comment ?? '') ? (el.comment ?? '') : null);
      if (name !== null && !keep(name, k)) doomed.push(k);
    });
    if (doomed.length) await this.programmer.remove(doomed);
    return doomed.length;
  }

  async previousPods(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const set of ['pods4', 'pods6']) for (const a of await listAddresses(this.table, set)) out.add(ipaddr.process(a).toString());
    return out;
  }

  async liveSources(): Promise<Set<string>> {
    const out = new Set<string>();
    await this.programmer.readLive((set, el) => {
      const k = decodeKey(set, el.key);
      if (k && (k.source.length === 4 || k.source.length === 16)) out.add(ipaddr.fromByteArray([...k.source]).toString());
    });
    return out;
  }

  async managed(want: ReadonlySet<string>): Promise<void> {
    const t = this.table;
    const fam = (a: string) => (a.includes(':') ? 'pods6' : 'pods4');
    const lines: string[] = [];
    if (this.have === null) {
      lines.push(`flush set inet ${t} pods4`, `flush set inet ${t} pods6`);
      for (const a of want) lines.push(`add element inet ${t} ${fam(a)} { ${a} }`);
    } else {
      for (const a of this.have) if (!want.has(a)) lines.push(`delete element inet ${t} ${fam(a)} { ${a} }`);
      for (const a of want) if (!this.have.has(a)) lines.push(`add element inet ${t} ${fam(a)} { ${a} }`);
    }
    if (lines.length) await installRuleset(lines.join('\n') + '\n');
    this.have = new Set(want);
  }
}

/** The plan keyed by the book's source keys (the source field's bytes, latin1). */
function bookPlan(plan: RevokePlan): Map<string, ((name: string, set: AllowSet, key: Buffer) => boolean) | null> {
  const out = new Map<string, ((name: string, set: AllowSet, key: Buffer) => boolean) | null>();
  for (const [src, keep] of plan) {
    const bytes = src.startsWith('cgroup:') ? cgroupIdBytes(BigInt(src.slice('cgroup:'.length))) : Buffer.from(ipaddr.parse(src).toByteArray());
    out.set(
      bytes.toString('latin1'),
      keep === null
        ? null
        : (name, set, key) => {
            const k = decodeKey(set, key);
            return !k || keep(name, k); // a key that does not decode is not judged: kept
          },
    );
  }
  return out;
}

/** The elements of a plain address set, read with `nft -j list set` (a handful: the node's pods). */
function listAddresses(table: string, set: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('nft', ['-j', 'list', 'set', 'inet', table, set], { timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`nft list set ${set}: ${stderr.trim() || err.message}`));
      try {
        const doc = JSON.parse(stdout) as { nftables?: { set?: { elem?: unknown[] } }[] };
        const elems = doc.nftables?.find((o) => o.set)?.set?.elem ?? [];
        resolve(elems.filter((e): e is string => typeof e === 'string' && ipaddr.isValid(e)));
      } catch (e) {
        reject(new Error(`nft list set ${set}: unreadable JSON (${(e as Error).message})`));
      }
    });
  });
}
