// CIDR arithmetic for the interval sets: nft refuses overlapping intervals in a plain
// interval set ("conflicting intervals specified"), and in a concatenated one (pipapo) an
// element inside an earlier, wider one is EEXIST. So contained entries are dropped.
import * as ipaddr from 'ipaddr.js';

export interface Cidr {
  family: 4 | 6;
  bytes: number[];
  prefix: number;
  /** canonical "address/prefix" with host bits cleared */
  text: string;
}

export function parseCidr(s: string): Cidr {
  const [addr, pfx] = s.includes('/') ? ipaddr.parseCIDR(s) : [ipaddr.parse(s), -1];
  const ip = addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
  const family = ip.kind() === 'ipv4' ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  const prefix = pfx < 0 ? bits : pfx;
  const bytes = ip.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  const text = `${ipaddr.fromByteArray(bytes).toString()}/${prefix}`;
  return { family, bytes, prefix, text };
}

/** a ⊇ b */
export function contains(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family || a.prefix > b.prefix) return false;
  for (let i = 0; i < a.bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, a.prefix - i * 8));
    const mask = (0xff << (8 - keep)) & 0xff;
    if ((a.bytes[i] & mask) !== (b.bytes[i] & mask)) return false;
  }
  return true;
}

function compare(a: Cidr, b: Cidr): number {
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i] - b.bytes[i];
  return a.prefix - b.prefix;
}

/** Distinct CIDRs none of which lies inside another, sorted. */
export function minimalCidrs(list: Cidr[]): Cidr[] {
  const sorted = [...list].sort(compare);
  const out: Cidr[] = [];
  for (const c of sorted) if (!out.some((o) => contains(o, c))) out.push(c);
  return out;
}

/** Distinct (source, destination) pairs none of which lies inside another, sorted. */
export function minimalPairs(pairs: [Cidr, Cidr][]): [Cidr, Cidr][] {
  const sorted = [...pairs].sort((x, y) => compare(x[0], y[0]) || compare(x[1], y[1]));
  const out: [Cidr, Cidr][] = [];
  for (const p of sorted) {
    if (out.some((o) => contains(o[0], p[0]) && contains(o[1], p[1]))) continue;
    // A wider pair later in the order replaces the narrower ones it holds.
    for (let i = out.length - 1; i >= 0; i--) if (contains(p[0], out[i][0]) && contains(p[1], out[i][1])) out.splice(i, 1);
    out.push(p);
  }
  return out;
}
