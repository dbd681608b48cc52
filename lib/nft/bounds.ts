// Bounds: the caps on live elements — per (source, name), per source, in all allow sets together.
// Every element the book knows is a slot (an index) on three intrusive doubly linked lists (all
// elements, its source's, its name's), oldest-programmed at the head; a refresh moves it to the
// tail. Linking, unlinking and evicting the head are O(1), and a group is dropped when it empties,
// so memory follows the live elements.
// Memory (1M live elements): a slot is a row of typed arrays — its life as two doubles,
// its links and group as int32 — so it costs no object of its own (its id is in idtable.ts);
// a (source, name) group is a row too, its key (source + name) held once, as bytes, in an
// IdTable of its own: no string, Map entry or object per group either.

export interface BoundLimits {
  /** live elements in all allow sets together */
  maxElements: number;
  /** live elements of one source */
  maxElementsPerSource: number;
  /** live addresses of one (source, name) */
  maxAddressesPerName: number;
}

export type Cap = 'perName' | 'perSource' | 'total';

/** Without limits only the total is capped (the daemon passes the config's, see lib/config). */
import { IdTable } from './idtable';

export const DEFAULT_LIMITS: BoundLimits = { maxElements: 1_000_000, maxElementsPerSource: Infinity, maxAddressesPerName: Infinity };

/** No slot / no group. */
const NONE = -1;
const FIRST_CAPACITY = 1024;
/**
 * Rows are allocated for the total cap up front when it is at most this: calloc'ed pages cost
 * nothing until a row is used (rows are written only when taken), and the tables never grow —
 * growing by copying left ~25 MiB of freed arrays in malloc's heap at 1M elements.
 */
const PREALLOCATE_MAX = 4_000_000;
/** Beyond the total cap: the element being added, and permanent elements (not counted). */
const SPARE_ROWS = 1024;

interface SourceGroup {
  /** the source address bytes, latin1 (as in the element id) */
  key: string;
  idx: number;
  count: number;
  head: number;
  tail: number;
}

/** IdTable keeps at most this many bytes per key; a longer name is cut (it only shares a cap). */
const MAX_GROUP_KEY = 4096;

/** The (source, name) group's key: source length, source bytes, the name as UTF-8 bytes (latin1). */
function groupKey(source: string, name: string): string {
  let ascii = true;
  for (let i = 0; i < name.length; i++)
    if (name.charCodeAt(i) > 127) {
      ascii = false;
      break;
    }
  const k = String.fromCharCode(source.length) + source + (ascii ? name : Buffer.from(name, 'utf8').toString('latin1'));
  return k.length > MAX_GROUP_KEY ? k.slice(0, MAX_GROUP_KEY) : k;
}

function nameOfKey(key: string): string {
  const start = 1 + key.charCodeAt(0);
  for (let i = start; i < key.length; i++) if (key.charCodeAt(i) > 127) return Buffer.from(key.slice(start), 'latin1').toString('utf8');
  return key.slice(start); // ASCII (every DNS name in practice): the bytes are the characters
}

/** A slot a cap pushed out: off every list but not yet free (its owner reads its id, then frees it). */
export interface EvictedSlot {
  slot: number;
  cap: Cap;
  /** the source key bytes, latin1 */
  source: string;
  name: string | null;
}

