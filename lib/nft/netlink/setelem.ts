// NFT_MSG_NEWSETELEM / GETSETELEM encoding and decoding, attribute for attribute as libnftnl
// builds them (src/set_elem.c), checked against bytes captured from nft 1.0.6.
import {
  nftType,
  NFT_MSG_NEWSETELEM,
  NFT_MSG_GETSETELEM,
  NFTA_SET_ELEM_LIST_TABLE,
  NFTA_SET_ELEM_LIST_SET,
  NFTA_SET_ELEM_LIST_ELEMENTS,
  NFTA_LIST_ELEM,
  NFTA_SET_ELEM_KEY,
  NFTA_DATA_VALUE,
  NFTA_SET_ELEM_TIMEOUT,
  NFTA_SET_ELEM_EXPIRATION,
  NFTA_SET_ELEM_USERDATA,
  NFTNL_UDATA_SET_ELEM_COMMENT,
  NLM_F_REQUEST,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLA_HDRLEN,
  NLA_F_NESTED,
  NLA_TYPE_MASK,
  NLA_MAX_LEN,
  NLMSG_HDRLEN,
  NFGENMSG_LEN,
  NFNETLINK_V0,
} from './constants';
import { strAttr, nlmsg, align4, writeU16, writeU32, writeBe64 } from './encode';
import { attrMap, findAttr, nfAttrs, parseAttrs, readBe64, readString, type NlMsg } from './decode';
import { readU16 } from './encode';

export interface EncodedElementInput {
  key: Buffer;
  /** ms; omitted = no NFTA_SET_ELEM_TIMEOUT (a permanent element in a timeout set). */
  timeoutMs?: number;
  /** ms left; must be ≤ timeoutMs (the kernel answers ERANGE otherwise). */
  expirationMs?: number;
  comment?: string;
}

/** nft refuses longer comments ("comment too long, 128 characters maximum allowed"), so
 * `nft list ruleset | nft -f -` would break on them; the kernel itself took up to 251 on 6.18
 * (252+ gave EINVAL), under NFT_USERDATA_MAXLEN. */
export const MAX_COMMENT_CHARS = 128;

/** Printable ASCII without quote and backslash (nft prints comments in double quotes); a long
 * name keeps its right end, the part that says whose it is: "~" + the last 127 characters. */
