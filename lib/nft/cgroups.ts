// The kernel's view of the configured cgroups: which cgroup ids are managed (set `cgmanaged`,
// matched by `socket cgroupv2 level N` in the output chain) and the static destinations of each
// (sets `cgstatic4`/`cgstatic6`: cgroup id . CIDR intervals). Written over netlink by id: the nft
// CLI takes no numeric ids and resolves paths against a hard-coded /sys/fs/cgroup at load.
// Every write replaces the three sets' whole content in one atomic batch (flush + add: the sets
// hold one entry per configured cgroup and CIDR, a handful), so no moment has a managed cgroup
// unmanaged. The ruleset script never flushes them: a restarted daemon takes over the content.
import { NfnlSocket, type BatchPart } from './netlink/socket';
import {
  NFPROTO_INET,
  NFT_MSG_DELSETELEM,
  NFTA_SET_ELEM_LIST_TABLE,
  NFTA_SET_ELEM_LIST_SET,
  NFTA_LIST_ELEM,
  NFTA_SET_ELEM_KEY,
  NFTA_SET_ELEM_KEY_END,
  NFTA_DATA_VALUE,
  NLM_F_REQUEST,
  nftType,
} from './netlink/constants';
import { newSetElemMsg } from './netlink/setelem';
import { attr, nested, nlmsg, strAttr } from './netlink/encode';
import { cidrOf, minimalCidrs, type Cidr } from './cidr';
import { cgroupIdBytes } from './owner';

export const CGROUP_SETS = { managed: 'cgmanaged', static4: 'cgstatic4', static6: 'cgstatic6' } as const;

/** One managed cgroup: its id and the static destinations (CIDR text) of the policies selecting it. */
export interface ManagedCgroup {
  id: bigint;
  allowCIDRs: readonly string[];
}

function element(key: Buffer, keyEnd?: Buffer): Buffer {
  const parts = [nested(NFTA_SET_ELEM_KEY, [attr(NFTA_DATA_VALUE, key)])];
  if (keyEnd) parts.push(nested(NFTA_SET_ELEM_KEY_END, [attr(NFTA_DATA_VALUE, keyEnd)]));
  return nested(NFTA_LIST_ELEM, parts);
}

/**
 * An interval element `id . cidr` of a concatenated range set: nft converts host-order fields
 * of interval sets to network order (the rule gets `byteorder hton`), so the id is big-endian
 * here; the range end is inclusive.
 */
function staticElement(id: bigint, c: Cidr): Buffer {
  const idBe = Buffer.alloc(8);
  idBe.writeBigUInt64BE(id);
  const start = Buffer.from(c.bytes);
  const end = Buffer.from(c.bytes);
  for (let bit = c.prefix; bit < end.length * 8; bit++) end[bit >> 3] |= 0x80 >> (bit & 7);
  return element(Buffer.concat([idBe, start]), Buffer.concat([idBe, end]));
}

/** DELSETELEM without an element list: the kernel flushes the set (as `nft flush set`). */
function flushMsg(seq: number, table: string, set: string): Buffer {
  return nlmsg(nftType(NFT_MSG_DELSETELEM), NLM_F_REQUEST, seq, NFPROTO_INET, [strAttr(NFTA_SET_ELEM_LIST_TABLE, table), strAttr(NFTA_SET_ELEM_LIST_SET, set)]);
}

/** The batch that makes the three sets hold exactly `cgroups` (flush, then add). */
export function managedBatch(table: string, cgroups: readonly ManagedCgroup[]): BatchPart[] {
  const managed: Buffer[] = [];
  const static4: Buffer[] = [];
  const static6: Buffer[] = [];
  const seen = new Set<bigint>();
  for (const c of cgroups) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    managed.push(element(cgroupIdBytes(c.id)));
    for (const cidr of minimalCidrs(c.allowCIDRs.map(cidrOf))) (cidr.family === 4 ? static4 : static6).push(staticElement(c.id, cidr));
  }
  const parts: BatchPart[] = Object.values(CGROUP_SETS).map((set) => ({ label: `set inet ${table} ${set} (flush)`, build: (s: number) => flushMsg(s, table, set) }));
  const add = (set: string, els: Buffer[]) => {
    // a few hundred bytes per configured cgroup; 500 per message stays far under the u16 limit
    for (let i = 0; i < els.length; i += 500) {
      const chunk = els.slice(i, i + 500);
      parts.push({ label: `set inet ${table} ${set} (NEWSETELEM, ${chunk.length} elements)`, build: (s: number) => newSetElemMsg(s, NFPROTO_INET, table, set, chunk) });
    }
  };
  add(CGROUP_SETS.managed, managed);
  add(CGROUP_SETS.static4, static4);
  add(CGROUP_SETS.static6, static6);
  return parts;
}

/** Writes the managed cgroups; writes are serialized and the last one wins. */
export class ManagedCgroups {
  private sock: NfnlSocket | null = null;
  private written = new Set<bigint>();
  private chain: Promise<void> = Promise.resolve();
  /** batches committed */
  writes = 0;

  constructor(private readonly table: string) {}

  /** Is this id in the kernel's managed set (as last written by us)? */
  has(id: bigint): boolean {
    return this.written.has(id);
  }

  /** Replace the sets' content with `cgroups`; resolves once the kernel has committed it. */
  write(cgroups: readonly ManagedCgroup[]): Promise<void> {
    const run = async () => {
      this.sock ??= new NfnlSocket();
      await this.sock.batch(managedBatch(this.table, cgroups));
      this.written = new Set(cgroups.map((c) => c.id));
      this.writes++;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.sock?.close();
    this.sock = null;
  }
}