// Rows are written when taken, so new rows need no fill (untouched pages stay free).
function grownF64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}
function grownI32(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

export class Bounds {
  readonly evictions = { perName: 0, perSource: 0, total: 0 };
  readonly limits: BoundLimits;
  private readonly sources = new Map<string, SourceGroup>();
  private head = NONE;
  private tail = NONE;
  private count = 0;
  // Slots: row i of each array; rows below slotTop were used. A free one is chained through gNext from freeSlot.
  /** Rows allocated at first (the total cap, when not huge). */
  readonly firstCapacity: number;
  private slotCap = 0;
  private slotTop = 0;
  private freeSlot = NONE;
  /** index into srcTable */
  private srcIdx: Int32Array = new Int32Array(0);
  private readonly srcTable: (SourceGroup | null)[] = [];
  private readonly freeSrc: number[] = [];
  private timeouts: Float64Array = new Float64Array(0);
  private expiries: Float64Array = new Float64Array(0);
  /** what the kernel is known to hold: a lower bound of its expiry (0: unknown); see ExpiryBook.trustedFor */
  private trusted: Float64Array = new Float64Array(0);
  /** the sequence number of the element's last send (an ack confirms only the newest) */
  private sent: Float64Array = new Float64Array(0);
  private grpOf: Int32Array = new Int32Array(0);
  private gPrev: Int32Array = new Int32Array(0);
  private gNext: Int32Array = new Int32Array(0);
  private sPrev: Int32Array = new Int32Array(0);
  private sNext: Int32Array = new Int32Array(0);
  private nPrev: Int32Array = new Int32Array(0);
  private nNext: Int32Array = new Int32Array(0);
  // (source, name) groups: row g; a free group is chained through grpHead.
  private grpCap = 0;
  private grpTop = 0;
  private freeGrp = NONE;
  private readonly groups: IdTable;
  private grpCount: Int32Array = new Int32Array(0);
  private grpHead: Int32Array = new Int32Array(0);
  private grpTail: Int32Array = new Int32Array(0);
  /** elements per address (port rules: one element per allowed port); the cap is addresses × width */
  private grpWidth: Uint16Array = new Uint16Array(0);

  constructor(limits: Partial<BoundLimits>) {
    const l = { ...DEFAULT_LIMITS };
    for (const k of Object.keys(l) as (keyof BoundLimits)[]) {
      const v = limits[k];
      if (typeof v === 'number' && v > 0) l[k] = v === Infinity ? v : Math.max(1, Math.floor(v));
    }
    this.limits = l;
    this.firstCapacity = l.maxElements <= PREALLOCATE_MAX ? l.maxElements + SPARE_ROWS : FIRST_CAPACITY;
    this.groups = new IdTable(this.firstCapacity);
  }

  /** Linked elements, sources, (source, name) groups: what the caps bound. */
  get sizes(): { elements: number; sources: number; names: number } {
    return { elements: this.count, sources: this.sources.size, names: this.groups.size };
  }

  /** A new, unlinked slot. */
  alloc(): number {
    let i = this.freeSlot;
    if (i !== NONE) this.freeSlot = this.gNext[i];
    else {
      if (this.slotTop === this.slotCap) this.growSlots();
      i = this.slotTop++;
    }
    this.srcIdx[i] = NONE;
    this.grpOf[i] = NONE;
    this.gPrev[i] = this.gNext[i] = this.sPrev[i] = this.sNext[i] = this.nPrev[i] = this.nNext[i] = NONE;
    this.timeouts[i] = this.expiries[i] = this.trusted[i] = this.sent[i] = 0;
    return i;
  }

  /** Takes slot `i` off every list and makes it free. */
  free(i: number): void {
    this.drop(i);
    this.gNext[i] = this.freeSlot;
    this.freeSlot = i;
  }

  timeoutOf(i: number): number {
    return this.timeouts[i];
  }
  expiresAtOf(i: number): number {
    return this.expiries[i];
  }
  setLife(i: number, timeoutMs: number, expiresAt: number): void {
    this.timeouts[i] = timeoutMs;
    this.expiries[i] = expiresAt;
  }
  trustedOf(i: number): number {
    return this.trusted[i];
  }
  setTrusted(i: number, until: number): void {
    this.trusted[i] = until;
  }
  untrustAll(): void {
    this.trusted.fill(0);
  }
  sentOf(i: number): number {
    return this.sent[i];
  }
  setSent(i: number, seq: number): void {
    this.sent[i] = seq;
  }
  private srcOf(i: number): SourceGroup | null {
    const x = this.srcIdx[i];
    return x === NONE ? null : this.srcTable[x];
  }

  /** The name the element's (source, name) group holds; null if none yet. */
  nameOf(i: number): string | null {
    const g = this.grpOf[i];
    return g === NONE ? null : nameOfKey(this.groups.idOf(g));
  }

  /**
   * Makes slot `i` the newest element of all, of `source` and of `name` (null: keep its name, or
   * none, e.g. adopted from the kernel — only the source and total caps apply until a refresh
   * names it), then evicts the oldest elements of whichever group is over its cap and returns
   * them (null: none), unlinked but not freed: the caller frees them and deletes them from the kernel.
   * `capName` false: link the name but leave its cap to the next refresh (an element learned
   * from the kernel: its width — elements per address — is not known yet).
   */
  touch(i: number, source: string, name: string | null, width = 1, capName = true): EvictedSlot[] | null {
    let out: EvictedSlot[] | null = null;
    const cur = this.srcOf(i);
    if (cur && cur.key !== source) this.drop(i);
    this.unlinkGlobal(i);
    this.linkGlobal(i);
    let src = this.srcOf(i);
    if (src) this.unlinkSource(i);
    else {
      src = this.sources.get(source) ?? this.newSource(source);
      this.srcIdx[i] = src.idx;
    }
    this.linkSource(src, i);
    const key = name === null ? null : groupKey(source, name);
    if (this.grpOf[i] !== NONE && key !== null && this.groups.get(key) !== this.grpOf[i]) this.unlinkName(i);
    let g = this.grpOf[i];
    if (g !== NONE) this.unlinkNameKeep(g, i);
    else if (key !== null) {
      g = this.groups.get(key);
      if (g < 0) g = this.newName(key);
      this.grpOf[i] = g;
    }
    if (g !== NONE) {
      this.linkName(g, i);
      if (width > this.grpWidth[g]) this.grpWidth[g] = Math.min(width, 0xffff);
      const cap = capName ? this.limits.maxAddressesPerName * this.grpWidth[g] : Infinity;
      // g stays alive while i is on it, so its rows are re-read after every eviction.
      while (this.grpCount[g] > cap && this.grpHead[g] !== NONE && this.grpHead[g] !== i) (out ??= []).push(this.evict(this.grpHead[g], 'perName'));
    }
    while (src.count > this.limits.maxElementsPerSource && src.head !== NONE && src.head !== i) (out ??= []).push(this.evict(src.head, 'perSource'));
    while (this.count > this.limits.maxElements && this.head !== NONE && this.head !== i) (out ??= []).push(this.evict(this.head, 'total'));
    return out;
  }

  /**
   * Reload: new caps. Every group now over its cap loses its oldest elements at once (as touch
   * would on its next element); returns how many were evicted.
   */
  setLimits(limits: Partial<BoundLimits>): EvictedSlot[] {
    for (const k of Object.keys(this.limits) as (keyof BoundLimits)[]) {
      const v = limits[k];
      if (typeof v === 'number' && v > 0) this.limits[k] = v === Infinity ? v : Math.max(1, Math.floor(v));
    }
    const out: EvictedSlot[] = [];
    for (let g = 0; g < this.grpTop; g++) {
      // free rows have no elements (count 0); a live group's cap is addresses × its width
      while (this.grpCount[g] > this.limits.maxAddressesPerName * this.grpWidth[g] && this.grpHead[g] !== NONE) out.push(this.evict(this.grpHead[g], 'perName'));
    }
    for (const src of [...this.sources.values()]) {
      while (src.count > this.limits.maxElementsPerSource && src.head !== NONE) out.push(this.evict(src.head, 'perSource'));
    }
    while (this.count > this.limits.maxElements && this.head !== NONE) out.push(this.evict(this.head, 'total'));
    return out;
  }

  /**
   * Every (source, name) group with elements: its index, source key bytes (latin1) and name.
   * Read from the group key's bytes (no key string per group; the source string is the source
   * row's own when the group's first element has one — a reload walks a million groups).
   */
  forEachGroup(fn: (g: number, source: string, name: string) => void): void {
    const groups = this.groups;
    for (let g = 0; g < this.grpTop; g++) {
      if (this.grpCount[g] === 0) continue; // a free row
      const srcLen = groups.byteAt(g, 0) ?? 0;
      const src = this.srcOf(this.grpHead[g]);
      const source = src && src.key.length === srcLen && groups.hasTextAt(g, 1, src.key) ? src.key : groups.textOf(g, 1, 1 + srcLen, 'latin1');
      fn(g, source, groups.textOf(g, 1 + srcLen, MAX_GROUP_KEY, 'utf8'));
    }
  }

  /** The slots of source `source` (key bytes, latin1), oldest first; none if it holds nothing (do not change the book meanwhile). */
  forEachOfSource(source: string, fn: (slot: number) => void): void {
    const s = this.sources.get(source);
    if (!s) return;
    for (let i = s.head; i !== NONE; i = this.sNext[i]) fn(i);
  }

  /** The slots of group `g` (do not change the book meanwhile). */
  forEachInGroup(g: number, fn: (slot: number) => void): void {
    for (let i = this.grpHead[g]; i !== NONE; i = this.nNext[i]) fn(i);
  }

  /** Makes room for `n` (source, name) groups at once (a restore). */
  reserveGroups(n: number): void {
    this.groups.reserve(n);
  }

  /** The row of the (source, name) group whose key is `bytes[off, off + len)`, made if absent (a restore). */
  groupOfKeyBytes(bytes: Uint8Array, off: number, len: number): number {
    const made = this.newNameRow();
    const g = this.groups.addBytes(bytes, off, len, made);
    if (g < 0) return made;
    this.grpHead[made] = this.freeGrp; // known already (heard from the watch): the new row goes back
    this.freeGrp = made;
    return g;
  }

  /**
   * Links a new slot (from alloc()) as the newest element of all, of `source` and of group `g`
   * (-1: none) with `width`, as touch() would with the name's cap left to the next refresh (an
   * element restored from the state file); returns what the source and total caps pushed out.
   */
  linkNew(i: number, source: string, g: number, width: number): EvictedSlot[] | null {
    this.linkGlobal(i);
    const src = this.sources.get(source) ?? this.newSource(source);
    this.srcIdx[i] = src.idx;
    this.linkSource(src, i);
    if (g !== NONE) {
      this.grpOf[i] = g;
      this.linkName(g, i);
      if (width > this.grpWidth[g]) this.grpWidth[g] = Math.min(width, 0xffff);
    }
    let out: EvictedSlot[] | null = null;
    while (src.count > this.limits.maxElementsPerSource && src.head !== NONE && src.head !== i) (out ??= []).push(this.evict(src.head, 'perSource'));
    while (this.count > this.limits.maxElements && this.head !== NONE && this.head !== i) (out ??= []).push(this.evict(this.head, 'total'));
    return out;
  }

  /** Every linked (counted) slot, oldest-programmed first (the state file keeps this order). */
  forEachLinked(fn: (slot: number) => void): void {
    for (let i = this.head; i !== NONE; i = this.gNext[i]) fn(i);
  }

  /** The (source, name) group of slot `i` (-1: none). */
  groupOf(i: number): number {
    return this.grpOf[i];
  }

  /** Group `g`'s key (source length, source bytes, name as UTF-8): its length, a copy; and its width (elements per address). */
  groupKeyLenOf(g: number): number {
    return this.groups.lenOf(g);
  }
  copyGroupKey(g: number, out: Uint8Array, at: number): number {
    return this.groups.copyInto(g, out, at);
  }
  widthOf(g: number): number {
    return this.grpWidth[g];
  }

  /** Rows that may hold a group: 0 .. groupLimit - 1. */
  get groupLimit(): number {
    return this.grpTop;
  }

  /** Linked (counted) slots without a name: learned from the kernel with a cut comment, or none. */
  forEachUnnamed(fn: (slot: number) => void): void {
    for (let i = this.head; i !== NONE; i = this.gNext[i]) if (this.grpOf[i] === NONE) fn(i);
  }

  /** Takes slot `i` off every list (expired, removed, or permanent now). */
  drop(i: number): void {
    const src = this.srcOf(i);
    if (!src) return;
    if (this.grpOf[i] !== NONE) this.unlinkName(i);
    this.unlinkSource(i);
    this.srcIdx[i] = NONE;
    if (src.count === 0) {
      this.sources.delete(src.key);
      this.srcTable[src.idx] = null;
      this.freeSrc.push(src.idx);
    }
    this.unlinkGlobal(i);
  }

  private evict(victim: number, cap: Cap): EvictedSlot {
    const source = this.srcOf(victim)!.key;
    const name = this.nameOf(victim);
    this.drop(victim);
    this.evictions[cap]++;
    return { slot: victim, cap, source, name };
  }

  private growSlots(): void {
    const n = this.slotCap === 0 ? this.firstCapacity : this.slotCap * 2;
    this.timeouts = grownF64(this.timeouts, n);
    this.expiries = grownF64(this.expiries, n);
    this.trusted = grownF64(this.trusted, n);
    this.sent = grownF64(this.sent, n);
    this.grpOf = grownI32(this.grpOf, n);
    this.srcIdx = grownI32(this.srcIdx, n);
    this.gPrev = grownI32(this.gPrev, n);
    this.gNext = grownI32(this.gNext, n);
    this.sPrev = grownI32(this.sPrev, n);
    this.sNext = grownI32(this.sNext, n);
    this.nPrev = grownI32(this.nPrev, n);
    this.nNext = grownI32(this.nNext, n);
    this.slotCap = n;
  }

  private growGroups(): void {
    const n = this.grpCap === 0 ? this.firstCapacity : this.grpCap * 2;
    this.grpCount = grownI32(this.grpCount, n);
    this.grpHead = grownI32(this.grpHead, n);
    this.grpTail = grownI32(this.grpTail, n);
    const w = new Uint16Array(n);
    w.set(this.grpWidth);
    this.grpWidth = w;
    this.grpCap = n;
  }

  private newSource(key: string): SourceGroup {
    const idx = this.freeSrc.pop() ?? this.srcTable.length;
    const s: SourceGroup = { key, idx, count: 0, head: NONE, tail: NONE };
    this.srcTable[idx] = s;
    this.sources.set(key, s);
    return s;
  }

  private newName(key: string): number {
    const g = this.newNameRow();
    this.groups.set(key, g);
    return g;
  }

  /** A new, empty group row (its key is recorded by the caller). */
  private newNameRow(): number {
    let g = this.freeGrp;
    if (g !== NONE) this.freeGrp = this.grpHead[g];
    else {
      if (this.grpTop === this.grpCap) this.growGroups();
      g = this.grpTop++;
    }
    this.grpCount[g] = 0;
    this.grpHead[g] = this.grpTail[g] = NONE;
    this.grpWidth[g] = 1;
    return g;
  }

  private linkGlobal(i: number): void {
    this.gPrev[i] = this.tail;
    this.gNext[i] = NONE;
    if (this.tail !== NONE) this.gNext[this.tail] = i;
    else this.head = i;
    this.tail = i;
    this.count++;
  }

  private unlinkGlobal(i: number): void {
    const p = this.gPrev[i],
      n = this.gNext[i];
    if (p === NONE && this.head !== i) return; // not linked
    if (p !== NONE) this.gNext[p] = n;
    else this.head = n;
    if (n !== NONE) this.gPrev[n] = p;
    else this.tail = p;
    this.gPrev[i] = this.gNext[i] = NONE;
    this.count--;
  }

  private linkSource(s: SourceGroup, i: number): void {
    this.sPrev[i] = s.tail;
    this.sNext[i] = NONE;
    if (s.tail !== NONE) this.sNext[s.tail] = i;
    else s.head = i;
    s.tail = i;
    s.count++;
  }

  private unlinkSource(i: number): void {
    const s = this.srcOf(i)!;
    const p = this.sPrev[i],
      n = this.sNext[i];
    if (p !== NONE) this.sNext[p] = n;
    else s.head = n;
    if (n !== NONE) this.sPrev[n] = p;
    else s.tail = p;
    this.sPrev[i] = this.sNext[i] = NONE;
    s.count--;
  }

  private linkName(g: number, i: number): void {
    this.nPrev[i] = this.grpTail[g];
    this.nNext[i] = NONE;
    if (this.grpTail[g] !== NONE) this.nNext[this.grpTail[g]] = i;
    else this.grpHead[g] = i;
    this.grpTail[g] = i;
    this.grpCount[g]++;
  }

  /** Off its name's list, keeping the group (it is re-linked at once). */
  private unlinkNameKeep(g: number, i: number): void {
    const p = this.nPrev[i],
      n = this.nNext[i];
    if (p !== NONE) this.nNext[p] = n;
    else this.grpHead[g] = n;
    if (n !== NONE) this.nPrev[n] = p;
    else this.grpTail[g] = p;
    this.nPrev[i] = this.nNext[i] = NONE;
    this.grpCount[g]--;
  }

  /** Off its name's list for good; an empty group is dropped (its row freed). */
  private unlinkName(i: number): void {
    const g = this.grpOf[i];
    this.unlinkNameKeep(g, i);
    this.grpOf[i] = NONE;
    if (this.grpCount[g] === 0) {
      this.groups.deleteSlot(g);
      this.grpHead[g] = this.freeGrp;
      this.freeGrp = g;
    }
  }
}
