// What dnswall last told the kernel about each element's life, so a refresh only ever
// extends it. On Linux 6.12+ re-adding an element with TIMEOUT and EXPIRATION resets its
// expiry to EXPIRATION, so a 5 s answer after a 60 s one would shorten it without this book.
// Each entry is also a slot of the caps (bounds.ts), which holds its life: one id in the
// IdTable (idtable.ts: binary id → slot index) and one row of typed arrays per live element,
// dropped when it expires (sweep), is removed (forget) or is evicted.
import { performance } from 'perf_hooks';
import { ALLOW_SETS, LAYOUTS, type AllowSet } from './keys';
import { Bounds, type BoundLimits, type Cap, type EvictedSlot } from './bounds';
import { IdTable } from './idtable';

export interface Life {
  /** ms, the element's NFTA_SET_ELEM_TIMEOUT; Infinity for a permanent element. */
  timeoutMs: number;
  /** performance.now() at which it expires. */
  expiresAt: number;
}

/** What to send: undefined values = leave out the attribute (keeps a permanent element permanent). */
export interface Refresh {
  timeoutMs?: number;
  expirationMs?: number;
  /** elements this refresh pushed out of the book (absent: none) */
  evicted?: Evicted[];
  /** this send's sequence number, for confirm() once the kernel committed it */
  seq: number;
  /** performance.now() before which the kernel surely holds the element once this send commits (Infinity: permanent) */
  until: number;
}

export interface ExpiryBookOptions {
  limits?: Partial<BoundLimits>;
  now?: () => number;
}

/** An element a cap pushed out of the book: the caller deletes it from the kernel. */
export interface Evicted {
  id: string;
  cap: Cap;
  /** the source key bytes, latin1 (sourceText() in owner.ts makes it readable) */
  source: string;
  name: string | null;
}

/**
 * An element's id: one character for its set (index in ALLOW_SETS), then its key bytes as
 * latin1 — one flat string of 9–41 bytes (hex would be twice that, plus the set's name).
 * Every id (add, remove, eviction, adoption) is built here.
 */
export function elementId(set: AllowSet, key: Buffer): string {
  const b = Buffer.allocUnsafe(1 + key.length);
  b[0] = ALLOW_SETS.indexOf(set);
  key.copy(b, 1);
  return b.toString('latin1');
}

/** The set and key bytes of an id from elementId(). */
export function parseId(id: string): { set: AllowSet; key: Buffer } {
  return { set: ALLOW_SETS[id.charCodeAt(0)], key: Buffer.from(id.slice(1), 'latin1') };
}

/** The source key bytes (latin1: an address or a cgroup id) inside an element id; '' if the id is not one. */
export function sourceOfId(id: string): string {
  const set = ALLOW_SETS[id.charCodeAt(0)];
  if (!set) return '';
  return id.slice(1, 1 + LAYOUTS[set].srcLen);
}

export const SWEEP_SLACK_MS = 5_000;

/** Rows for ExpiryBook.restoreRows (the state file's columns, state.ts). */
export interface RestoreRows {
  n: number;
  /** the ids, each at idAt[i] for idLen[i] bytes (set index, key bytes) */
  ids: Buffer;
  idAt: Int32Array;
  idLen: Uint8Array;
  timeouts: Float64Array;
  /** ms of life left (≤ 0: expired) */
  left: Float64Array;
  /** group index per row (-1: none) */
  groups: Int32Array;
  /** group keys (bounds.ts groupKey: source length, source, name as UTF-8), each at groupAt[g] for groupLen[g] bytes */
  groupKeys: Buffer;
  groupAt: Int32Array;
  groupLen: Uint16Array;
  widths: Uint16Array;
}

export class ExpiryBook {
  readonly bounds: Bounds;
  private readonly lives: IdTable;
  readonly now: () => number;
  private seq = 0;
  /** the slot remember() last wrote */
  private lastSlot = -1;

  constructor(opts: ExpiryBookOptions = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.bounds = new Bounds(opts.limits ?? {});
    this.lives = new IdTable(this.bounds.firstCapacity);
  }

  get size(): number {
    return this.lives.size;
  }

