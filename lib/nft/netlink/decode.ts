// Parsing of what the kernel sends back. Everything is bounds-checked: a short or corrupt
// datagram yields fewer messages, never an exception past this module.
import { NLMSG_HDRLEN, NLA_HDRLEN, NLA_TYPE_MASK, NLMSG_ERROR, NFGENMSG_LEN } from './constants';
import { align4, readU16, readU32, readI32 } from './encode';

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after nlmsghdr. */
  payload: Buffer;
}

/**
 * The datagram's messages. `skip(type, pid)`: leave out a message by its header alone, before
 * anything is made for it (the change watch drops the notifications of our own additions so).
 */
export function parseMessages(buf: Buffer, skip?: (type: number, pid: number) => boolean): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = readU32(buf, off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    if (skip?.(readU16(buf, off + 4), readU32(buf, off + 12))) {
      off += align4(len);
      continue;
    }
    out.push({
      type: readU16(buf, off + 4),
      flags: readU16(buf, off + 6),
      seq: readU32(buf, off + 8),
      pid: readU32(buf, off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** NLMSG_ERROR payload: int error (negative errno, 0 = ack), then the original header. */
export function parseError(msg: NlMsg): number | null {
  if (msg.type !== NLMSG_ERROR || msg.payload.length < 4) return null;
  return -readI32(msg.payload, 0);
}

export interface Attr {
  type: number;
  value: Buffer;
}

export function parseAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = readU16(buf, off);
    if (len < NLA_HDRLEN || off + len > buf.length) break;
    out.push({ type: readU16(buf, off + 2) & NLA_TYPE_MASK, value: buf.subarray(off + NLA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes as a map (last one wins), for messages where each type appears once. */
export function attrMap(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of parseAttrs(buf)) m.set(a.type, a.value);
  return m;
}

/** The attributes of an nfnetlink message (after nfgenmsg). */
export function nfAttrs(msg: NlMsg): Buffer {
  return msg.payload.subarray(Math.min(NFGENMSG_LEN, msg.payload.length));
}

export function readString(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

export function readBe64(b: Buffer | undefined): number | undefined {
  if (!b || b.length < 8) return undefined;
  return Number(b.readBigUInt64BE(0));
}

export function readBe32(b: Buffer | undefined): number | undefined {
  if (!b || b.length < 4) return undefined;
  return b.readUInt32BE(0);
}

/** The first attribute of `type` in `buf`, without building a list or a map (a per-element path). */
export function findAttr(buf: Buffer | undefined, type: number): Buffer | undefined {
  if (!buf) return undefined;
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = readU16(buf, off);
    if (len < NLA_HDRLEN || off + len > buf.length) return undefined;
    if ((readU16(buf, off + 2) & NLA_TYPE_MASK) === type) return buf.subarray(off + NLA_HDRLEN, off + len);
    off += align4(len);
  }
  return undefined;
}

/** Is the NUL-terminated string attribute `b` exactly `s` (ASCII)? No string is made. */
export function stringAttrIs(b: Buffer | undefined, s: string): boolean {
  if (!b) return false;
  const end = b.indexOf(0);
  const len = end < 0 ? b.length : end;
  if (len !== s.length) return false;
  for (let i = 0; i < len; i++) if (b[i] !== s.charCodeAt(i)) return false;
  return true;
}