export function sanitizeComment(s: string): string {
  const out = s.replace(/[^\x21-\x7e]|["\\]/g, '?');
  return out.length > MAX_COMMENT_CHARS ? '~' + out.slice(out.length - MAX_COMMENT_CHARS + 1) : out;
}

/** Is the comment the whole name? Not when sanitizeComment cut it ("~" + the name's right end) or changed it ("?" for a byte nft cannot print). */
export function commentIsWhole(comment: string): boolean {
  return !comment.startsWith('~') && !comment.includes('?');
}

/** libnftnl udata TLV: u8 type NFTNL_UDATA_SET_ELEM_COMMENT, u8 len, the string with its NUL. */
export function commentUserdata(comment: string): Buffer {
  const s = sanitizeComment(comment);
  const b = Buffer.allocUnsafe(s.length + 3);
  writeCommentTlv(b, 0, s);
  return b;
}

/** The comment TLV of an already sanitized (printable ASCII) comment at `o`: s.length + 3 bytes. */
function writeCommentTlv(b: Buffer, o: number, s: string): void {
  b[o] = NFTNL_UDATA_SET_ELEM_COMMENT;
  b[o + 1] = s.length + 1;
  b.write(s, o + 2, 'latin1');
  b[o + 2 + s.length] = 0;
}

/**
 * One NFTA_LIST_ELEM, attributes in libnftnl's order: TIMEOUT, EXPIRATION, KEY, USERDATA.
 * Written into one buffer from Node's pool (no ArrayBuffer of its own, padding zeroed): this
 * runs once per element on the DNS path.
 */
export function encodeElement(e: EncodedElementInput): Buffer {
  const c = e.comment ? sanitizeComment(e.comment) : null;
  const udLen = c === null ? 0 : c.length + 3;
  const keyPad = align4(e.key.length);
  const size =
    NLA_HDRLEN + (e.timeoutMs !== undefined ? 12 : 0) + (e.expirationMs !== undefined ? 12 : 0) + 2 * NLA_HDRLEN + keyPad + (c === null ? 0 : NLA_HDRLEN + align4(udLen));
  const b = Buffer.allocUnsafe(size).fill(0);
  let o = 0;
  const hdr = (len: number, type: number) => {
    writeU16(b, o, len);
    writeU16(b, o + 2, type);
    o += NLA_HDRLEN;
  };
  hdr(size, NFTA_LIST_ELEM | NLA_F_NESTED);
  if (e.timeoutMs !== undefined) {
    hdr(12, NFTA_SET_ELEM_TIMEOUT);
    writeBe64(b, e.timeoutMs, o);
    o += 8;
  }
  if (e.expirationMs !== undefined) {
    hdr(12, NFTA_SET_ELEM_EXPIRATION);
    writeBe64(b, e.expirationMs, o);
    o += 8;
  }
  hdr(2 * NLA_HDRLEN + e.key.length, NFTA_SET_ELEM_KEY | NLA_F_NESTED);
  hdr(NLA_HDRLEN + e.key.length, NFTA_DATA_VALUE);
  e.key.copy(b, o);
  o += keyPad;
  if (c !== null) {
    hdr(NLA_HDRLEN + udLen, NFTA_SET_ELEM_USERDATA);
    writeCommentTlv(b, o, c);
  }
  return b;
}

/** Room for encoded elements inside one NFTA_SET_ELEM_LIST_ELEMENTS (its nla_len is a u16). */
export const MAX_ELEMENTS_NEST_BYTES = NLA_MAX_LEN - NLA_HDRLEN - 3;

/** nla_len of a NUL-terminated string attribute (strAttr's, before padding). */
function strAttrLen(s: string): number {
  return NLA_HDRLEN + Buffer.byteLength(s) + 1;
}

/** Bytes a NEWSETELEM adds to a batch besides its elements. */
export function setElemOverhead(table: string, set: string): number {
  return NLMSG_HDRLEN + NFGENMSG_LEN + align4(strAttrLen(table)) + align4(strAttrLen(set)) + NLA_HDRLEN;
}

/** NFT_MSG_NEWSETELEM, as `nft add element` sends it (NLM_F_CREATE, no NLM_F_EXCL: re-adding updates). */
export function newSetElemMsg(seq: number, family: number, table: string, set: string, elements: Buffer[]): Buffer {
  return setElemMsg(NFT_MSG_NEWSETELEM, NLM_F_CREATE, seq, family, table, set, elements);
}

/**
 * A set-element message (NEWSETELEM, DELSETELEM, DESTROYSETELEM, GETSETELEM) with the given
 * flags: nlmsghdr, nfgenmsg, TABLE, SET, ELEMENTS (the encoded elements, already padded) —
 * the bytes nlmsg()/strAttr()/nested() build, written in one pass into one buffer.
 */
export function setElemMsg(type: number, flags: number, seq: number, family: number, table: string, set: string, elements: Buffer[]): Buffer {
  const tLen = strAttrLen(table);
  const sLen = strAttrLen(set);
  let eLen = NLA_HDRLEN;
  for (const el of elements) eLen += el.length;
  if (eLen > NLA_MAX_LEN) throw new RangeError(`netlink attribute ${NFTA_SET_ELEM_LIST_ELEMENTS} is ${eLen} bytes, over the u16 limit`);
  const len = setElemOverhead(table, set) - NLA_HDRLEN + align4(eLen);
  const b = Buffer.allocUnsafe(len).fill(0);
  writeU32(b, 0, len);
  writeU16(b, 4, nftType(type));
  writeU16(b, 6, NLM_F_REQUEST | flags);
  writeU32(b, 8, seq >>> 0);
  // nlmsg_pid 0 (the kernel fills in the sender); nfgenmsg: family, version, res_id 0
  b[NLMSG_HDRLEN] = family;
  b[NLMSG_HDRLEN + 1] = NFNETLINK_V0;
  let o = NLMSG_HDRLEN + NFGENMSG_LEN;
  const str = (attrType: number, attrLen: number, v: string) => {
    writeU16(b, o, attrLen);
    writeU16(b, o + 2, attrType);
    b.write(v, o + NLA_HDRLEN, 'utf8');
    o += align4(attrLen);
  };
  str(NFTA_SET_ELEM_LIST_TABLE, tLen, table);
  str(NFTA_SET_ELEM_LIST_SET, sLen, set);
  writeU16(b, o, eLen);
  writeU16(b, o + 2, NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
  o += NLA_HDRLEN;
  for (const el of elements) {
    el.copy(b, o);
    o += el.length;
  }
  return b;
}

/** GETSETELEM with NLM_F_DUMP: `nft list set`. */
export function getSetElemDump(seq: number, family: number, table: string, set: string): Buffer {
  return nlmsg(nftType(NFT_MSG_GETSETELEM), NLM_F_REQUEST | NLM_F_DUMP, seq, family, [strAttr(NFTA_SET_ELEM_LIST_TABLE, table), strAttr(NFTA_SET_ELEM_LIST_SET, set)]);
}

export interface DecodedElement {
  key: Buffer;
  timeoutMs?: number;
  expirationMs?: number;
  comment?: string;
}

/** The elements of one NEWSETELEM reply of a dump. */
export function decodeSetElemMsg(msg: NlMsg): { table?: string; set?: string; elements: DecodedElement[] } {
  const top = attrMap(nfAttrs(msg));
  const elements: DecodedElement[] = [];
  const list = top.get(NFTA_SET_ELEM_LIST_ELEMENTS);
  for (const item of list ? parseAttrs(list) : []) {
    if (item.type !== NFTA_LIST_ELEM) continue;
    const a = attrMap(item.value);
    const keyNest = a.get(NFTA_SET_ELEM_KEY);
    const key = keyNest ? attrMap(keyNest).get(NFTA_DATA_VALUE) : undefined;
    if (!key) continue;
    const el: DecodedElement = { key: Buffer.from(key) };
    const t = readBe64(a.get(NFTA_SET_ELEM_TIMEOUT));
    if (t !== undefined) el.timeoutMs = t;
    const x = readBe64(a.get(NFTA_SET_ELEM_EXPIRATION));
    if (x !== undefined) el.expirationMs = x;
    const c = parseComment(a.get(NFTA_SET_ELEM_USERDATA));
    if (c !== undefined) el.comment = c;
    elements.push(el);
  }
  return { table: readString(top.get(NFTA_SET_ELEM_LIST_TABLE)), set: readString(top.get(NFTA_SET_ELEM_LIST_SET)), elements };
}

/**
 * Calls `each` with the key of every element in a set-element message's attributes (`attrs`:
 * after nfgenmsg), decoding nothing else and copying nothing: `key` is a view into the datagram.
 * For deletion notifications, which the kernel sends one per element (a revocation of 100k
 * elements reads 100k of them). Returns how many keys it found.
 */
export function forEachElementKey(attrs: Buffer, each: (key: Buffer) => void): number {
  const list = findAttr(attrs, NFTA_SET_ELEM_LIST_ELEMENTS);
  if (!list) return 0;
  let n = 0;
  let off = 0;
  while (off + NLA_HDRLEN <= list.length) {
    const len = readU16(list, off);
    if (len < NLA_HDRLEN || off + len > list.length) break;
    if ((readU16(list, off + 2) & NLA_TYPE_MASK) === NFTA_LIST_ELEM) {
      const key = findAttr(findAttr(list.subarray(off + NLA_HDRLEN, off + len), NFTA_SET_ELEM_KEY), NFTA_DATA_VALUE);
      if (key) {
        each(key);
        n++;
      }
    }
    off += align4(len);
  }
  return n;
}

/** Finds the comment TLV in NFTA_SET_ELEM_USERDATA (other TLVs may precede it). */
export function parseComment(ud: Buffer | undefined): string | undefined {
  if (!ud) return undefined;
  let off = 0;
  while (off + 2 <= ud.length) {
    const type = ud[off],
      len = ud[off + 1];
    if (off + 2 + len > ud.length) return undefined;
    if (type === NFTNL_UDATA_SET_ELEM_COMMENT) return readString(ud.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  return undefined;
}
