// CIDR arithmetic for the interval sets: nft refuses overlapping intervals in a plain
// interval set ("conflicting intervals specified"), and in a concatenated one (pipapo) an
// element inside an earlier, wider one is EEXIST. So contained entries are dropped.
import * as ipaddr from 'ipaddr.js';
import { failed, parseCIDR, type Cidr as ConfigCidr } from '../config/addresses';

/** A CIDR of the config (lib/config/addresses.ts parses and validates them) with its bytes. */
export interface Cidr {
  family: 4 | 6;
  bytes: number[];
  prefix: number;
  /** canonical "address/prefix" */
  text: string;
}

/** The config's CIDR (already canonical, host bits zero) as bytes for the interval sets. */
export function cidrBytes(c: Pick<ConfigCidr, 'address' | 'family' | 'prefix' | 'cidr'>): Cidr {
  return { family: c.family, bytes: ipaddr.parse(c.address).toByteArray(), prefix: c.prefix, text: c.cidr };
}

/** A CIDR text from the policy index (canonical, from the config); throws a RangeError naming it otherwise. */
export function cidrOf(text: string): Cidr {
  const c = parseCIDR(text);
  if (failed(c)) throw new RangeError(c.error);
  return cidrBytes(c);
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
