// The one walk over a message's records: every reader of queries and replies (parseQuery,
// readAnswer, the cache's scanReply, the answer guard's rewrite) steps through records with
// RecordWalker, so the bounds, name and OPT-placement checks are written once. SvcParamWalker is
// the same for the SvcParams inside one SVCB/HTTPS record (readAnswer and the guard).

import { DnsFormatError } from './errors';
import { readName } from './name';
import { HEADER_SIZE, SVCPARAM, TYPE } from './constants';

const EMPTY = Buffer.alloc(0);
// Module-local copies: the hot loop reads these instead of properties of exported objects.
const ANSWER = 1;
const AUTHORITY = 2;
const ADDITIONAL = 3;
const OPT = TYPE.OPT;

/** Message sections (RFC 1035 §4.1); the question section is read with `question()`. */
export const SECTION = {
  QUESTION: 0,
  ANSWER: 1,
  AUTHORITY: 2,
  ADDITIONAL: 3,
} as const;
export type Section = (typeof SECTION)[keyof typeof SECTION];

/**
 * A cursor over the records of one message. `new RecordWalker(wire)` checks the header fits;
 * `question(text)` reads the next question (name text via nameText() when `text`); `next()` skips
 * any unread questions, then validates the next resource record and sets its fields, returning
 * false after the last counted record. Names are skipped with readName's checks (pointers strictly
 * backwards, never into the header, at most 128 jumps, 255 octets). An OPT record outside the
 * additional section, or a second one, is refused (RFC 6891 §6.1.1). Everything malformed throws
 * DnsFormatError and nothing else. The fields are numbers (offsets into `wire`): the walk allocates
 * nothing per record, and `reset(wire)` lets a hot caller reuse one walker for every message.
 */
export class RecordWalker {
  wire: Buffer = EMPTY;
  qdcount = 0;
  ancount = 0;
  nscount = 0;
  arcount = 0;
  /** offset just past the question section (valid once every question was read or skipped) */
  questionEnd = -1;
  /** set on a truncated (TC) reply: a message that ends at a record boundary ends the walk early */
  stopAtEnd = false;

  // the current question (after question())
  qtype = 0;
  qclass = 0;

  // the current record (after next() returned true)
  /** SECTION.ANSWER, AUTHORITY or ADDITIONAL */
  section: Section = 0;
  /** index of the record among all records after the questions (answer section first) */
  index = -1;
  /** offset of the owner name */
  ownerAt = 0;
  type = 0;
  /** CLASS field (for OPT: the requestor's UDP payload size) */
  klass = 0;
  /** offset of the 32-bit TTL field (for OPT: extended rcode, version, flags) */
  ttlAt = 0;
  /** RDATA is wire[rdata, rdEnd) */
  rdata = 0;
  rdEnd = 0;
  /** offset of the OPT record's owner name, -1 if none was read yet */
  optAt = -1;

  private pos = HEADER_SIZE;
  private questionsLeft = 0;
  private answerEnd = 0;
  private authorityEnd = 0;
  private total = 0;

  constructor(wire?: Buffer) {
    if (wire) this.reset(wire);
  }

  /** Starts over on `wire` (throws DnsFormatError 'SHORT' when it has no whole header). */
  reset(wire: Buffer): this {
    if (wire.length < HEADER_SIZE) throw new DnsFormatError(`short header (${wire.length} bytes)`, 'SHORT');
    this.wire = wire;
    const qd = (this.qdcount = wire.readUInt16BE(4));
    const an = (this.ancount = wire.readUInt16BE(6));
    const ns = (this.nscount = wire.readUInt16BE(8));
    this.arcount = wire.readUInt16BE(10);
    this.questionsLeft = qd;
    this.answerEnd = an;
    this.authorityEnd = an + ns;
    this.total = an + ns + this.arcount;
    this.questionEnd = qd === 0 ? HEADER_SIZE : -1;
    this.stopAtEnd = false;
    this.pos = HEADER_SIZE;
    this.index = -1;
    this.optAt = -1;
    return this;
  }

  /**
   * Reads the next question: returns the offset just past it and sets `qtype` and `qclass`. With
   * `text` true the name's text form is left for nameText().
   */
  question(text: boolean): number {
    if (this.questionsLeft === 0) throw new DnsFormatError('no question left', 'FORMERR', this.pos);
    const p = readName(this.wire, this.pos, text);
    if (p + 4 > this.wire.length) throw new DnsFormatError('truncated question', 'FORMERR', p);
    this.qtype = this.wire.readUInt16BE(p);
    this.qclass = this.wire.readUInt16BE(p + 2);
    this.pos = p + 4;
    if (--this.questionsLeft === 0) this.questionEnd = this.pos;
    return this.pos;
  }

  /** Advances to the next resource record; false when every counted record was read. */
  next(): boolean {
    // Kept small so that V8 inlines it into the callers' loops; the rare paths are methods.
    if (this.questionsLeft > 0) this.skipQuestions();
    const i = this.index + 1;
    if (i >= this.total) return false;
    const wire = this.wire;
    const len = wire.length;
    const start = this.pos;
    if (start === len && this.stopAtEnd) return false;
    const p = readName(wire, start, false);
    if (p + 10 > len) fail('truncated record', start);
    const rdata = p + 10;
    const rdEnd = rdata + ((wire[p + 8] << 8) | wire[p + 9]);
    if (rdEnd > len) fail('truncated rdata', rdata);
    const type = (wire[p] << 8) | wire[p + 1];
    const section = i < this.answerEnd ? ANSWER : i < this.authorityEnd ? AUTHORITY : ADDITIONAL;
    if (type === OPT) this.opt(section, start);
    this.index = i;
    this.section = section;
    this.ownerAt = start;
    this.type = type;
    this.klass = (wire[p + 2] << 8) | wire[p + 3];
    this.ttlAt = p + 4;
    this.rdata = rdata;
    this.rdEnd = rdEnd;
    this.pos = rdEnd;
    return true;
  }

