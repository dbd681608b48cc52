// What dnswall told whom, and how it ended: per (source, destination) the last answer that
// programmed it (name, when, until when, ports) and, if it ended early, why (evicted by a cap).
// Bounded (least recently answered forgotten first), so memory stays flat however many names
// churn. `classify` turns a logged drop into the reason a user asked for.
//
// Recording is on the answer path (every committed element), so it is O(1) and builds nothing:
// a fixed 4-way set-associative table of typed arrays keyed by the element's own key bytes (no
// text, no Map, no object per answer); text is made only when a drop is classified (at most
// drops.perSecond per chain: the kernel rate-limits the log).
import ipaddr from 'ipaddr.js';

/** Pairs remembered (rounded up to a power of two). */
export const HISTORY_MAX = 32_768;

/** Slots per set: a pair lives in one set; a new pair replaces the set's least recently answered. */
const WAYS = 4;
/** Per slot: source length, 16 source bytes, destination length, 16 destination bytes. */
const KEY_BYTES = 34;
const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp' };

export interface Answered {
  name: string;
  /** ms since the epoch */
  at: number;
  /** when the element's timeout runs out (a later answer only extends it) */
  expiresAt: number;
  /** null = all ports; else the "tcp/443" forms the answer opened */
  ports: Set<string> | null;
  evicted?: { cap: string; at: number };
}

export interface Verdict {
  reason: 'expired' | 'evicted' | 'revoked' | 'port' | 'other_source' | 'never_answered' | 'unexplained' | 'unattributed';
  detail: string;
  name?: string;
}

export interface ClassifyContext {
  /** when the last reload was applied (0: none since start) */
  reloadedAt: number;
  /** does the policy in force now still allow this name for this source? */
  stillAllowed(source: string, name: string): boolean;
}

const CAP_NAMES: Record<string, string> = { perName: 'maxAddressesPerName', perSource: 'maxElementsPerSource', total: 'maxElements' };

export class AnswerHistory {
  private readonly mask: number;
  /** per slot: the pair's hash, the destination's hash (for "answered to another source") */
  private readonly pairHash: Int32Array;
  private readonly destHash: Int32Array;
  private readonly at: Float64Array;
  private readonly expiresAt: Float64Array;
  private readonly evictedAt: Float64Array;
  private readonly keys: Buffer;
  /** undefined = empty slot */
  private readonly names: (string | undefined)[];
  /** null = all ports; else proto << 16 | port */
  private readonly ports: (Set<number> | null)[];
  /** the cap (config key) that evicted the element; undefined = not evicted */
  private readonly caps: (string | undefined)[];
  private used = 0;

  constructor(max = HISTORY_MAX) {
    let sets = 1;
    while (sets * WAYS < max) sets *= 2;
    const n = sets * WAYS;
    this.mask = sets - 1;
    this.pairHash = new Int32Array(n);
    this.destHash = new Int32Array(n);
    this.at = new Float64Array(n);
    this.expiresAt = new Float64Array(n);
    this.evictedAt = new Float64Array(n);
    this.keys = Buffer.alloc(n * KEY_BYTES);
    this.names = new Array<string | undefined>(n).fill(undefined);
    this.ports = new Array<Set<number> | null>(n).fill(null);
    this.caps = new Array<string | undefined>(n).fill(undefined);
  }

  /** Pairs remembered. */
  get size(): number {
    return this.used;
  }

