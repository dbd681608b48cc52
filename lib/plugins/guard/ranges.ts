// The answer guard's ranges: which answer addresses may never be programmed (built-in ranges plus
// answers.denyCIDRs), and which policies' allowCIDRs let one through for their sources.
// Pure: no I/O. Built once per configuration; the per-answer path only compares integers.
import ipaddr from 'ipaddr.js';
import type { Config } from '../../config/types';

/** Where a guarded range comes from, for logs, EDE texts and `explain`. */
export type RangeOrigin = 'built-in' | 'answers.denyCIDRs';

export interface GuardRange {
  family: 4 | 6;
  /** canonical "address/prefix" */
  cidr: string;
  /** what the range is ("link-local"), or "answers.denyCIDRs" */
  label: string;
  origin: RangeOrigin;
}

/**
 * Built-in ranges (RFC 6890 special-purpose registries). An answer in one of these can only be a
 * key to the node or its link, never a legitimate destination on the internet:
 * - 0.0.0.0/8 "this network": not a valid destination (RFC 1122 §3.2.1.3), and Linux delivers
 *   0.0.0.0 to the local host — the whole /8, not just 0.0.0.0, since none of it is routable.
 * - 127.0.0.0/8 and ::1 loopback; :: unspecified (Linux connects it to the local host too).
 * - 169.254.0.0/16 and fe80::/10 link-local: cloud metadata services (169.254.169.254,
 *   fd00:ec2::254 aside), NodeLocal DNSCache, the node's link peers.
 * - 224.0.0.0/4 and ff00::/8 multicast; 255.255.255.255 limited broadcast.
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) in AAAA records and ipv6hint is checked against every IPv4
 * range: an AF_INET6 socket connecting to it sends IPv4 to a.b.c.d.
 */
export const BUILT_IN: readonly GuardRange[] = Object.freeze([
  { family: 4, cidr: '0.0.0.0/8', label: 'unspecified ("this network")', origin: 'built-in' },
  { family: 4, cidr: '127.0.0.0/8', label: 'loopback', origin: 'built-in' },
  { family: 4, cidr: '169.254.0.0/16', label: 'link-local', origin: 'built-in' },
  { family: 4, cidr: '224.0.0.0/4', label: 'multicast', origin: 'built-in' },
  { family: 4, cidr: '255.255.255.255/32', label: 'broadcast', origin: 'built-in' },
  { family: 6, cidr: '::/128', label: 'unspecified', origin: 'built-in' },
  { family: 6, cidr: '::1/128', label: 'loopback', origin: 'built-in' },
  { family: 6, cidr: 'fe80::/10', label: 'link-local', origin: 'built-in' },
  { family: 6, cidr: 'ff00::/8', label: 'multicast', origin: 'built-in' },
] as GuardRange[]);

/** Why an address is guarded: the range that matched, and whether it matched in IPv4-mapped form. */
export interface GuardHit {
  range: GuardRange;
  mapped: boolean;
}

/** The allowCIDRs entry of a selecting policy that lets a guarded address through. */
export interface GuardException {
  policy: string;
  cidr: string;
}

interface V4Entry<T> {
  net: number;
  mask: number;
  value: T;
}

interface V6Entry<T> {
  bytes: Uint8Array;
  prefix: number;
  value: T;
}

/** A list of v4 and v6 prefixes with a value each; first match in insertion order wins. */
class PrefixList<T> {
  readonly v4: V4Entry<T>[] = [];
  readonly v6: V6Entry<T>[] = [];

  add(cidr: string, value: T): void {
    const slash = cidr.indexOf('/');
    const addr = cidr.slice(0, slash);
    const prefix = Number(cidr.slice(slash + 1));
    if (addr.includes(':')) this.v6.push({ bytes: v6Bytes(addr), prefix, value });
    else {
      const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
      this.v4.push({ net: (v4Number(addr) & mask) >>> 0, mask, value });
    }
  }

  /** 4-byte address at buf[off..off+4) as an unsigned number. */
  find4(n: number): T | undefined {
    for (const e of this.v4) if ((n & e.mask) >>> 0 === e.net) return e.value;
    return undefined;
  }

