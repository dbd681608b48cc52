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
import { RecordWalker, SvcParamWalker } from '../../dns/records';

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
  [TYPE.NS, ONE_NAME],
  [3, ONE_NAME] /* MD */,
  [4, ONE_NAME] /* MF */,
  [TYPE.CNAME, ONE_NAME],
  [TYPE.SOA, { skips: [0, 0], compress: true }],
  [7, ONE_NAME] /* MB */,
  [8, ONE_NAME] /* MG */,
  [9, ONE_NAME] /* MR */,
  [TYPE.PTR, ONE_NAME],
  [14, { skips: [0, 0], compress: true }] /* MINFO */,
  [TYPE.MX, MX_LIKE],
  [17, { skips: [0, 0], compress: false }] /* RP */,
  [18, { skips: [2], compress: false }] /* AFSDB */,
  [21, { skips: [2], compress: false }] /* RT */,
  [26, { skips: [2, 0], compress: false }] /* PX */,
  [TYPE.SRV, { skips: [6], compress: false }],
  [36, { skips: [2], compress: false }] /* KX */,
  [TYPE.DNAME, { skips: [0], compress: false }],
]);

/**
 * The reply without guarded addresses, or null when it holds none. Throws DnsFormatError on a
 * malformed reply (the caller fails closed).
 */
export function stripAddresses(reply: Buffer, guarded: Guarded): Stripped | null {
  return scan(reply, guarded) ? rebuild(reply, guarded) : null;
}

const walker = new RecordWalker();
const svc = new SvcParamWalker();

/** Starts `walker` on `reply` and reads past its questions. */
function start(reply: Buffer): RecordWalker {
  const w = walker.reset(reply);
  w.stopAtEnd = (reply.readUInt16BE(2) & FLAG.TC) !== 0; // a truncated reply may stop at a record boundary
  w.skipQuestions();
  return w;
}

/** The current record's A/AAAA RDATA must be one address (whatever its class). */
function checkAddress(w: RecordWalker): void {
  const len = w.rdEnd - w.rdata;
  if (w.type === TYPE.A && len !== 4) throw new DnsFormatError(`A rdlength ${len}, need 4`, 'FORMERR', w.rdata);
  if (w.type === TYPE.AAAA && len !== 16) throw new DnsFormatError(`AAAA rdlength ${len}, need 16`, 'FORMERR', w.rdata);
}

/** true when some A/AAAA record or SVCB/HTTPS hint value is guarded. */
function scan(reply: Buffer, guarded: Guarded): boolean {
  const w = start(reply);
  while (w.next()) {
    checkAddress(w);
    if (w.klass !== CLASS.IN) continue;
    const type = w.type;
    if ((type === TYPE.A || type === TYPE.AAAA) && guarded(reply, w.rdata, type === TYPE.A ? 4 : 16)) return true;
    if ((type === TYPE.SVCB || type === TYPE.HTTPS) && guardedHints(reply, w.rdata, w.rdEnd, guarded) > 0) return true;
  }
  return false;
}

/** One record, by offsets into the reply. */
interface Rr {
  /** offset of the owner name */
  start: number;
  type: number;
  /** offset of TYPE (just past the owner name) */
  fixed: number;
  rd: number;
  end: number;
}

/**
 * How many hint values of the SVCB/HTTPS RDATA reply[rd, rdEnd) are guarded. Every record's
 * hints count, AliasMode's too: a client should ignore those, but nothing guarded is relayed.
 */
function guardedHints(reply: Buffer, rd: number, rdEnd: number, guarded: Guarded): number {
  const s = svc.reset(reply, rd, rdEnd);
  let removed = 0;
  while (s.next()) {
    const size = s.hintSize;
    if (size === 0) continue;
    for (let a = s.value; a < s.valueEnd; a += size) if (guarded(reply, a, size)) removed++;
  }
  return removed;
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
      const key = labels
        .slice(i)
        .map(([p, l]) => this.buf.toString('latin1', p, p + l))
        .join('');
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
  const w = start(reply);
  const qdEnd = w.questionEnd;
  const out = new Writer(reply.length + 64);
  out.copy(reply, 0, qdEnd);
  for (let p = HEADER_SIZE; p < qdEnd; p = readName(reply, p, false) + 4) out.learn(p);
  const kept: [number, number, number] = [0, 0, 0];
  let records = 0;
  let hints = 0;
  while (w.next()) {
    checkAddress(w);
    const type = w.type;
    const r: Rr = { start: w.ownerAt, type, fixed: w.ttlAt - 4, rd: w.rdata, end: w.rdEnd };
    const inet = w.klass === CLASS.IN;
    if (inet && (type === TYPE.A || type === TYPE.AAAA) && guarded(reply, r.rd, type === TYPE.A ? 4 : 16)) {
      records++;
      continue;
    }
    if (inet && (type === TYPE.SVCB || type === TYPE.HTTPS)) {
      const removed = guardedHints(reply, r.rd, r.end, guarded);
      if (removed > 0) {
        hints += removed;
        if (writeSvc(out, reply, r, guarded)) kept[w.section - 1]++;
        continue;
      }
    }
    writeRecord(out, reply, r);
    kept[w.section - 1]++;
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
function writeSvc(out: Writer, reply: Buffer, r: Rr, guarded: Guarded): boolean {
  const s = svc.reset(reply, r.rd, r.end);
  const emptied = new Set<number>();
  let mandatory = -1;
  while (s.next()) {
    if (s.key === SVCPARAM.MANDATORY && mandatory < 0) mandatory = s.paramAt;
    const size = s.hintSize;
    if (size === 0) continue;
    let keep = 0;
    for (let a = s.value; a < s.valueEnd; a += size) if (!guarded(reply, a, size)) keep++;
    if (keep === 0) emptied.add(s.key);
  }
  // A key listed in "mandatory" must be present (RFC 9460 §8): without it the record is invalid.
  if (mandatory >= 0) {
    const from = mandatory + 4;
    const to = from + reply.readUInt16BE(mandatory + 2);
    for (let a = from; a + 2 <= to; a += 2) if (emptied.has(reply.readUInt16BE(a))) return false;
  }
  out.name(reply, r.start, true);
  out.copy(reply, r.fixed, r.fixed + 8);
  const lenAt = out.len;
  out.u16(0);
  out.copy(reply, r.rd, r.rd + 2); // SvcPriority
  out.name(reply, r.rd + 2, false); // TargetName: never compressed (RFC 9460 §2.2)
  svc.reset(reply, r.rd, r.end);
  while (s.next()) {
    if (emptied.has(s.key)) continue;
    const size = s.hintSize;
    if (size === 0) {
      out.copy(reply, s.paramAt, s.valueEnd);
      continue;
    }
    out.u16(s.key);
    const vAt = out.len;
    out.u16(0);
    for (let a = s.value; a < s.valueEnd; a += size) if (!guarded(reply, a, size)) out.copy(reply, a, a + size);
    out.buf.writeUInt16BE(out.len - vAt - 2, vAt);
  }
  out.buf.writeUInt16BE(out.len - lenAt - 2, lenAt);
  return true;
}
