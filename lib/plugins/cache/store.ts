// The answer store: reply bytes by question, bounded by entries and bytes, least recently used
// evicted first. A hit is rebuilt for the asking client from the stored bytes: its ID, its
// question bytes (0x20 case), its RD bit, and every TTL lowered by the whole seconds elapsed.
import type { AnswerAddress, AnswerInfo, Query } from '../../dns/types';
import { HEADER_SIZE, RCODE_MASK } from '../../dns/constants';
import { scanReply, type Scan, type Uncacheable } from './wire';
import type { CacheAdmission } from '../../config/types';

/** Rough per-entry cost besides the reply bytes: Map slot, entry object, AnswerInfo objects. */
const ENTRY_OVERHEAD = 256;
const ADDRESS_OVERHEAD = 96;
/** RD is the low bit of the third header byte (flags 0x0100); the client's, not the first asker's. */
const RD_BIT = 0x01;

export interface CacheStats {
  hits: number;
  misses: number;
  inserts: number;
  /** entries removed to stay within maxEntries / maxBytes */
  evictions: number;
  /** entries found with no TTL left (a miss) */
  expired: number;
  /** replies offered to put() and refused (TC, SERVFAIL, no SOA, TTL 0...) */
  uncacheable: number;
  /** first asks of a question: not looked up, not stored (doorkeeper.ts: stored on the second miss) */
  notAdmitted: number;
}

export interface CacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** 'second-miss' (default): store a question on its second miss (doorkeeper.ts); 'first-miss': on its first */
  admission?: CacheAdmission;
  /** monotonic milliseconds; injectable for tests */
  now?: () => number;
}

export interface CacheHit {
  wire: Buffer;
  rcode: number;
  answer: AnswerInfo;
}

/**
 * One entry: few objects, since a busy cache holds tens of thousands for seconds (each one is
 * promoted and marked by the GC). `buf` holds, in one allocation: the reply bytes, the offsets
 * of its TTL fields (u16 each), and per address its length (4 or 16), its TTL (u32) and its bytes.
 */
interface Entry {
  key: string;
  /** the question's doorkeeper hash (questionHash), re-marked when the doorkeeper clears */
  hash: number;
  buf: Buffer;
  /** reply bytes: buf[0, wireLen) */
  wireLen: number;
  ttlCount: number;
  questionEnd: number;
  /** when stored, ms (clock of CacheOptions.now) */
  stored: number;
  ttl: number;
  rcode: number;
  truncated: boolean;
  /** each address's text (the strings are immutable: shared with the caller's AnswerInfo) */
  texts: string[];
  chain: string[];
  size: number;
  /** the recency list: older, newer (null at the ends) */
  older: Entry | null;
  newer: Entry | null;
}

/**
 * The key: what makes upstream replies differ for the same name. Name lowercased (0x20 case is
 * restored per client), qtype, qclass, EDNS present (a client without EDNS must not get an OPT),
 * DO (DNSSEC records) and CD (unvalidated answers).
 */
export function cacheKey(q: Query): string {
  // Numbers first and the name last: unambiguous whatever characters the name holds.
  return `${q.qtype}/${q.qclass}/${keyBits(q)}/${q.name}`;
}

/** The key's bits: EDNS present (1), DO (2), CD (4). */
export function keyBits(q: Query): number {
  return (q.edns ? 1 : 0) | (q.edns?.do ? 2 : 0) | ((q.flags & 0x0010) !== 0 ? 4 : 0);
}

export class AnswerCache {
  readonly stats: CacheStats = { hits: 0, misses: 0, inserts: 0, evictions: 0, expired: 0, uncacheable: 0, notAdmitted: 0 };
  private readonly map = new Map<string, Entry>();
  /** least and most recently used: a hit moves its entry to the newest end, eviction takes the oldest (no Map re-insert, no iteration) */
  private oldest: Entry | null = null;
  private newest: Entry | null = null;
  private used = 0;
  private readonly now: () => number;