  find6(buf: Uint8Array, off: number): T | undefined {
    for (const e of this.v6) if (prefixEquals(buf, off, e.bytes, e.prefix)) return e.value;
    return undefined;
  }
}

/**
 * The compiled guard of one configuration: `check` says whether an answer address is guarded,
 * `exception` whether one of the source's policies lets it through (their allowCIDRs, which the
 * kernel's static sets already allow for exactly those sources).
 */
export class AnswerGuard {
  readonly ranges: readonly GuardRange[];
  private readonly guarded = new PrefixList<GuardRange>();
  private readonly allowed = new Map<string, PrefixList<string>>();

  constructor(denyCIDRs: readonly { cidr: string }[], policies: readonly { name: string; allowCIDRs: readonly { cidr: string }[] }[]) {
    const deny: GuardRange[] = denyCIDRs.map((c) => ({
      family: c.cidr.includes(':') ? 6 : 4,
      cidr: c.cidr,
      label: 'answers.denyCIDRs',
      origin: 'answers.denyCIDRs',
    }));
    this.ranges = Object.freeze([...BUILT_IN, ...deny]);
    for (const r of this.ranges) this.guarded.add(r.cidr, r);
    for (const p of policies) {
      if (p.allowCIDRs.length === 0) continue;
      const l = new PrefixList<string>();
      for (const c of p.allowCIDRs) l.add(c.cidr, c.cidr);
      this.allowed.set(p.name, l);
    }
  }

  static fromConfig(cfg: Pick<Config, 'policies'> & { answers: { denyCIDRs: readonly { cidr: string }[] } }): AnswerGuard {
    return new AnswerGuard(cfg.answers.denyCIDRs, cfg.policies);
  }

  /**
   * The range guarding the 4- or 16-byte address at buf[off..off+size), or null. An IPv4-mapped
   * IPv6 address is checked against the IPv4 ranges by its embedded address, then as IPv6.
   */
  check(buf: Uint8Array, off: number, size: 4 | 16): GuardHit | null {
    if (size === 4) {
      const r = this.guarded.find4(u32(buf, off));
      return r ? { range: r, mapped: false } : null;
    }
    if (isMapped(buf, off)) {
      const r = this.guarded.find4(u32(buf, off + 12));
      if (r) return { range: r, mapped: true };
    }
    const r = this.guarded.find6(buf, off);
    return r ? { range: r, mapped: false } : null;
  }

  /** The first of `policies` (config order as given) whose allowCIDRs cover the address, or null. */
  exception(buf: Uint8Array, off: number, size: 4 | 16, policies: readonly string[]): GuardException | null {
    for (const policy of policies) {
      const l = this.allowed.get(policy);
      if (!l) continue;
      let cidr: string | undefined;
      if (size === 4) cidr = l.find4(u32(buf, off));
      else {
        if (isMapped(buf, off)) cidr = l.find4(u32(buf, off + 12));
        cidr ??= l.find6(buf, off);
      }
      if (cidr !== undefined) return { policy, cidr };
    }
    return null;
  }
}

/** "link-local 169.254.0.0/16", "answers.denyCIDRs 10.0.0.0/8", "... (IPv4-mapped)". */
export function describeHit(h: GuardHit): string {
  const r = h.range;
  const what = r.origin === 'built-in' ? `${r.label} ${r.cidr}` : `answers.denyCIDRs ${r.cidr}`;
  return h.mapped ? `${what} (IPv4-mapped)` : what;
}

function u32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/** ::ffff:0:0/96 (RFC 4291 §2.5.5.2). */
function isMapped(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

function prefixEquals(b: Uint8Array, off: number, net: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (b[off + i] !== net[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (b[off + whole] & mask) === net[whole];
}

function v4Number(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function v6Bytes(s: string): Uint8Array {
  return Uint8Array.from(ipaddr.IPv6.parse(s).toByteArray());
}

/**
 * Reload: would the guard of the new configuration refuse this live element's destination for
 * a source its policies (`policies`) do not except? Such elements are revoked with the others.
 */
export function guardRevokes(g: AnswerGuard, destination: Buffer, policies: readonly string[]): boolean {
  const size = destination.length === 4 ? 4 : 16;
  return g.check(destination, 0, size) !== null && g.exception(destination, 0, size, policies) === null;
}
