// Removing guarded addresses from a reply's bytes: A/AAAA records go, SVCB/HTTPS ipv4hint and
// ipv6hint lose the guarded values. One scan decides whether anything changes (the common case:
// nothing, no allocation); only then is the message rebuilt.
//
// Rebuilding: header and question are copied as they are; every kept record is written again
// with its names re-compressed against what is already in the output (RFC 1035 §4.1.4), because
// a removed record may have held the labels that later pointers pointed at, and every later
// offset moves. Names inside RDATA are rewritten for the types that may carry compression
// pointers (RFC 3597 §4): compressed again for the RFC 1035 types, written out in full for the
// "decompress only" ones; RDATA of every other type holds no pointer and is copied.
import { readName } from '../../dns/name';
import { DnsFormatError } from '../../dns/errors';
import { CLASS, FLAG, HEADER_SIZE, SVCPARAM, TYPE } from '../../dns/constants';

/** Says whether the 4- or 16-byte address at buf[off..off+size) must be removed. */
export type Guarded = (buf: Buffer, off: number, size: 4 | 16) => boolean;

export interface Stripped {
  wire: Buffer;
  /** A/AAAA records removed */
  records: number;
  /** ipv4hint/ipv6hint values removed (whole SVCB/HTTPS records dropped count their values too) */
  hints: number;
}

/** Layout of names in RDATA: fixed octets before each name, and whether it may be compressed. */
interface NameLayout {
  /** octets before the first name, and between names (e.g. MX: [2], SOA: [0, 0]) */
  skips: number[];
  compress: boolean;
}

// RFC 1035 types: compression allowed when writing.
const MX_LIKE = { skips: [2], compress: true };
const ONE_NAME = { skips: [0], compress: true };
// RFC 3597 §4: receivers decompress these; senders must not compress them, so they are written in full.
const RDATA_NAMES = new Map<number, NameLayout>([
  [TYPE.NS, ONE_NAME], [3, ONE_NAME] /* MD */, [4, ONE_NAME] /* MF */, [TYPE.CNAME, ONE_NAME],
  [TYPE.SOA, { skips: [0, 0], compress: true }], [7, ONE_NAME] /* MB */, [8, ONE_NAME] /* MG */,
  [9, ONE_NAME] /* MR */, [TYPE.PTR, ONE_NAME], [14, { skips: [0, 0], compress: true }] /* MINFO */,
  [TYPE.MX, MX_LIKE],
  [17, { skips: [0, 0], compress: false }] /* RP */, [18, { skips: [2], compress: false }] /* AFSDB */,
  [21, { skips: [2], compress: false }] /* RT */, [26, { skips: [2, 0], compress: false }] /* PX */,
  [TYPE.SRV, { skips: [6], compress: false }], [36, { skips: [2], compress: false }] /* KX */,
  [TYPE.DNAME, { skips: [0], compress: false }],
]);

/**
 * The reply without guarded addresses, or null when it holds none. Throws DnsFormatError on a
 * malformed reply (the caller fails closed).
 */
export function stripAddresses(reply: Buffer, guarded: Guarded): Stripped | null {
  return scan(reply, guarded) ? rebuild(reply, guarded) : null;
}

interface Walk {
  qdEnd: number;
  counts: [number, number, number];
  truncated: boolean;
}

function header(reply: Buffer): Walk {
  if (reply.length < HEADER_SIZE) throw new DnsFormatError(`short header (${reply.length} bytes)`, 'SHORT');
  let pos = HEADER_SIZE;
  const qd = reply.readUInt16BE(4);
  for (let i = 0; i < qd; i++) {
    pos = readName(reply, pos, false) + 4;
    if (pos > reply.length) throw new DnsFormatError('truncated question', 'FORMERR', pos - 4);
  }
  return {
    qdEnd: pos,
    counts: [reply.readUInt16BE(6), reply.readUInt16BE(8), reply.readUInt16BE(10)],
    truncated: (reply.readUInt16BE(2) & FLAG.TC) !== 0,
  };
}

/** true when some A/AAAA record or SVCB/HTTPS hint value is guarded. */
function scan(reply: Buffer, guarded: Guarded): boolean {
  const w = header(reply);
  const total = w.counts[0] + w.counts[1] + w.counts[2];
  let pos = w.qdEnd;
  for (let i = 0; i < total; i++) {
    if (w.truncated && pos === reply.length) break;
    const r = record(reply, pos);
    if (r.klass === CLASS.IN) {
      if ((r.type === TYPE.A || r.type === TYPE.AAAA) && guarded(reply, r.rd, r.type === TYPE.A ? 4 : 16)) return true;
      if ((r.type === TYPE.SVCB || r.type === TYPE.HTTPS) && svcHints(reply, r.rd, r.end, guarded).removed > 0) return true;
    }
    pos = r.end;
  }
  return false;
}

