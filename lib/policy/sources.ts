// Which policies select a source address. CIDRs are kept per prefix length as Maps keyed by
// the masked address; a lookup masks the address once per prefix length in use (at most 33 for
// IPv4, 129 for IPv6) and unions what it finds. Results are cached per address, because a node
// has few pods and each asks many queries.
import ipaddr from 'ipaddr.js';
import type { Family } from '../config/types';

/** Cache entries before the cache is cleared; bounds memory against address scans. */
export const SOURCE_CACHE_MAX = 65536;

/** The set of policies that select one source; interned, so equal sets share one object. */
export interface Selection {
  /** Policy indexes, ascending (config order). */
  readonly ids: readonly number[];
  /** mask[i] === 1 when policy i is selected. */
  readonly mask: Uint8Array;
  readonly names: readonly string[];
}

export interface CidrEntry {
  family: Family;
  address: string;
  prefix: number;
  policy: number;
}

interface FamilyTable<K> {
  /** Prefix lengths in use, longest first. */
  prefixes: number[];
  byPrefix: Map<number, Map<K, number[]>>;
}

const UNMANAGED = null;

/** Parses dotted-quad IPv4 to an unsigned 32-bit number, or -1. */
function v4ToNumber(s: string): number {
  const p = s.split('.');
  if (p.length !== 4) return -1;
  let n = 0;
  for (const o of p) {
    if (!/^(0|[1-9]\d{0,2})$/.test(o)) return -1;
    const v = Number(o);
    if (v > 255) return -1;
    n = n * 256 + v;
  }
  return n;
}

function v4Mask(n: number, prefix: number): number {
  return prefix === 0 ? 0 : (n & (~0 << (32 - prefix))) >>> 0;
}

const ALL128 = (1n << 128n) - 1n;

function v6Mask(n: bigint, prefix: number): bigint {
  return prefix === 0 ? 0n : n & (ALL128 ^ ((1n << BigInt(128 - prefix)) - 1n));
}

function bytesToBigInt(b: number[]): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

function addTo<K>(t: FamilyTable<K>, prefix: number, key: K, policy: number): void {
  let m = t.byPrefix.get(prefix);
  if (!m) {
    m = new Map();
    t.byPrefix.set(prefix, m);
    t.prefixes.push(prefix);
    t.prefixes.sort((a, b) => b - a);
  }
  const list = m.get(key);
  if (!list) m.set(key, [policy]);
  else if (!list.includes(policy)) list.push(policy);
}

export class SourceTable {
  private readonly v4: FamilyTable<number> = { prefixes: [], byPrefix: new Map() };
  private readonly v6: FamilyTable<bigint> = { prefixes: [], byPrefix: new Map() };
  private readonly cache = new Map<string, Selection | null>();
  private readonly interned = new Map<string, Selection>();

  constructor(
    entries: CidrEntry[],
    private readonly policyNames: readonly string[],
  ) {
    for (const e of entries) {
      if (e.family === 4) addTo(this.v4, e.prefix, v4Mask(v4ToNumber(e.address), e.prefix), e.policy);
      else addTo(this.v6, e.prefix, v6Mask(bytesToBigInt(ipaddr.IPv6.parse(e.address).toByteArray()), e.prefix), e.policy);
    }
  }

  /**
   * The policies selecting `address`: a Selection, null when none does (unmanaged), or
   * undefined when the address is not an IP address at all.
   */
  lookup(address: string): Selection | null | undefined {
    const hit = this.cache.get(address);
    if (hit !== undefined) return hit;
    const found = this.compute(address);
    if (found === undefined) return undefined;
    if (this.cache.size >= SOURCE_CACHE_MAX) this.cache.clear();
    this.cache.set(address, found);
    return found;
  }

  private compute(address: string): Selection | null | undefined {
    let ids: number[] = [];
    let n4 = v4ToNumber(address);
    if (n4 < 0 && address.includes(':')) {
      let a: ipaddr.IPv6;
      try {
        a = ipaddr.IPv6.parse(address);
      } catch {
        return undefined;
      }
      // The Source contract says mapped addresses arrive as IPv4; be safe if one does not.
      if (a.isIPv4MappedAddress()) n4 = v4ToNumber(a.toIPv4Address().toString());
      else {
        const n = bytesToBigInt(a.toByteArray());
        for (const p of this.v6.prefixes) ids = ids.concat(this.v6.byPrefix.get(p)!.get(v6Mask(n, p)) ?? []);
      }
    } else if (n4 < 0) return undefined;
    if (n4 >= 0) {
      for (const p of this.v4.prefixes) ids = ids.concat(this.v4.byPrefix.get(p)!.get(v4Mask(n4, p)) ?? []);
    }
    if (ids.length === 0) return UNMANAGED;
    return this.intern(ids);
  }

  /** The interned Selection for a set of policy indexes. */
  intern(raw: number[]): Selection {
    const ids = [...new Set(raw)].sort((a, b) => a - b);
    const key = ids.join(',');
    let s = this.interned.get(key);
    if (!s) {
      const mask = new Uint8Array(this.policyNames.length);
      for (const i of ids) mask[i] = 1;
      s = Object.freeze({ ids: Object.freeze(ids), mask, names: Object.freeze(ids.map((i) => this.policyNames[i])) });
      this.interned.set(key, s);
    }
    return s;
  }
}
