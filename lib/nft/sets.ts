// Set I/O: the one place that reads dnswall's allow sets from the kernel and deletes keys from
// them, for the programmer (verify, adoption, remove), `dnswall list`, `dnswall forget` and
// reload revocation. Errors name the set and what to do ("is the ruleset installed?").
import { performance } from 'perf_hooks';
import { NFPROTO_INET, NFT_MSG_DESTROYSETELEM, NFT_SET_TIMEOUT } from './netlink/constants';
import { encodeElement, getSetElemDump, decodeSetElemMsg, newSetElemMsg, setElemMsg, type DecodedElement } from './netlink/setelem';
import { getTableMsg, getSetMsg, decodeSet, getGenMsg, decodeGen } from './netlink/objects';
import { netlinkTransport, type BatchPart, type NftTransport, type TransportFactory } from './netlink/socket';
import { ALLOW_SETS, LAYOUTS, type AllowSet } from './keys';
import { NftError, CAP_HINT } from './errors';
import { IdTable } from './idtable';

/** A dump of 100k elements takes seconds, more on a loaded machine: a dump waits this long for replies. */
export const DUMP_REPLY_TIMEOUT_MS = 60_000;
/** Keys per DESTROYSETELEM message: well under the u16 attribute limit (52 bytes each for allow6p). */
export const KEYS_PER_MSG = 500;
/** Messages per batch (datagram), as the programmer packs them (pack.ts MSGS_PER_BATCH). */
const PARTS_PER_BATCH = 8;

/** The one translation of a kernel error while reading `table inet T` (or one of its sets). */
export function setError(e: unknown, table: string, set?: string): Error {
  const err = e as NftError;
  if (err?.code === 'ENOENT') {
    return new NftError('ENOENT', set ? `set ${set} of table inet ${table} not found — is the ruleset installed?` : `table inet ${table} not found — is the ruleset installed?`);
  }
  if (err?.code === 'EPERM') return new NftError('EPERM', `cannot read table inet ${table}: Operation not permitted — ${CAP_HINT}`);
  return err instanceof Error ? err : new Error(String(e));
}

/** Opens a transport for a dump (long reply wait). */
export function dumpTransport(factory: TransportFactory = netlinkTransport): NftTransport {
  return factory({ replyTimeoutMs: DUMP_REPLY_TIMEOUT_MS });
}

/**
 * A set read: its elements (one per key) and whether one dump showed the set whole. A dump is
 * many kernel walks, each skipping the elements already sent; an element added or removed
 * meanwhile (or the rhashtable resizing under a growing set) shifts the walk, so the dump can
 * repeat keys and miss others — with no NLM_F_DUMP_INTR (measured: 100,001 replies, 91,909
 * distinct keys, one insert during a 100k dump). A dump with a repeated key is read again.
 */
export interface SetRead {
  /** the union of every attempt's elements, one per key (the latest read of it) */
  elements: DecodedElement[];
  /** per element: performance.now() when the dump it comes from was requested */
  readAt: number[];
  /** true: the last dump had no repeated key and `disturbed` said nothing changed during it */
  consistent: boolean;
  /** dumps made */
  reads: number;
  /** repeated keys seen, over all dumps */
  duplicates: number;
}

export interface ReadOptions {
  /** dumps at most (default READ_ATTEMPTS) */
  attempts?: number;
  /** ms to wait before dump n (n ≥ 1; default 100 × n): a set that was growing settles */
  pauseMs?: (n: number) => number;
  /** Called as a dump starts; the function it returns says, as it ends, whether the caller saw the set change meanwhile (a deletion shifts the walk without repeating a key). */
  disturbed?: () => () => boolean;
}

/** Dumps per set read at most, when they keep showing repeated keys. */
export const READ_ATTEMPTS = 3;

/** Every element of one set (GETSETELEM + NLM_F_DUMP), read again while a dump is torn (see SetRead). */
export async function readSetChecked(io: NftTransport, table: string, set: AllowSet, opts: ReadOptions = {}): Promise<SetRead> {
  const attempts = Math.max(1, opts.attempts ?? READ_ATTEMPTS);
  const keyLen = LAYOUTS[set].keyLen;
  const seen = new IdTable(1024);
  const elements: DecodedElement[] = [];
  const readAt: number[] = [];
  let duplicates = 0;
  let reads = 0;
  let consistent = false;
  while (reads < attempts && !consistent) {
    if (reads > 0) await new Promise((r) => setTimeout(r, opts.pauseMs?.(reads) ?? 100 * reads));
    const changed = opts.disturbed?.();
    const started = performance.now();
    let replies;
    try {
      replies = await io.dump(`set inet ${table} ${set} (GETSETELEM dump)`, (s) => getSetElemDump(s, NFPROTO_INET, table, set));
    } catch (e) {
      throw setError(e, table, set);
    }
    reads++;
    const round = new IdTable(1024);
    let repeated = 0;
    for (const msg of replies) {
      for (const el of decodeSetElemMsg(msg).elements) {
        if (el.key.length !== keyLen) continue;
        const id = el.key.toString('latin1');
        if (round.get(id) >= 0) {
          repeated++;
          continue;
        }
        round.set(id, round.size);
        const at = seen.get(id);
        if (at >= 0) {
          elements[at] = el;
          readAt[at] = started;
        } else {
          seen.set(id, elements.length);
          elements.push(el);
          readAt.push(started);
        }
      }
    }
    duplicates += repeated;
    consistent = repeated === 0 && !(changed?.() ?? false);
  }
  return { elements, readAt, consistent, reads, duplicates };
}