  constructor(private readonly opts: CacheOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  get size(): number {
    return this.map.size;
  }

  /** Estimated bytes held (reply bytes + overhead), what maxBytes bounds. */
  get bytes(): number {
    return this.used;
  }

  /**
   * Stores a copy of `reply` (TTLs already capped) with the AnswerInfo read from it. Returns the
   * kind stored, or why it was not. `hash`: the question's doorkeeper hash (forEachHash).
   */
  put(key: string, reply: Buffer, answer: AnswerInfo, hash = 0): Scan['kind'] | Uncacheable | 'too-big' {
    const scan = scanReply(reply);
    if (typeof scan === 'string') {
      this.stats.uncacheable++;
      return scan;
    }
    const size = reply.length + scan.ttlOffsets.byteLength + key.length * 2 + ENTRY_OVERHEAD + answer.addresses.length * ADDRESS_OVERHEAD;
    if (size > this.opts.maxBytes) {
      this.stats.uncacheable++;
      return 'too-big';
    }
    // One lookup: a key stored again replaces its entry in place (Map.set overwrites).
    const old = this.map.get(key);
    if (old) {
      this.unlink(old);
      this.used -= old.size;
    }
    const offs = scan.ttlOffsets;
    const addrs = answer.addresses;
    let len = reply.length + offs.length * 2;
    for (let i = 0; i < addrs.length; i++) len += 5 + addrs[i].bytes.length;
    // Our own copy of everything: the caller's reply and AnswerInfo travel on up the chain. Not
    // from Buffer's 8 KiB pool: an entry lives for minutes, and a pooled slice would keep its
    // whole slab (and every short-lived buffer cut from it) alive with it — measured, 2,600
    // entries held 20 MiB of slabs.
    const buf = Buffer.allocUnsafeSlow(len);
    reply.copy(buf, 0);
    let o = reply.length;
    for (let i = 0; i < offs.length; i++, o += 2) buf.writeUInt16BE(offs[i], o);
    const texts = new Array<string>(addrs.length);
    for (let i = 0; i < addrs.length; i++) {
      const a = addrs[i];
      texts[i] = a.address;
      buf[o] = a.bytes.length;
      buf.writeUInt32BE(a.ttl, o + 1);
      o += 5;
      for (let j = 0; j < a.bytes.length; j++) buf[o++] = a.bytes[j];
    }
    const entry: Entry = {
      key,
      hash,
      buf,
      wireLen: reply.length,
      ttlCount: offs.length,
      questionEnd: scan.questionEnd,
      stored: this.now(),
      ttl: scan.ttl,
      rcode: answer.rcode,
      truncated: answer.truncated,
      texts,
      chain: answer.chain.slice(),
      size,
      older: null,
      newer: null,
    };
    this.map.set(key, entry);
    this.link(entry);
    this.used += size;
    this.stats.inserts++;
    this.evict();
    return scan.kind;
  }

  /** Calls `fn` with every stored entry's doorkeeper hash (put's `hash`). */
  forEachHash(fn: (hash: number) => void): void {
    for (let e = this.oldest; e !== null; e = e.newer) fn(e.hash);
  }

  /**
   * The reply for this client (`wire` its query bytes, `q` parsed from them), or null on a miss.
   * An entry with no whole second of TTL left is a miss and is dropped.
   */
  get(key: string, wire: Buffer, q: Query): CacheHit | null {
    const e = this.map.get(key);
    if (!e) {
      this.stats.misses++;
      return null;
    }
    const elapsed = Math.floor((this.now() - e.stored) / 1000);
    // Same key means the same question up to name case, so the same length; check anyway.
    if (elapsed >= e.ttl || elapsed < 0 || q.questionEnd !== e.questionEnd) {
      this.delete(key);
      this.stats.expired++;
      this.stats.misses++;
      return null;
    }
    // Most recently used: the newest end.
    if (e !== this.newest) {
      this.unlink(e);
      this.link(e);
    }
    this.stats.hits++;

    const buf = e.buf;
    const out = Buffer.allocUnsafe(e.wireLen);
    buf.copy(out, 0, 0, e.wireLen);
    out[0] = wire[0];
    out[1] = wire[1];
    out[2] = (out[2] & ~RD_BIT) | (wire[2] & RD_BIT);
    wire.copy(out, HEADER_SIZE, HEADER_SIZE, q.questionEnd);
    let o = e.wireLen;
    if (elapsed > 0) {
      for (let i = 0; i < e.ttlCount; i++) {
        const at = buf.readUInt16BE(o + 2 * i);
        const ttl = out.readUInt32BE(at);
        // Stored TTLs above 2^31 count as 0 (RFC 2181 §8) and stay as they were.
        if (ttl <= 0x7fffffff) out.writeUInt32BE(ttl > elapsed ? ttl - elapsed : 0, at);
      }
    }
    o += 2 * e.ttlCount;
    const texts = e.texts;
    const addresses = new Array<AnswerAddress>(texts.length);
    for (let i = 0; i < addresses.length; i++) {
      const n = buf[o];
      const ttl = buf.readUInt32BE(o + 1);
      o += 5;
      // a view of the stored bytes: nothing edits an address's bytes (elements copy them)
      addresses[i] = { family: n === 4 ? 4 : 6, address: texts[i], bytes: buf.subarray(o, o + n), ttl: ttl > elapsed ? ttl - elapsed : 0 };
      o += n;
    }
    return { wire: out, rcode: out[3] & RCODE_MASK, answer: { rcode: e.rcode, truncated: e.truncated, chain: e.chain, addresses } };
  }

  private delete(key: string): void {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.unlink(e);
    this.used -= e.size;
  }

  /** At the newest end. */
  private link(e: Entry): void {
    e.older = this.newest;
    e.newer = null;
    if (this.newest) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }

  private unlink(e: Entry): void {
    if (e.older) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.newest = e.older;
    e.older = e.newer = null;
  }

  /** Least recently used first. */
  private evict(): void {
    const { maxEntries, maxBytes } = this.opts;
    while (this.map.size > maxEntries || this.used > maxBytes) {
      const oldest = this.oldest;
      if (!oldest) break;
      this.map.delete(oldest.key);
      this.unlink(oldest);
      this.used -= oldest.size;
      this.stats.evictions++;
    }
  }
}
