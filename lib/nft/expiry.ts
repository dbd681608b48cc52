// What dnswall last told the kernel about each element's life, so a refresh only ever
// extends it. On Linux 6.12+ re-adding an element with TIMEOUT and EXPIRATION resets its
// expiry to EXPIRATION, so a 5 s answer after a 60 s one would shorten it without this book.
// Each entry is also a Slot of the caps (bounds.ts): one Map entry and one object per live
// element, dropped when it expires (sweep), is removed (forget) or is evicted.
import { performance } from 'perf_hooks';
import { LAYOUTS, isAllowSet } from './keys';
import { Bounds, Slot, type BoundLimits, type OnEvict } from './bounds';

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
}

/** Who an element is for: the DNS name (lowercased) and elements per address (port rules). */
export interface Owner {
  name: string;
  width?: number;
}

export interface ExpiryBookOptions {
  limits?: Partial<BoundLimits>;
  /** An element a cap pushed out of the book: delete it from the kernel. */
  onEvict?: OnEvict;
  now?: () => number;
  /** @deprecated the total cap; use limits.maxElements */
  maxEntries?: number;
}

/** The source address bytes (hex) inside an element id `set:keyhex`. */
export function sourceOfId(id: string): string {
  const i = id.indexOf(':');
  const set = id.slice(0, i);
  if (i < 0 || !isAllowSet(set)) return '';
  return id.slice(i + 1, i + 1 + 2 * LAYOUTS[set].addrLen);
}

export const SWEEP_SLACK_MS = 5_000;

export class ExpiryBook {
  readonly bounds: Bounds;
  private readonly lives = new Map<string, Slot>();
  private readonly now: () => number;

  constructor(opts: ExpiryBookOptions = {}) {
    this.now = opts.now ?? (() => performance.now());
    const onEvict = opts.onEvict;
    this.bounds = new Bounds({ maxElements: opts.maxEntries, ...opts.limits }, (slot, cap, source, name) => {
      this.lives.delete(slot.id);
      onEvict?.(slot, cap, source, name);
    });
  }

  get size(): number {
    return this.lives.size;
  }

  /**
   * Records the new timeout of `key` and returns TIMEOUT = max(new, known), EXPIRATION = max(new,
   * known left) ≤ TIMEOUT. The element becomes the newest of its source and name (`owner`; absent:
   * keep the name it had), which may evict older ones.
   */
  refresh(key: string, timeoutMs: number, owner?: Owner): Refresh {
    const now = this.now();
    const known = this.lives.get(key);
    let timeout = timeoutMs, expiration = timeoutMs;
    if (known && known.expiresAt > now) {
      if (known.timeoutMs === Infinity) return {};
      timeout = Math.max(timeout, known.timeoutMs);
      expiration = Math.min(timeout, Math.max(expiration, Math.ceil(known.expiresAt - now)));
    }
    this.remember(key, timeout, now + expiration, owner);
    return { timeoutMs: timeout, expirationMs: expiration };
  }

  /** Learns an element found in the kernel (restart: the live sets are the truth). */
  learn(key: string, timeoutMs: number | undefined, expiresInMs: number | undefined): void {
    const now = this.now();
    if (timeoutMs === undefined) this.remember(key, Infinity, Infinity, undefined);
    else this.remember(key, timeoutMs, now + (expiresInMs ?? timeoutMs), undefined);
  }

  forget(key: string): void {
    const slot = this.lives.get(key);
    if (!slot) return;
    this.bounds.drop(slot);
    this.lives.delete(key);
  }

  get(key: string): Life | undefined {
    return this.lives.get(key);
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
    for (const [k, v] of this.lives) {
      if (v.expiresAt > now) continue;
      this.bounds.drop(v);
      this.lives.delete(k);
      n++;
    }
    return n;
  }

  private remember(key: string, timeoutMs: number, expiresAt: number, owner: Owner | undefined): void {
    let slot = this.lives.get(key);
    if (!slot) {
      slot = new Slot(key);
      this.lives.set(key, slot);
    }
    slot.timeoutMs = timeoutMs;
    slot.expiresAt = expiresAt;
    // A permanent element is not dnswall's to evict (someone added it by hand): not counted.
    if (timeoutMs === Infinity) { this.bounds.drop(slot); return; }
    const name = owner ? owner.name : slot.grp ? slot.grp.name : null;
    this.bounds.touch(slot, sourceOfId(key), name, owner?.width ?? 1);
  }
}