  /**
   * Records the new timeout of element `id` and returns TIMEOUT = max(new, known), EXPIRATION =
   * max(new, known left) ≤ TIMEOUT. The element becomes the newest of its source and of `name`
   * (the DNS name, lowercased; absent: keep the name it had), which may evict older ones.
   * `width`: elements per address of that name (port rules give one per allowed port).
   * What a cap pushed out is in `evicted`: gone from the book, still to be deleted from the kernel.
   */
  refresh(id: string, timeoutMs: number, name?: string, width = 1): Refresh {
    const now = this.now();
    const slot = this.lives.get(id);
    let timeout = timeoutMs,
      expiration = timeoutMs;
    if (slot >= 0) {
      const knownTimeout = this.bounds.timeoutOf(slot),
        knownExpiry = this.bounds.expiresAtOf(slot);
      if (knownExpiry > now) {
        if (knownTimeout === Infinity) {
          const seq = ++this.seq;
          this.bounds.setSent(slot, seq);
          return { seq, until: Infinity };
        }
        timeout = Math.max(timeout, knownTimeout);
        expiration = Math.min(timeout, Math.max(expiration, Math.ceil(knownExpiry - now)));
      }
    }
    const evicted = this.remember(id, slot, timeout, now + expiration, name ?? null, width);
    const seq = ++this.seq;
    this.bounds.setSent(this.lastSlot, seq);
    const r: Refresh = { timeoutMs: timeout, expirationMs: expiration, seq, until: now + expiration };
    if (evicted) r.evicted = evicted;
    return r;
  }

  /**
   * The kernel committed send `seq` of element `id`: until `until` it surely holds it (unless
   * something deletes it: untrust()). An older send's ack confirms nothing (a newer one is pending).
   */
  confirm(id: string, seq: number, until: number): void {
    const slot = this.lives.get(id);
    if (slot >= 0 && this.bounds.sentOf(slot) === seq && until > this.bounds.trustedOf(slot)) this.bounds.setTrusted(slot, until);
  }

  /** Does the kernel surely hold element `id` for at least `ms` more? (committed by us, not deleted since) */
  trustedFor(id: string, ms: number): boolean {
    const slot = this.lives.get(id);
    if (slot < 0) return false;
    // An untrusted row (0) or one no longer held vouches for nothing, even when `ms` ≤ 0 (an
    // answer whose timeout is below the slack).
    const left = this.bounds.trustedOf(slot) - this.now();
    return left > 0 && left >= ms;
  }

  /** Something deleted the element (or may have): the next answer must send it again. */
  untrust(id: string): void {
    const slot = this.lives.get(id);
    if (slot >= 0) this.bounds.setTrusted(slot, 0);
  }

  /** untrust(elementId(set, key)) without making the id (one per deletion notification). */
  untrustKey(set: AllowSet, key: Uint8Array): void {
    const slot = this.lives.getPrefixed(ALLOW_SETS.indexOf(set), key);
    if (slot >= 0) this.bounds.setTrusted(slot, 0);
  }

  untrustAll(): void {
    this.bounds.untrustAll();
  }

  /**
   * Learns an element found in the kernel (restart: the live sets are the truth). Returns what
   * the source and total caps pushed out for it (null: nothing), to delete from the kernel.
   */
  learn(id: string, timeoutMs: number | undefined, expiresInMs: number | undefined, name: string | null = null): Evicted[] | null {
    const now = this.now();
    const slot = this.lives.get(id);
    if (timeoutMs === undefined) return this.remember(id, slot, Infinity, Infinity, null, 1);
    // The name (from the element's whole comment) is linked; its cap waits for a refresh that knows the width.
    return this.remember(id, slot, timeoutMs, now + (expiresInMs ?? timeoutMs), name, 1, false);
  }

  /**
   * Every live element by (source, name) group, for a revocation that needs no kernel read:
   * `visit(source, name)` answers for a group — true keeps all of it, false deletes all, a
   * function decides each element (true: keep). Elements without a name are counted as
   * `unnamed` and kept; permanent ones (added by hand) are not dnswall's and not visited.
   * Returns the slots to delete (the caller removes them: keyAt, forgetSlot; the book is not
   * changed here), not ids: a reload may revoke 100k of 1M, and an id string per element cost
   * its making, a hash lookup to forget it and a parse back into a key. Every group of one
   * source gets the same `source` Buffer.
   */
  revocations(visit: (source: Buffer, name: string) => boolean | ((set: AllowSet, key: Buffer) => boolean)): { checked: number; unnamed: number; doomed: number[] } {
    const b = this.bounds;
    const doomed: number[] = [];
    let checked = 0;
    let unnamed = 0;
    // One Buffer per source (few sources, many names): visitors may key caches on it.
    const sources = new Map<string, Buffer>();
    b.forEachGroup((g, source, name) => {
      let src = sources.get(source);
      if (!src) sources.set(source, (src = Buffer.from(source, 'latin1')));
      const verdict = visit(src, name);
      b.forEachInGroup(g, (slot) => {
        checked++;
        if (verdict === true) return;
        if (verdict === false) {
          doomed.push(slot);
          return;
        }
        const { set, key } = this.keyAt(slot);
        if (!verdict(set, key)) doomed.push(slot);
      });
    });
    b.forEachUnnamed(() => {
      checked++;
      unnamed++;
    });
    return { checked, unnamed, doomed };
  }