  /**
   * A committed answer opened destination for source (one element: its key bytes, as the
   * kernel holds them). `proto`/`port` for a port element, else all ports.
   */
  answered(source: Uint8Array, destination: Uint8Array, name: string, timeoutMs: number, proto?: number, port?: number, now = Date.now()): void {
    const dh = bytesHash(destination, 0x2c1b3c6d);
    const h = bytesHash(source, dh);
    const base = (h & this.mask) * WAYS;
    const portKey = proto !== undefined && port !== undefined ? proto * 65536 + port : -1;
    let victim = base;
    let oldest = Infinity;
    for (let i = base; i < base + WAYS; i++) {
      const prev = this.names[i];
      if (prev === undefined) {
        if (oldest !== -Infinity) {
          victim = i;
          oldest = -Infinity;
        }
        continue;
      }
      if (this.pairHash[i] === h && this.sameKey(i, source, destination)) {
        const continued = prev === name && this.caps[i] === undefined;
        const ports = this.ports[i];
        if (continued && this.expiresAt[i] > now) {
          if (ports !== null) {
            if (portKey < 0) this.ports[i] = null;
            else ports.add(portKey);
          }
        } else {
          this.ports[i] = portKey < 0 ? null : new Set([portKey]);
        }
        const expiresAt = now + timeoutMs;
        this.expiresAt[i] = continued && this.expiresAt[i] > expiresAt ? this.expiresAt[i] : expiresAt;
        this.at[i] = now;
        this.names[i] = name;
        this.caps[i] = undefined;
        return;
      }
      if (this.at[i] < oldest) {
        oldest = this.at[i];
        victim = i;
      }
    }
    const i = victim;
    if (this.names[i] === undefined) this.used++;
    this.pairHash[i] = h;
    this.destHash[i] = dh;
    this.at[i] = now;
    this.expiresAt[i] = now + timeoutMs;
    this.names[i] = name;
    this.ports[i] = portKey < 0 ? null : new Set([portKey]);
    this.caps[i] = undefined;
    const k = this.keys;
    let o = i * KEY_BYTES;
    k[o++] = source.length;
    for (let j = 0; j < source.length; j++) k[o + j] = source[j];
    o = i * KEY_BYTES + 17;
    k[o++] = destination.length;
    for (let j = 0; j < destination.length; j++) k[o + j] = destination[j];
  }

  /** A cap deleted the element early (its key bytes). */
  evicted(source: Uint8Array, destination: Uint8Array, cap: string, now = Date.now()): void {
    const i = this.find(source, destination);
    if (i < 0) return;
    this.caps[i] = CAP_NAMES[cap] ?? cap;
    this.evictedAt[i] = now;
  }

  /** What is remembered for (source, destination) as text (an address, or cgroup-id:HEX). */
  get(source: string, destination: string): Answered | undefined {
    const s = keyBytes(source);
    const d = keyBytes(destination);
    const i = s && d ? this.find(s, d) : -1;
    if (i < 0) return undefined;
    const ports = this.ports[i];
    const cap = this.caps[i];
    return {
      name: this.names[i]!,
      at: this.at[i],
      expiresAt: this.expiresAt[i],
      ports: ports === null ? null : new Set([...ports].map(portText)),
      ...(cap !== undefined ? { evicted: { cap, at: this.evictedAt[i] } } : {}),
    };
  }

  /** Why was a new connection from source to destination:port dropped at `at`? (texts, as get() takes them) */
  classify(source: string, destination: string, proto: string, port: number | undefined, at: number, ctx: ClassifyContext): Verdict {
    const e = this.get(source, destination);
    if (e) {
      const ago = (t: number) => `${Math.max(0, Math.round((at - t) / 1000))} s ago`;
      if (e.evicted) return { reason: 'evicted', name: e.name, detail: `answered ${e.name} to this source ${ago(e.at)}, evicted (cap ${e.evicted.cap}) ${ago(e.evicted.at)}` };
      if (e.expiresAt <= at) return { reason: 'expired', name: e.name, detail: `answered ${e.name} to this source, expired ${ago(e.expiresAt)}` };
      if (ctx.reloadedAt > e.at && !ctx.stillAllowed(source, e.name))
        return { reason: 'revoked', name: e.name, detail: `answered ${e.name} to this source ${ago(e.at)}, revoked by reload ${ago(ctx.reloadedAt)}` };
      const want = port === undefined ? proto : `${proto}/${port}`;
      if (e.ports && !e.ports.has(want)) return { reason: 'port', name: e.name, detail: `answered ${e.name} to this source for ${[...e.ports].join(', ')} only, not ${want}` };
      return {
        reason: 'unexplained',
        name: e.name,
        detail: `answered ${e.name} to this source ${ago(e.at)} and not known to have ended (deleted by hand, or the ruleset was reinstalled?)`,
      };
    }
    const other = this.lastOtherSource(source, destination);
    if (other) return { reason: 'other_source', name: other.name, detail: `answered only to another source (${other.source}, ${other.name})` };
    return { reason: 'never_answered', detail: 'never answered: literal IP or another resolver' };
  }