/** Every element of one set, one per key (re-read while torn; the union of the reads). */
export async function readSet(io: NftTransport, table: string, set: AllowSet): Promise<DecodedElement[]> {
  return (await readSetChecked(io, table, set)).elements;
}

/** Calls `each` for every element of `sets` (default: all allow sets), one set after the other. */
export async function readAllowSets(io: NftTransport, table: string, each: (set: AllowSet, el: DecodedElement) => void, sets: readonly AllowSet[] = ALLOW_SETS): Promise<void> {
  for (const set of sets) for (const el of await readSet(io, table, set)) each(set, el);
}

/** Checks that `table inet T` and every allow set exist with the key length and flags this version writes. */
export async function verifySets(io: NftTransport, table: string): Promise<void> {
  try {
    await io.get(`table inet ${table}`, (s) => getTableMsg(s, NFPROTO_INET, table));
  } catch (e) {
    throw setError(e, table);
  }
  for (const set of ALLOW_SETS) {
    let replies;
    try {
      replies = await io.get(`set inet ${table} ${set}`, (s) => getSetMsg(s, NFPROTO_INET, table, set));
    } catch (e) {
      throw setError(e, table, set);
    }
    const info = replies.length ? decodeSet(replies[0]) : {};
    if (info.keyLen !== LAYOUTS[set].keyLen || !((info.flags ?? 0) & NFT_SET_TIMEOUT)) {
      throw new NftError(
        'EINVAL',
        `set inet ${table} ${set} has key length ${info.keyLen} and flags ${info.flags}; expected ${LAYOUTS[set].keyLen} bytes with flags timeout — reinstall the ruleset`,
      );
    }
  }
}

/** nf_tables' generation id now (GETGEN): +1 per committed transaction of anyone in this network namespace. */
export async function readGeneration(io: NftTransport): Promise<number> {
  const replies = await io.get('generation (GETGEN)', (s) => getGenMsg(s));
  const id = replies.length ? decodeGen(replies[0]) : undefined;
  if (id === undefined) throw new NftError('EPROTO', 'GETGEN: no generation id in the reply');
  return id;
}

/** One NEWSETELEM or DESTROYSETELEM message of a batch (elements already encoded). */
export function setElemPart(table: string, set: AllowSet, del: boolean, elements: Buffer[]): BatchPart {
  return del
    ? {
        label: `set inet ${table} ${set} (DESTROYSETELEM, ${elements.length} elements)`,
        build: (s: number) => setElemMsg(NFT_MSG_DESTROYSETELEM, 0, s, NFPROTO_INET, table, set, elements),
      }
    : {
        label: `set inet ${table} ${set} (NEWSETELEM, ${elements.length} elements)`,
        build: (s: number) => newSetElemMsg(s, NFPROTO_INET, table, set, elements),
      };
}

/** The one delete-batch builder: DESTROYSETELEM messages (absent keys are no error, Linux 6.3+), KEYS_PER_MSG keys each. */
export function deleteParts(table: string, keys: Iterable<{ set: AllowSet; key: Buffer }>): BatchPart[] {
  const bySet = new Map<AllowSet, Buffer[]>();
  for (const { set, key } of keys) {
    let list = bySet.get(set);
    if (!list) bySet.set(set, (list = []));
    list.push(encodeElement({ key }));
  }
  const parts: BatchPart[] = [];
  for (const [set, els] of bySet) {
    for (let i = 0; i < els.length; i += KEYS_PER_MSG) parts.push(setElemPart(table, set, true, els.slice(i, i + KEYS_PER_MSG)));
  }
  return parts;
}

/**
 * Deletes keys. `atomic`: all in one batch (all or nothing, `dnswall forget`); else in batches
 * of PARTS_PER_BATCH messages (a reload revoking many).
 */
export async function deleteKeys(io: NftTransport, table: string, keys: Iterable<{ set: AllowSet; key: Buffer }>, atomic = false): Promise<void> {
  const parts = deleteParts(table, keys);
  if (parts.length === 0) return;
  if (atomic) return io.batch(parts);
  for (let i = 0; i < parts.length; i += PARTS_PER_BATCH) await io.batch(parts.slice(i, i + PARTS_PER_BATCH));
}