  /**
   * The elements of a few sources, for a revocation that needs no kernel read and no walk of the
   * whole book (a pod deleted or relabelled): per source key (bytes, latin1), null deletes all of
   * its elements, else `keep(name, set, key)` decides each named one; an element without a name
   * is kept (a cut name is never a basis to revoke). Returns the ids to delete (the book is not
   * changed here).
   */
  revocationsOf(plan: ReadonlyMap<string, ((name: string, set: AllowSet, key: Buffer) => boolean) | null>): { checked: number; doomed: string[] } {
    const doomed: string[] = [];
    let checked = 0;
    for (const [source, keep] of plan) {
      this.bounds.forEachOfSource(source, (slot) => {
        checked++;
        const id = this.lives.idOf(slot);
        if (keep === null) {
          doomed.push(id);
          return;
        }
        const name = this.bounds.nameOf(slot);
        if (name === null) return;
        const { set, key } = parseId(id);
        if (!keep(name, set, key)) doomed.push(id);
      });
    }
    return { checked, doomed };
  }

  /** The set and key bytes of the live element at `slot` (a copy: the slot may be reused). */
  keyAt(slot: number): { set: AllowSet; key: Buffer } {
    const b = Buffer.allocUnsafe(this.lives.lenOf(slot));
    this.lives.copyInto(slot, b, 0);
    return { set: ALLOW_SETS[b[0]], key: b.subarray(1) };
  }

  /** The id of the live element at `slot` ('' when none). */
  idAt(slot: number): string {
    return this.lives.idOf(slot);
  }

  /** forget() by slot (revocations() hands out slots). */
  forgetSlot(slot: number): void {
    if (!this.lives.hasSlot(slot)) return;
    this.bounds.free(slot);
    this.lives.deleteSlot(slot);
  }

  /** Makes room for `elements` more entries and `groups` more (source, name) groups (a restore). */
  reserve(elements: number, groups: number): void {
    this.lives.reserve(this.lives.size + elements);
    this.bounds.reserveGroups(this.bounds.sizes.names + groups);
  }

  /**
   * Restores many elements at once (the state file; no string per element): row i is the id
   * `ids[idAt[i], idAt[i] + idLen[i])`, its timeout and life left (≤ 0: expired, skipped), its
   * group (an index into the group keys, -1: none). Like learn() for each: untrusted, the name's
   * cap left to the next refresh (its width kept); an element the book knows already (heard from
   * the watch since: newer) is left as it is. Returns what the source and total caps pushed out
   * (to delete from the kernel).
   */
  restoreRows(r: RestoreRows): { restored: number; skipped: number; evicted: Evicted[] } {
    const b = this.bounds;
    const now = this.now();
    const rowOf = new Int32Array(r.groupAt.length).fill(-1);
    const evicted: Evicted[] = [];
    let restored = 0;
    let skipped = 0;
    for (let i = 0; i < r.n; i++) {
      const left = r.left[i];
      if (!(left > 0)) {
        skipped++;
        continue;
      }
      const off = r.idAt[i];
      const len = r.idLen[i];
      const slot = b.alloc();
      if (this.lives.addBytes(r.ids, off, len, slot) >= 0) {
        b.free(slot); // heard from the watch since: newer, kept
        continue;
      }
      restored++;
      const timeout = r.timeouts[i];
      b.setLife(slot, timeout, timeout === Infinity ? Infinity : now + left);
      if (timeout === Infinity) continue; // permanent: not counted (as remember())
      const source = r.ids.toString('latin1', off + 1, off + 1 + LAYOUTS[ALLOW_SETS[r.ids[off]]].srcLen);
      const gi = r.groups[i];
      let g = -1;
      if (gi >= 0) {
        g = rowOf[gi];
        if (g < 0) g = rowOf[gi] = b.groupOfKeyBytes(r.groupKeys, r.groupAt[gi], r.groupLen[gi]);
      }
      const out = b.linkNew(slot, source, g, gi >= 0 ? r.widths[gi] : 1);
      if (out) {
        for (const e of out) evicted.push(this.release(e));
        rowOf.fill(-1); // an evicted group's row may be freed and reused
      }
    }
    return { restored, skipped, evicted };
  }