  /** The latest answer of destination to a source other than `source` (a scan: drops only). */
  private lastOtherSource(source: string, destination: string): { source: string; name: string } | undefined {
    const s = keyBytes(source); // not a key: any source is another
    const d = keyBytes(destination);
    if (!d) return undefined;
    const dh = bytesHash(d, 0x2c1b3c6d);
    let best = -1;
    for (let i = 0; i < this.names.length; i++) {
      if (this.destHash[i] !== dh || this.names[i] === undefined) continue;
      if (!this.sameBytes(i * KEY_BYTES + 17, d) || (s && this.sameBytes(i * KEY_BYTES, s))) continue;
      if (best < 0 || this.at[i] > this.at[best]) best = i;
    }
    if (best < 0) return undefined;
    const o = best * KEY_BYTES;
    return { source: addressText(this.keys.subarray(o + 1, o + 1 + this.keys[o])), name: this.names[best]! };
  }

  private find(source: Uint8Array, destination: Uint8Array): number {
    const h = bytesHash(source, bytesHash(destination, 0x2c1b3c6d));
    const base = (h & this.mask) * WAYS;
    for (let i = base; i < base + WAYS; i++) {
      if (this.names[i] !== undefined && this.pairHash[i] === h && this.sameKey(i, source, destination)) return i;
    }
    return -1;
  }

  private sameKey(i: number, source: Uint8Array, destination: Uint8Array): boolean {
    return this.sameBytes(i * KEY_BYTES, source) && this.sameBytes(i * KEY_BYTES + 17, destination);
  }

  /** Is the length-prefixed field at offset o equal to b? (byte loop: 4–16 bytes, no C++ call) */
  private sameBytes(o: number, b: Uint8Array): boolean {
    const k = this.keys;
    if (k[o] !== b.length) return false;
    o++;
    for (let j = 0; j < b.length; j++) if (k[o + j] !== b[j]) return false;
    return true;
  }
}

/** A 32-bit hash of 4-, 8- or 16-byte keys, four bytes at a time (FNV-like multiply-xor). */
function bytesHash(b: Uint8Array, seed: number): number {
  let h = seed ^ b.length;
  const n = b.length & ~3;
  let j = 0;
  for (; j < n; j += 4) {
    h = Math.imul(h ^ (b[j] | (b[j + 1] << 8) | (b[j + 2] << 16) | (b[j + 3] << 24)), 0x5bd1e995);
    h ^= h >>> 15;
  }
  for (; j < b.length; j++) h = Math.imul(h ^ b[j], 0x01000193);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function portText(k: number): string {
  const proto = Math.floor(k / 65536);
  return `${PROTO_NAMES[proto] ?? proto}/${k % 65536}`;
}

/** Text as the history names a key (an address, or cgroup-id:HEX) → its bytes; undefined if neither. */
function keyBytes(text: string): Uint8Array | undefined {
  if (text.startsWith('cgroup-id:')) {
    const hex = text.slice('cgroup-id:'.length);
    return /^([0-9a-f]{2})+$/i.test(hex) ? Buffer.from(hex, 'hex') : undefined;
  }
  try {
    return Uint8Array.from(ipaddr.parse(text).toByteArray());
  } catch {
    return undefined;
  }
}

/** Element source/destination bytes → text, as the history names them. */
export function addressText(b: Buffer): string {
  // 4 or 16 bytes: an address; 8: a cgroup id (host order), shown as such.
  return b.length === 4 || b.length === 16 ? ipaddr.fromByteArray([...b]).toString() : `cgroup-id:${b.toString('hex')}`;
}
