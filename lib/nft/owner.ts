// Who an element is for, as the caps see it: elements per address of a name, and the source for logs.
import ipaddr from 'ipaddr.js';
import type { Element } from './programmer';

/** Elements per address of each name in one add() (port rules give one per allowed port). */
export function portWidths(elements: Element[]): Map<string, number> | null {
  let counts: Map<string, number> | null = null;
  for (const e of elements) {
    if (!e || (e.set !== 'allow4p' && e.set !== 'allow6p') || !Buffer.isBuffer(e.destination)) continue;
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

/** Source key bytes (latin1, as in the element id, see expiry.ts) as an address, for logs. */
export function sourceText(bytes: string): string {
  try { return ipaddr.fromByteArray([...Buffer.from(bytes, 'latin1')]).toString(); } catch { return Buffer.from(bytes, 'latin1').toString('hex'); }
}