  /**
   * Every entry for the state file: linked ones oldest-programmed first (the caps' order), then
   * permanent ones. `group`: the (source, name) group's row in `bounds` (-1: none). Do not change
   * the book meanwhile; idLenOf/copyId read an entry's id.
   */
  forEachEntry(fn: (slot: number, timeoutMs: number, expiresAt: number, group: number) => void): void {
    const b = this.bounds;
    b.forEachLinked((slot) => fn(slot, b.timeoutOf(slot), b.expiresAtOf(slot), b.groupOf(slot)));
    for (let slot = 0, end = this.lives.slotLimit; slot < end; slot++) {
      if (this.lives.hasSlot(slot) && b.timeoutOf(slot) === Infinity) fn(slot, Infinity, Infinity, -1);
    }
  }

  idLenOf(slot: number): number {
    return this.lives.lenOf(slot);
  }

  /** Copies the id of entry `slot` into `out` at `at`; returns its length. */
  copyId(slot: number, out: Uint8Array, at: number): number {
    return this.lives.copyInto(slot, out, at);
  }

  forget(id: string): void {
    const slot = this.lives.get(id);
    if (slot >= 0) this.forgetSlot(slot);
  }

  has(id: string): boolean {
    return this.lives.get(id) >= 0;
  }

  /** A copy of the element's life (nothing is kept per element but the book's rows). */
  get(id: string): Life | undefined {
    const slot = this.lives.get(id);
    return slot < 0 ? undefined : { timeoutMs: this.bounds.timeoutOf(slot), expiresAt: this.bounds.expiresAtOf(slot) };
  }

  /** The name the caps count the element under (null: none yet, e.g. adopted). */
  nameOf(id: string): string | null {
    const slot = this.lives.get(id);
    return slot < 0 ? null : this.bounds.nameOf(slot);
  }

  /**
   * Drops entries expired more than SWEEP_SLACK_MS ago; returns how many. The slack keeps an
   * element counted until the kernel's own garbage collection (every second) has surely taken
   * it, so the daemon's count never falls below the kernel's and a set at its size never
   * refuses an add (ENFILE).
   */
  sweep(): number {
    const now = this.now() - SWEEP_SLACK_MS;
    let n = 0;
    for (let slot = 0, end = this.lives.slotLimit; slot < end; slot++) {
      if (!this.lives.hasSlot(slot) || this.bounds.expiresAtOf(slot) > now) continue;
      this.bounds.free(slot);
      this.lives.deleteSlot(slot);
      n++;
    }
    return n;
  }

  private remember(id: string, known: number, timeoutMs: number, expiresAt: number, name: string | null, width: number, capName = true): Evicted[] | null {
    let slot = known;
    if (slot < 0) {
      slot = this.bounds.alloc();
      this.lives.set(id, slot);
    }
    this.bounds.setLife(slot, timeoutMs, expiresAt);
    this.lastSlot = slot;
    // A permanent element is not dnswall's to evict (someone added it by hand): not counted.
    if (timeoutMs === Infinity) {
      this.bounds.drop(slot);
      return null;
    }
    const out = this.bounds.touch(slot, sourceOfId(id), name, width, capName);
    return out && out.map((e) => this.release(e));
  }

  /** Reload: new caps; what they push out is freed and returned (to delete from the kernel). */
  setLimits(limits: Partial<BoundLimits>): Evicted[] {
    return this.bounds.setLimits(limits).map((e) => this.release(e));
  }

  /** Frees an evicted slot and says which element it was. */
  private release(e: EvictedSlot): Evicted {
    const id = this.lives.idOf(e.slot);
    this.lives.deleteSlot(e.slot);
    this.bounds.free(e.slot);
    return { id, cap: e.cap, source: e.source, name: e.name };
  }
}