interface Rr {
  /** offset of the owner name */
  start: number;
  type: number;
  klass: number;
  /** offset of TYPE (just past the owner name) */
  fixed: number;
  rd: number;
  end: number;
}

function record(reply: Buffer, start: number): Rr {
  const fixed = readName(reply, start, false);
  if (fixed + 10 > reply.length) throw new DnsFormatError('truncated record', 'FORMERR', start);
  const type = reply.readUInt16BE(fixed);
  const rdlen = reply.readUInt16BE(fixed + 8);
  const rd = fixed + 10;
  if (rd + rdlen > reply.length) throw new DnsFormatError('truncated rdata', 'FORMERR', rd);
  if (type === TYPE.A && rdlen !== 4) throw new DnsFormatError(`A rdlength ${rdlen}, need 4`, 'FORMERR', rd);
  if (type === TYPE.AAAA && rdlen !== 16) throw new DnsFormatError(`AAAA rdlength ${rdlen}, need 16`, 'FORMERR', rd);
  return { start, type, klass: reply.readUInt16BE(fixed + 2), fixed, rd, end: rd + rdlen };
}

interface SvcParam {
  key: number;
  v: number;
  vlen: number;
}

interface SvcRead {
  /** offset just past TargetName */
  target: number;
  params: SvcParam[];
  /** hint values that are guarded */
  removed: number;
}

/** SVCB RDATA (RFC 9460 §2.2): SvcPriority, TargetName, SvcParams {key, length, value}. */
function svcHints(reply: Buffer, rd: number, rdEnd: number, guarded: Guarded): SvcRead {
  if (rd + 3 > rdEnd) throw new DnsFormatError('truncated SVCB RDATA', 'FORMERR', rd);
  const target = readName(reply, rd + 2, false);
  if (target > rdEnd) throw new DnsFormatError('SVCB TargetName overruns RDATA', 'FORMERR', rd + 2);
  const params: SvcParam[] = [];
  let removed = 0;
  for (let p = target; p < rdEnd; ) {
    if (p + 4 > rdEnd) throw new DnsFormatError('truncated SvcParam', 'FORMERR', p);
    const key = reply.readUInt16BE(p);
    const vlen = reply.readUInt16BE(p + 2);
    const v = p + 4;
    p = v + vlen;
    if (p > rdEnd) throw new DnsFormatError('SvcParam overruns RDATA', 'FORMERR', v);
    params.push({ key, v, vlen });
    if (key !== SVCPARAM.IPV4HINT && key !== SVCPARAM.IPV6HINT) continue;
    const size = key === SVCPARAM.IPV4HINT ? 4 : 16;
    if (vlen === 0 || vlen % size !== 0) throw new DnsFormatError(`bad hint length ${vlen}`, 'FORMERR', v);
    for (let a = v; a < p; a += size) if (guarded(reply, a, size)) removed++;
  }
  return { target, params, removed };
}

/** A growing output buffer with a compression table of the names written so far. */
class Writer {
  buf: Buffer;
  len = 0;
  /** uncompressed wire form of a name suffix (exact octets, case kept) → its offset */
  private readonly names = new Map<string, number>();

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }

  copy(src: Buffer, from: number, to: number): void {
    this.ensure(to - from);
    src.copy(this.buf, this.len, from, to);
    this.len += to - from;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
  }

  /** Remember the suffixes of the uncompressed labels at `off` in the output (the question). */
  learn(off: number): void {
    const labels: [number, number][] = [];
    let p = off;
    for (; this.buf[p] !== 0 && (this.buf[p] & 0xc0) === 0; p += this.buf[p] + 1) labels.push([p, this.buf[p] + 1]);
    if (this.buf[p] !== 0) return; // ends in a pointer (a second question): its suffixes are not all here
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map(([p, l]) => this.buf.toString('latin1', p, p + l)).join('');
      if (!this.names.has(key)) this.names.set(key, labels[i][0]);
    }
  }

  /** Write the name at `from` in `src` (following its pointers), compressed or in full. */
  name(src: Buffer, from: number, compress: boolean): void {
    const labels = nameLabels(src, from);
    for (let i = 0; i < labels.length; i++) {
      const key = compress ? labels.slice(i).join('') : '';
      const at = compress ? this.names.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (compress && this.len < 0x4000) this.names.set(key, this.len);
      const l = Buffer.from(labels[i], 'latin1');
      this.copy(l, 0, l.length);
    }
    this.ensure(1);
    this.buf[this.len++] = 0;
  }
}

/** The labels of a (validated) name, each as latin1 text of its wire octets (length octet first). */
function nameLabels(src: Buffer, from: number): string[] {
  const out: string[] = [];
  let p = from;
  for (;;) {
    const b = src[p];
    if (b === 0) return out;
    if ((b & 0xc0) === 0xc0) {
      p = ((b & 0x3f) << 8) | src[p + 1];
      continue;
    }
    out.push(src.toString('latin1', p, p + b + 1));
    p += b + 1;
  }
}

