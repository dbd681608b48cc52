// Who an element is for, as the caps see it: elements per address of a name, and the source for logs.
import ipaddr from 'ipaddr.js';
import { endianness } from 'os';
import { LAYOUTS, isAllowSet, type Element } from './keys';

const LE = endianness() === 'LE';

/** Elements per address of each name in one add() (port rules give one per allowed port). */
export function portWidths(elements: Element[]): Map<string, number> | null {
  let counts: Map<string, number> | null = null;
  for (const e of elements) {
    if (!e || !isAllowSet(e.set) || !LAYOUTS[e.set].withPort || !Buffer.isBuffer(e.destination)) continue;
    counts ??= new Map();
    const k = String(e.comment) + '\0' + e.destination.toString('hex');
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  if (!counts) return null;
  const widths = new Map<string, number>();
  for (const [k, n] of counts) {
    const name = k.slice(0, k.lastIndexOf('\0'));
    if (n > (widths.get(name) ?? 0)) widths.set(name, n);
  }
  return widths;
}

/** A cgroup id key field (8 bytes, host byte order as the kernel's socket cgroupv2 loads it) as a number. */
export function cgroupIdOf(b: Buffer): bigint {
  return LE ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
}

/** The 8 key bytes of a cgroup id. */
export function cgroupIdBytes(id: bigint): Buffer {
  const b = Buffer.alloc(8);
  if (LE) b.writeBigUInt64LE(id);
  else b.writeBigUInt64BE(id);
  return b;
}

/** A source key field as text: an address, or `cgroup:<id>` for a cgroup id. */
export function sourceFieldText(b: Buffer): string {
  if (b.length === 8) return `cgroup:${cgroupIdOf(b)}`;
  try {
    return ipaddr.fromByteArray([...b]).toString();
  } catch {
    return b.toString('hex');
  }
}

/** Source key bytes (latin1, as in the element id, see expiry.ts) as text, for logs. */
export function sourceText(bytes: string): string {
  return sourceFieldText(Buffer.from(bytes, 'latin1'));
}
