// Netlink message and attribute encoding for nfnetlink: nlmsghdr in host byte order (the
// machines dnswall runs on are little-endian, as is every Kubernetes node we target, but we
// use os.endianness() to stay honest), nfgenmsg, attributes padded to 4 bytes.
import { endianness } from 'os';
import {
  NLMSG_HDRLEN,
  NLA_HDRLEN,
  NLA_F_NESTED,
  NLA_MAX_LEN,
  NFGENMSG_LEN,
  NFNETLINK_V0,
  NFNL_SUBSYS_NFTABLES,
  NFNL_MSG_BATCH_BEGIN,
  NFNL_MSG_BATCH_END,
  NLM_F_REQUEST,
} from './constants';

const LE = endianness() === 'LE';

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** One attribute: header, payload, zero padding to 4 bytes (netlink@0.3.0 forgets the padding). */
export function attr(type: number, payload: Buffer): Buffer {
  const len = NLA_HDRLEN + payload.length;
  if (len > NLA_MAX_LEN) throw new RangeError(`netlink attribute ${type & 0x3fff} is ${len} bytes, over the u16 limit`);
  const out = Buffer.allocUnsafe(align4(len)).fill(0); // from the pool: no ArrayBuffer per attribute
  writeU16(out, 0, len);
  writeU16(out, 2, type);
  payload.copy(out, NLA_HDRLEN);
  return out;
}

export function strAttr(type: number, s: string): Buffer {
  return attr(type, Buffer.from(s + '\0', 'utf8'));
}

export function be32Attr(type: number, v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return attr(type, b);
}

/** be64 of a non-negative integer below 2^53 (milliseconds), without a BigInt per call. */
export function writeBe64(b: Buffer, v: number, o: number): void {
  const n = Math.max(0, Math.floor(v));
  b.writeUInt32BE(Math.floor(n / 0x100000000), o);
  b.writeUInt32BE(n >>> 0, o + 4);
}

export function be64Attr(type: number, v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeBe64(b, v, 0);
  return attr(type, b);
}

/** A nested attribute; children are already padded. */
export function nested(type: number, children: Buffer[]): Buffer {
  return attr(type | NLA_F_NESTED, Buffer.concat(children));
}

/** nfgenmsg: u8 family, u8 version, be16 res_id. */
export function nfgenmsg(family: number, resId = 0): Buffer {
  const b = Buffer.allocUnsafe(NFGENMSG_LEN);
  b[0] = family;
  b[1] = NFNETLINK_V0;
  b.writeUInt16BE(resId, 2);
  return b;
}

/** One netlink message: nlmsghdr (host order) + nfgenmsg + attributes. */
export function nlmsg(type: number, flags: number, seq: number, family: number, attrs: Buffer[], resId = 0): Buffer {
  const body = Buffer.concat([nfgenmsg(family, resId), ...attrs]);
  const len = NLMSG_HDRLEN + body.length;
  const out = Buffer.allocUnsafe(align4(len)).fill(0);
  writeU32(out, 0, len);
  writeU16(out, 4, type);
  writeU16(out, 6, flags);
  writeU32(out, 8, seq >>> 0);
  writeU32(out, 12, 0); // nlmsg_pid: 0, the kernel fills in the sender
  body.copy(out, NLMSG_HDRLEN);
  return out;
}

/** NFNL_MSG_BATCH_BEGIN / END: res_id carries the subsystem, big-endian. */
export function batchBegin(seq: number): Buffer {
  return nlmsg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, 0, [], NFNL_SUBSYS_NFTABLES);
}

export function batchEnd(seq: number, flags: number): Buffer {
  return nlmsg(NFNL_MSG_BATCH_END, NLM_F_REQUEST | flags, seq, 0, [], NFNL_SUBSYS_NFTABLES);
}

export function writeU16(b: Buffer, off: number, v: number): void {
  if (LE) b.writeUInt16LE(v, off);
  else b.writeUInt16BE(v, off);
}

export function writeU32(b: Buffer, off: number, v: number): void {
  if (LE) b.writeUInt32LE(v, off);
  else b.writeUInt32BE(v, off);
}

export function readU16(b: Buffer, off: number): number {
  return LE ? b.readUInt16LE(off) : b.readUInt16BE(off);
}

export function readU32(b: Buffer, off: number): number {
  return LE ? b.readUInt32LE(off) : b.readUInt32BE(off);
}

export function readI32(b: Buffer, off: number): number {
  return LE ? b.readInt32LE(off) : b.readInt32BE(off);
}