  /** Skips the questions not read yet; returns `questionEnd`, the offset just past the question section. */
  skipQuestions(): number {
    const wire = this.wire;
    while (this.questionsLeft > 0) {
      const p = readName(wire, this.pos, false) + 4;
      if (p > wire.length) fail('truncated question', p - 4);
      this.pos = p;
      if (--this.questionsLeft === 0) this.questionEnd = p;
    }
    return this.questionEnd;
  }

  private opt(section: number, start: number): void {
    if (section !== ADDITIONAL) fail('OPT not in additional section', start);
    if (this.optAt >= 0) fail('two OPT records', start);
    this.optAt = start;
  }
}

/** SvcPriority 0 is AliasMode (RFC 9460 §2.4.2): its SvcParams carry no meaning for a client. */
export const SVC_PRIORITY_ALIAS_MODE = 0;
const IPV4HINT = SVCPARAM.IPV4HINT;
const IPV6HINT = SVCPARAM.IPV6HINT;

/**
 * A cursor over the SvcParams of one SVCB or HTTPS RDATA (RFC 9460 §2.2: SvcPriority u16,
 * TargetName, then SvcParams {SvcParamKey u16, length u16, SvcParamValue}). `reset(wire, rdata,
 * rdEnd)` reads SvcPriority and skips TargetName (with readName's checks, within the RDATA);
 * each `next()` validates the next SvcParam and sets its fields, returning false after the
 * last one. The value of an ipv4hint / ipv6hint must be a non-empty whole number of 4- / 16-octet
 * addresses (RFC 9460 §7.3); other values are not interpreted. Everything malformed throws
 * DnsFormatError and nothing else; nothing is read outside wire[rdata, rdEnd) except the names
 * TargetName points at. Keys are yielded in wire order (their order is not checked). Like
 * RecordWalker it allocates nothing: one walker can serve every record.
 */
export class SvcParamWalker {
  wire: Buffer = EMPTY;
  /** SvcPriority; SVC_PRIORITY_ALIAS_MODE (0) means AliasMode */
  svcPriority = 0;
  /** offset of TargetName */
  targetName = 0;
  /** offset of the first SvcParam (just past TargetName) */
  svcParams = 0;
  /** end of the RDATA */
  rdEnd = 0;

  // the current SvcParam (after next() returned true)
  /** SvcParamKey (SVCPARAM.*) */
  key = -1;
  /** offset of the SvcParam (its SvcParamKey) */
  paramAt = 0;
  /** SvcParamValue is wire[value, valueEnd) */
  value = 0;
  valueEnd = 0;
  /** octets per address: 4 for ipv4hint, 16 for ipv6hint, 0 for every other key */
  hintSize: 0 | 4 | 16 = 0;

  private pos = 0;

  /** Starts on the SVCB/HTTPS RDATA wire[rdata, rdEnd). */
  reset(wire: Buffer, rdata: number, rdEnd: number): this {
    if (rdEnd > wire.length || rdata > rdEnd) throw new RangeError(`RDATA ${rdata}..${rdEnd} outside the message`);
    if (rdata + 3 > rdEnd) fail('truncated SVCB RDATA', rdata);
    this.wire = wire;
    this.svcPriority = (wire[rdata] << 8) | wire[rdata + 1];
    this.targetName = rdata + 2;
    // Read within the RDATA: a TargetName that does not end inside it is refused the same way
    // whatever follows (a pointer may still go back to an earlier name).
    const p = readName(rdEnd === wire.length ? wire : wire.subarray(0, rdEnd), rdata + 2, false);
    this.svcParams = p;
    this.rdEnd = rdEnd;
    this.pos = p;
    this.key = -1;
    return this;
  }

  /** Advances to the next SvcParam; false after the last. */
  next(): boolean {
    const p = this.pos;
    const end = this.rdEnd;
    if (p >= end) return false;
    if (p + 4 > end) fail('truncated SvcParam', p);
    const wire = this.wire;
    const key = (wire[p] << 8) | wire[p + 1];
    const value = p + 4;
    const length = (wire[p + 2] << 8) | wire[p + 3];
    const valueEnd = value + length;
    if (valueEnd > end) fail('SvcParam overruns RDATA', value);
    const size = key === IPV4HINT ? 4 : key === IPV6HINT ? 16 : 0;
    if (size !== 0 && (length === 0 || length % size !== 0)) {
      fail(`bad ${size === 4 ? 'ipv4hint' : 'ipv6hint'} length ${length}`, value);
    }
    this.key = key;
    this.paramAt = p;
    this.value = value;
    this.valueEnd = valueEnd;
    this.hintSize = size;
    this.pos = valueEnd;
    return true;
  }
}

function fail(what: string, offset: number): never {
  throw new DnsFormatError(what, 'FORMERR', offset);
}
