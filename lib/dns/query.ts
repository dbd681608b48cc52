// Reading client queries: just the header, the one question and the OPT record.
// The bytes are forwarded unchanged, so this only validates and extracts.

import { DnsFormatError } from './errors';
import { readName, nameText } from './name';
import {
  EDNS_DO,
  FLAG,
  HEADER_SIZE,
  MIN_UDP_SIZE,
  OPCODE,
  OPCODE_MASK,
  OPCODE_SHIFT,
  TYPE,
} from './constants';
import type { Query } from './types';

export { DnsFormatError } from './errors';
export type { DnsErrorCode } from './errors';

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
  const len = wire.length;
  if (len < HEADER_SIZE) throw new DnsFormatError(`short header (${len} bytes)`, 'SHORT');
  const flags = wire.readUInt16BE(2);
  if ((flags & FLAG.QR) !== 0) throw new DnsFormatError('QR bit set', 'RESPONSE');
  const opcode = (flags & OPCODE_MASK) >> OPCODE_SHIFT;
  if (opcode !== OPCODE.QUERY) throw new DnsFormatError(`opcode ${opcode} not implemented`, 'NOTIMP');
  const qd = wire.readUInt16BE(4);
  if (qd !== 1) throw new DnsFormatError(`qdcount ${qd}, need 1`);
  const an = wire.readUInt16BE(6);
  if (an !== 0) throw new DnsFormatError(`ancount ${an}, need 0`);
  const ns = wire.readUInt16BE(8);
  const ar = wire.readUInt16BE(10);

  let pos = readName(wire, HEADER_SIZE, true);
  const name = nameText();
  if (pos + 4 > len) throw new DnsFormatError('truncated question', 'FORMERR', pos);
  const qtype = wire.readUInt16BE(pos);
  const qclass = wire.readUInt16BE(pos + 2);
  const questionEnd = pos + 4;
  pos = questionEnd;

  let edns: Query['edns'] = null;
  const total = ns + ar;
  for (let i = 0; i < total; i++) {
    const start = pos;
    pos = readName(wire, pos, false);
    if (pos + 10 > len) throw new DnsFormatError('truncated record', 'FORMERR', start);
    const type = wire.readUInt16BE(pos);
    const rdlen = wire.readUInt16BE(pos + 8);
    const rdata = pos + 10;
    const end = rdata + rdlen;
    if (end > len) throw new DnsFormatError('truncated rdata', 'FORMERR', rdata);
    if (type === TYPE.OPT) {
      if (i < ns) throw new DnsFormatError('OPT not in additional section', 'FORMERR', start);
      if (edns !== null) throw new DnsFormatError('two OPT records', 'FORMERR', start);
      if (pos !== start + 1) throw new DnsFormatError('bad OPT: owner not root', 'FORMERR', start);
      checkOptions(wire, rdata, end);
      const size = wire.readUInt16BE(pos + 2);
      edns = {
        udpSize: size < MIN_UDP_SIZE ? MIN_UDP_SIZE : size,
        version: wire[pos + 5],
        do: (wire.readUInt16BE(pos + 6) & EDNS_DO) !== 0,
      };
    }
    pos = end;
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
