// What dnswall last told the kernel about each element's life, so a refresh only ever
// extends it. On Linux 6.12+ re-adding an element with TIMEOUT and EXPIRATION resets its
// expiry to EXPIRATION, so a 5 s answer after a 60 s one would shorten it without this book.
import { performance } from 'perf_hooks';

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

export const DEFAULT_MAX_ENTRIES = 1_000_000;

export class ExpiryBook {
  private readonly lives = new Map<string, Life>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: { maxEntries?: number; now?: () => number } = {}) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.now = opts.now ?? (() => performance.now());
  }

  get size(): number {
    return this.lives.size;
  }

  /** Records the new timeout of `key` and returns TIMEOUT = max(new, known), EXPIRATION = max(new, known left) ≤ TIMEOUT. */
  refresh(key: string, timeoutMs: number): Refresh {
    const now = this.now();
    const known = this.lives.get(key);
    let timeout = timeoutMs, expiration = timeoutMs;
    if (known && known.expiresAt > now) {
      if (known.timeoutMs === Infinity) return {};
      timeout = Math.max(timeout, known.timeoutMs);
      expiration = Math.min(timeout, Math.max(expiration, Math.ceil(known.expiresAt - now)));
    }
    this.remember(key, { timeoutMs: timeout, expiresAt: now + expiration });
    return { timeoutMs: timeout, expirationMs: expiration };
  }

  /** Learns an element found in the kernel (restart: the live sets are the truth). */
  learn(key: string, timeoutMs: number | undefined, expiresInMs: number | undefined): void {
    const now = this.now();
    if (timeoutMs === undefined) this.remember(key, { timeoutMs: Infinity, expiresAt: Infinity });
    else this.remember(key, { timeoutMs, expiresAt: now + (expiresInMs ?? timeoutMs) });
  }

  forget(key: string): void {
    this.lives.delete(key);
  }

  get(key: string): Life | undefined {
    return this.lives.get(key);
  }

  /** Drops expired entries; returns how many. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const [k, v] of this.lives) if (v.expiresAt <= now) { this.lives.delete(k); n++; }
    return n;
  }

  private remember(key: string, life: Life): void {
    // Re-insert so Map order is oldest-written first: the cap evicts those.
    this.lives.delete(key);
    this.lives.set(key, life);
    if (this.lives.size > this.maxEntries) {
      // Evict down to 90% so a full book does not sweep on every insert.
      this.sweep();
      const target = Math.floor(this.maxEntries * 0.9);
      for (const k of this.lives.keys()) {
        if (this.lives.size <= target) break;
        this.lives.delete(k);
      }
    }
  }
}