function rebuild(reply: Buffer, guarded: Guarded): Stripped {
  const w = header(reply);
  const out = new Writer(reply.length + 64);
  out.copy(reply, 0, w.qdEnd);
  for (let p = HEADER_SIZE; p < w.qdEnd; p = readName(reply, p, false) + 4) out.learn(p);
  const kept: [number, number, number] = [0, 0, 0];
  let records = 0;
  let hints = 0;
  let pos = w.qdEnd;
  let section = 0;
  let left = w.counts[0];
  const total = w.counts[0] + w.counts[1] + w.counts[2];
  for (let i = 0; i < total; i++) {
    while (left === 0) left = w.counts[++section];
    left--;
    if (w.truncated && pos === reply.length) break;
    const r = record(reply, pos);
    pos = r.end;
    const inet = r.klass === CLASS.IN;
    if (inet && (r.type === TYPE.A || r.type === TYPE.AAAA) && guarded(reply, r.rd, r.type === TYPE.A ? 4 : 16)) {
      records++;
      continue;
    }
    if (inet && (r.type === TYPE.SVCB || r.type === TYPE.HTTPS)) {
      const s = svcHints(reply, r.rd, r.end, guarded);
      if (s.removed > 0) {
        hints += s.removed;
        if (!writeSvc(out, reply, r, s, guarded)) continue;
        kept[section]++;
        continue;
      }
    }
    writeRecord(out, reply, r);
    kept[section]++;
  }
  out.buf.writeUInt16BE(kept[0], 6);
  out.buf.writeUInt16BE(kept[1], 8);
  out.buf.writeUInt16BE(kept[2], 10);
  return { wire: out.buf.subarray(0, out.len), records, hints };
}

/** Owner (compressed), TYPE, CLASS, TTL, then RDLENGTH and RDATA with its names rewritten. */
function writeRecord(out: Writer, reply: Buffer, r: Rr): void {
  out.name(reply, r.start, true);
  out.copy(reply, r.fixed, r.fixed + 8);
  const lenAt = out.len;
  out.u16(0);
  const layout = RDATA_NAMES.get(r.type);
  if (!layout) {
    out.copy(reply, r.rd, r.end);
  } else {
    let p = r.rd;
    for (const skip of layout.skips) {
      if (p + skip > r.end) throw new DnsFormatError('truncated rdata', 'FORMERR', p);
      out.copy(reply, p, p + skip);
      p += skip;
      const next = readName(reply, p, false);
      if (next > r.end) throw new DnsFormatError('name overruns rdata', 'FORMERR', p);
      out.name(reply, p, layout.compress);
      p = next;
    }
    out.copy(reply, p, r.end); // SOA's five counters, or nothing
  }
  out.buf.writeUInt16BE(out.len - lenAt - 2, lenAt);
}

/** SVCB/HTTPS with the guarded hint values left out; false when the record itself must go. */
function writeSvc(out: Writer, reply: Buffer, r: Rr, s: SvcRead, guarded: Guarded): boolean {
  const emptied = new Set<number>();
  for (const p of s.params) {
    if (p.key !== SVCPARAM.IPV4HINT && p.key !== SVCPARAM.IPV6HINT) continue;
    const size = p.key === SVCPARAM.IPV4HINT ? 4 : 16;
    let keep = 0;
    for (let a = p.v; a < p.v + p.vlen; a += size) if (!guarded(reply, a, size)) keep++;
    if (keep === 0) emptied.add(p.key);
  }
  // A key listed in "mandatory" must be present (RFC 9460 §8): without it the record is invalid.
  const mandatory = s.params.find((p) => p.key === SVCPARAM.MANDATORY);
  if (mandatory) {
    for (let a = mandatory.v; a + 2 <= mandatory.v + mandatory.vlen; a += 2) if (emptied.has(reply.readUInt16BE(a))) return false;
  }
  out.name(reply, r.start, true);
  out.copy(reply, r.fixed, r.fixed + 8);
  const lenAt = out.len;
  out.u16(0);
  out.copy(reply, r.rd, r.rd + 2); // SvcPriority
  out.name(reply, r.rd + 2, false); // TargetName: never compressed (RFC 9460 §2.2)
  for (const p of s.params) {
    if (emptied.has(p.key)) continue;
    if (p.key !== SVCPARAM.IPV4HINT && p.key !== SVCPARAM.IPV6HINT) {
      out.copy(reply, p.v - 4, p.v + p.vlen);
      continue;
    }
    const size = p.key === SVCPARAM.IPV4HINT ? 4 : 16;
    out.u16(p.key);
    const vAt = out.len;
    out.u16(0);
    for (let a = p.v; a < p.v + p.vlen; a += size) if (!guarded(reply, a, size)) out.copy(reply, a, a + size);
    out.buf.writeUInt16BE(out.len - vAt - 2, vAt);
  }
  out.buf.writeUInt16BE(out.len - lenAt - 2, lenAt);
  return true;
}
