// IdTable: element id → slot index of the book (expiry.ts), without a string or a Map entry per
// element. An id (elementId(): set index + key bytes, latin1) is kept as its bytes in an arena
// per id length; the table is open addressing with linear probing over an Int32Array and
// backward-shift deletion (no tombstones), each bucket's hash kept beside it. ~24 bytes per
// allow4 element instead of ~75 for a Map<string, number> entry with its key string. The hash is
// seeded per process, so DNS answers chosen to collide cannot be precomputed.
import { randomBytes } from 'crypto';

const EMPTY = -1;
const FIRST_BUCKETS = 1024;
const SEED = randomBytes(4).readInt32LE(0);

// The hash of an id of `len` characters: start(len), then step() per character, then finish().
const start = (len: number): number => SEED ^ len;
function step(h: number, c: number): number {
  h = Math.imul(h ^ c, 0x5bd1e995);
  return h ^ (h >>> 15);
}
function finish(h: number): number {
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

function hashId(id: string): number {
  let h = start(id.length);
  for (let i = 0; i < id.length; i++) h = step(h, id.charCodeAt(i));
  return finish(h);
}

/** hashId() of the id stored as bytes. */
function hashBytes(bytes: Uint8Array, off: number, len: number): number {
  let h = start(len);
  for (let i = 0; i < len; i++) h = step(h, bytes[off + i]);
  return finish(h);
}

/** The ids of one length, `len` bytes per row; freed rows are reused. */
class Arena {
  /** a Buffer, so idOf() decodes a row without making a view of it first */
  bytes: Buffer;
  rows = 0;
  readonly free: number[] = [];
  constructor(readonly len: number) {
    this.bytes = Buffer.alloc(len * 64);
  }

  take(): number {
    const r = this.free.pop();
    if (r !== undefined) return r;
    if ((this.rows + 1) * this.len > this.bytes.length) {
      const b = Buffer.alloc(this.bytes.length * 2);
      b.set(this.bytes);
      this.bytes = b;
    }
    return this.rows++;
  }
}

export class IdTable {
  private buckets: Int32Array = new Int32Array(FIRST_BUCKETS).fill(EMPTY);
  /**
   * The hash of each bucket's id, beside it: a probe compares hashes before it reads an id's
   * bytes, and a deletion's backward shift and a rehash never read them. At a million ids the
   * bytes of the ids a probe passes are a cache (and TLB) miss each; measured with
   * bench/revoke-scale.js, deleting 100k of 1M spent most of its time there.
   */
  private hashes: Int32Array = new Int32Array(FIRST_BUCKETS);
  private mask = FIRST_BUCKETS - 1;
  private count = 0;
  // Per slot: id length (0 = no id), row in the arena of that length (the hash is kept per bucket, not per slot).
  private lens: Uint16Array = new Uint16Array(0);
  private rows: Int32Array = new Int32Array(0);
  /** by id length (an array: a Map lookup per probe cost more than the probe) */
  private readonly arenas: (Arena | undefined)[] = [];

  /** `slots`: rows to allocate up front (calloc'ed: free until used), see bounds.ts. */
  constructor(private readonly slots = FIRST_BUCKETS) {}

  get size(): number {
    return this.count;
  }

  /** Makes room for `n` ids without rehashing on the way (a restore of many at once). */
  reserve(n: number): void {
    let size = this.buckets.length;
    while (n * 4 > size * 3) size *= 2;
    if (size !== this.buckets.length) this.rehash(size);
  }

  /** The slot of `id`, or -1. */
  get(id: string): number {
    const h = hashId(id);
    for (let b = h & this.mask; ; b = (b + 1) & this.mask) {
      const s = this.buckets[b];
      if (s === EMPTY) return -1;
      if (this.hashes[b] === h && this.equals(s, id)) return s;
    }
  }

  /**
   * get() of the id whose first character is `first` and whose other characters are the bytes
   * `rest` (elementId(set, key) without making it: a deletion notification's key).
   */
  getPrefixed(first: number, rest: Uint8Array): number {
    const len = rest.length + 1;
    let h = step(start(len), first);
    for (let i = 0; i < rest.length; i++) h = step(h, rest[i]);
    h = finish(h);
    for (let b = h & this.mask; ; b = (b + 1) & this.mask) {
      const s = this.buckets[b];
      if (s === EMPTY) return -1;
      if (this.hashes[b] === h && this.lens[s] === len && this.arenas[len]!.bytes[this.rows[s] * len] === first && this.equalsBytesAt(s, 1, rest, 0, rest.length)) return s;
    }
  }

  /** Records `id` (not in the table yet; latin1, 1..65535 characters) at `slot` (without an id). */
  set(id: string, slot: number): void {
    if (id.length === 0 || id.length > 65535) throw new RangeError(`element id of ${id.length} characters`);
    if ((this.count + 1) * 4 > this.buckets.length * 3) this.rehash(this.buckets.length * 2);
    if (slot >= this.lens.length) this.growSlots(slot + 1);
    let arena = this.arenas[id.length];
    if (!arena) {
      arena = new Arena(id.length);
      this.arenas[id.length] = arena;
    }
    const row = arena.take();
    const off = row * id.length;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      if (c > 255) {
        arena.free.push(row);
        throw new RangeError('element id is not latin1');
      }
      arena.bytes[off + i] = c;
    }
    const h = hashId(id);
    this.lens[slot] = id.length;
    this.rows[slot] = row;
    let b = h & this.mask;
    while (this.buckets[b] !== EMPTY) b = (b + 1) & this.mask;
    this.buckets[b] = slot;
    this.hashes[b] = h;
    this.count++;
  }

  /**
   * The slot of the id whose bytes are `bytes[off, off + len)` if present (`slot` is left
   * unused); else records it at `slot` (a slot without an id) and returns -1 — one probe for
   * both (a restore of many ids).
   */
  addBytes(bytes: Uint8Array, off: number, len: number, slot: number): number {
    if (len === 0 || len > 65535) throw new RangeError(`element id of ${len} bytes`);
    if ((this.count + 1) * 4 > this.buckets.length * 3) this.rehash(this.buckets.length * 2);
    const h = hashBytes(bytes, off, len);
    let b = h & this.mask;
    for (; this.buckets[b] !== EMPTY; b = (b + 1) & this.mask) if (this.hashes[b] === h && this.equalsBytes(this.buckets[b], bytes, off, len)) return this.buckets[b];
    const s = slot;
    if (s >= this.lens.length) this.growSlots(s + 1);
    let arena = this.arenas[len];
    if (!arena) {
      arena = new Arena(len);
      this.arenas[len] = arena;
    }
    const row = arena.take();
    const dst = arena.bytes;
    for (let i = 0, at = row * len; i < len; i++) dst[at + i] = bytes[off + i]; // no subarray object per id
    this.lens[s] = len;
    this.rows[s] = row;
    this.buckets[b] = s;
    this.hashes[b] = h;
    this.count++;
    return -1;
  }

  /** The id at `slot` (rebuilt from its bytes: for evictions and logs, not the hot path). */
  idOf(slot: number): string {
    const len = this.lens[slot];
    if (!len) return '';
    const at = this.rows[slot] * len;
    return this.arenas[len]!.bytes.toString('latin1', at, at + len);
  }

  /** Byte `i` of the id at `slot` (undefined past its end). */
  byteAt(slot: number, i: number): number | undefined {
    const len = this.lens[slot];
    return i < len ? this.arenas[len]!.bytes[this.rows[slot] * len + i] : undefined;
  }

  /** Are the id's bytes from `from` on, for `s.length` bytes, the characters of `s` (latin1)? */
  hasTextAt(slot: number, from: number, s: string): boolean {
    const len = this.lens[slot];
    if (from + s.length > len) return false;
    const bytes = this.arenas[len]!.bytes;
    const at = this.rows[slot] * len + from;
    for (let i = 0; i < s.length; i++) if (bytes[at + i] !== s.charCodeAt(i)) return false;
    return true;
  }

  /** Bytes `[from, to)` of the id at `slot` decoded as text, without rebuilding the id first. */
  textOf(slot: number, from: number, to: number, encoding: 'latin1' | 'utf8'): string {
    const len = this.lens[slot];
    const at = this.rows[slot] * len;
    return len ? this.arenas[len]!.bytes.toString(encoding, at + Math.min(from, len), at + Math.min(to, len)) : '';
  }

  /** Bytes of the id at `slot` (0: none). */
  lenOf(slot: number): number {
    return this.lens[slot];
  }

  /** Copies the id at `slot` into `out` at `at`; returns its length (a snapshot: no object per id). */
  copyInto(slot: number, out: Uint8Array, at: number): number {
    const len = this.lens[slot];
    if (!len) return 0;
    const src = this.arenas[len]!.bytes;
    for (let i = 0, from = this.rows[slot] * len; i < len; i++) out[at + i] = src[from + i];
    return len;
  }

  hasSlot(slot: number): boolean {
    return slot < this.lens.length && this.lens[slot] !== 0;
  }

  /** Slots that may hold an id: 0 .. slotLimit - 1. */
  get slotLimit(): number {
    return this.lens.length;
  }

  /** Removes the id at `slot`. */
  deleteSlot(slot: number): void {
    const len = this.lens[slot];
    if (!len) return;
    let i = this.hashOf(slot) & this.mask;
    while (this.buckets[i] !== slot) i = (i + 1) & this.mask;
    // Backward shift: pull later entries of the probe run into the hole, so lookups never stop early.
    for (let j = (i + 1) & this.mask; this.buckets[j] !== EMPTY; j = (j + 1) & this.mask) {
      const k = this.hashes[j] & this.mask;
      const reachable = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!reachable) {
        this.buckets[i] = this.buckets[j];
        this.hashes[i] = this.hashes[j];
        i = j;
      }
    }
    this.buckets[i] = EMPTY;
    this.arenas[len]!.free.push(this.rows[slot]);
    this.lens[slot] = 0;
    this.count--;
  }

  private hashOf(slot: number): number {
    const len = this.lens[slot];
    return hashBytes(this.arenas[len]!.bytes, this.rows[slot] * len, len);
  }

  private equals(slot: number, id: string): boolean {
    const len = this.lens[slot];
    if (len !== id.length) return false;
    const bytes = this.arenas[len]!.bytes;
    const off = this.rows[slot] * len;
    for (let i = 0; i < len; i++) if (bytes[off + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  private equalsBytes(slot: number, bytes: Uint8Array, off: number, len: number): boolean {
    return this.lens[slot] === len && this.equalsBytesAt(slot, 0, bytes, off, len);
  }

  /** Are the id's bytes from `from` on the `len` bytes of `bytes` at `off`? (the id is long enough) */
  private equalsBytesAt(slot: number, from: number, bytes: Uint8Array, off: number, len: number): boolean {
    const idLen = this.lens[slot];
    const mine = this.arenas[idLen]!.bytes;
    const at = this.rows[slot] * idLen + from;
    for (let i = 0; i < len; i++) if (mine[at + i] !== bytes[off + i]) return false;
    return true;
  }

  private growSlots(min: number): void {
    let n = Math.max(this.slots, 2 * this.lens.length);
    while (n < min) n *= 2;
    const lens = new Uint16Array(n);
    lens.set(this.lens);
    this.lens = lens;
    const rows = new Int32Array(n);
    rows.set(this.rows);
    this.rows = rows;
  }

  private rehash(n: number): void {
    const old = this.buckets;
    const oldHashes = this.hashes;
    this.buckets = new Int32Array(n).fill(EMPTY);
    this.hashes = new Int32Array(n);
    this.mask = n - 1;
    for (let o = 0; o < old.length; o++) {
      if (old[o] === EMPTY) continue;
      const h = oldHashes[o];
      let b = h & this.mask;
      while (this.buckets[b] !== EMPTY) b = (b + 1) & this.mask;
      this.buckets[b] = old[o];
      this.hashes[b] = h;
    }
  }
}
