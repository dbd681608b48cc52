// Reading client queries: just the header, the one question and the OPT record.
// The bytes are forwarded unchanged, so this only validates and extracts.

import { DnsFormatError } from './errors';
import { readName, nameText } from './name';
import { RecordWalker } from './records';
import { EDNS_DO, FLAG, HEADER_SIZE, MIN_UDP_SIZE, OPCODE, OPCODE_MASK, OPCODE_SHIFT, TYPE } from './constants';
import type { Query } from './types';

export { DnsFormatError } from './errors';
export type { DnsErrorCode } from './errors';

// One walker for every query: parseQuery runs to completion before the next call.
const walker = new RecordWalker();

export interface Question {
  name: string;
  qtype: number;
  qclass: number;
  /** offset just past the question */
  end: number;
}

/** Reads the question at `offset` of a query or a reply; throws DnsFormatError if malformed. */
export function readQuestion(wire: Buffer, offset = HEADER_SIZE): Question {
  const p = readName(wire, offset, true);
  const name = nameText();
  if (p + 4 > wire.length) throw new DnsFormatError('truncated question', 'FORMERR', p);
  return { name, qtype: wire.readUInt16BE(p), qclass: wire.readUInt16BE(p + 2), end: p + 4 };
}

/**
 * Validates a client query and returns what the request path needs. Throws DnsFormatError whose
 * `code` tells the caller to answer FORMERR, answer NOTIMP, or drop the packet (SHORT, RESPONSE).
 * Bytes after the last record are tolerated (and forwarded, as resolvers ignore them).
 */
export function parseQuery(wire: Buffer): Query {
  const w = walker.reset(wire);
  const flags = wire.readUInt16BE(2);
  if ((flags & FLAG.QR) !== 0) throw new DnsFormatError('QR bit set', 'RESPONSE');
  const opcode = (flags & OPCODE_MASK) >> OPCODE_SHIFT;
  if (opcode !== OPCODE.QUERY) throw new DnsFormatError(`opcode ${opcode} not implemented`, 'NOTIMP');
  if (w.qdcount !== 1) throw new DnsFormatError(`qdcount ${w.qdcount}, need 1`);
  if (w.ancount !== 0) throw new DnsFormatError(`ancount ${w.ancount}, need 0`);

  const questionEnd = w.question(true);
  const name = nameText();
  const { qtype, qclass } = w;

  let edns: Query['edns'] = null;
  while (w.next()) {
    if (w.type !== TYPE.OPT) continue;
    if (w.ttlAt !== w.ownerAt + 5) throw new DnsFormatError('bad OPT: owner not root', 'FORMERR', w.ownerAt);
    checkOptions(wire, w.rdata, w.rdEnd);
    const size = w.klass;
    edns = {
      udpSize: size < MIN_UDP_SIZE ? MIN_UDP_SIZE : size,
      version: wire[w.ttlAt + 1],
      do: (wire.readUInt16BE(w.ttlAt + 2) & EDNS_DO) !== 0,
    };
  }
  return { id: wire.readUInt16BE(0), flags, opcode, name, qtype, qclass, questionEnd, edns };
}

/** OPT RDATA is a sequence of {code u16, length u16, value}; it must fill the RDATA exactly. */
function checkOptions(wire: Buffer, p: number, end: number): void {
  while (p < end) {
    if (p + 4 > end) throw new DnsFormatError('bad OPT: truncated option header', 'FORMERR', p);
    p += 4 + wire.readUInt16BE(p + 2);
    if (p > end) throw new DnsFormatError('bad OPT: option overruns RDATA', 'FORMERR', p);
  }
}

/**
 * True when `reply` carries exactly the question of the query (bytes compared as sent, so a
 * client's 0x20 mixed case must come back unchanged). Never throws.
 */
export function questionMatches(reply: Buffer, wire: Buffer, q: Query): boolean {
  const end = q.questionEnd;
  if (reply.length < end || reply[4] !== 0 || reply[5] !== 1) return false;
  return reply.compare(wire, HEADER_SIZE, end, HEADER_SIZE, end) === 0;
}
