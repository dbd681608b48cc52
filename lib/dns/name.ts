// Domain names on the wire: bounds-checked, loop-safe reading with compression pointers.
//
// Text form: lowercased ASCII, labels joined by '.', no trailing dot, "" for the root. Bytes
// outside 0x21-0x7e, and '.' and '\' inside a label, become "\DDD" (RFC 1035 §5.1 style), so the
// text form is injective: a label "a.b" can never be read as the two labels "a" and "b".

import { DnsFormatError } from './errors';
import { HEADER_SIZE, MAX_NAME_WIRE } from './constants';

// Longest text: 255 wire octets, each at most 4 characters ("\DDD"); reused by every call.
const scratch = Buffer.allocUnsafe(MAX_NAME_WIRE * 4 + 4);
let textLen = 0;

// A name has at most 127 labels; more pointers than that only burn CPU (pointer-to-pointer chains).
const MAX_POINTERS = 128;
const DOT = 0x2e;
const BACKSLASH = 0x5c;

/**
 * Reads (and validates) the name starting at `off` and returns the offset just past it in place
 * (after its first compression pointer, or after its root label). With `text` true, the name's
 * text form is kept for nameText().
 *
 * Every pointer must go strictly below the start of the labels read so far, and not into the
 * header: offsets strictly decrease, so reading always ends; at most MAX_POINTERS jumps are followed.
 */
export function readName(buf: Buffer, off: number, text: boolean): number {
  const len = buf.length;
  let pos = off;
  let end = -1;
  let limit = off;
  let wire = 1; // the root label's octet
  let n = 0;
  let jumps = 0;
  for (;;) {
    if (pos >= len) throw new DnsFormatError('truncated name', 'FORMERR', pos);
    const b = buf[pos];
    if (b === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= len) throw new DnsFormatError('truncated name pointer', 'FORMERR', pos);
      const target = ((b & 0x3f) << 8) | buf[pos + 1];
      if (end < 0) end = pos + 2;
      if (target >= pos) throw new DnsFormatError('forward name pointer', 'FORMERR', pos);
      if (target < HEADER_SIZE) throw new DnsFormatError('name pointer into header', 'FORMERR', pos);
      if (target >= limit) throw new DnsFormatError('name pointer loop', 'FORMERR', pos);
      if (++jumps > MAX_POINTERS) throw new DnsFormatError('too many name pointers', 'FORMERR', pos);
      limit = target;
      pos = target;
      continue;
    }
    // 0x40 (extended, RFC 6891 §5) and 0x80 (reserved) label types: a length byte over 63.
    if (kind !== 0) throw new DnsFormatError(`label too long (length byte ${b})`, 'FORMERR', pos);
    wire += b + 1;
    if (wire > MAX_NAME_WIRE) throw new DnsFormatError('name too long', 'FORMERR', pos);
    const next = pos + 1 + b;
    if (next >= len) throw new DnsFormatError('truncated name', 'FORMERR', pos);
    if (text) {
      if (n > 0) scratch[n++] = DOT;
      for (let i = pos + 1; i < next; i++) {
        let c = buf[i];
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        if (c > 0x20 && c < 0x7f && c !== DOT && c !== BACKSLASH) {
          scratch[n++] = c;
        } else {
          scratch[n++] = BACKSLASH;
          scratch[n++] = 0x30 + ((c / 100) | 0);
          scratch[n++] = 0x30 + (((c / 10) | 0) % 10);
          scratch[n++] = 0x30 + (c % 10);
        }
      }
    }
    pos = next;
  }
  textLen = text ? n : 0;
  return end;
}

/** The text form of the name last read by readName(buf, off, true). */
export function nameText(): string {
  return textLen === 0 ? '' : scratch.toString('latin1', 0, textLen);
}

/** readName(..., true) and nameText() in one call. */
export function readNameText(buf: Buffer, off: number): { name: string; end: number } {
  const end = readName(buf, off, true);
  return { name: nameText(), end };
}
