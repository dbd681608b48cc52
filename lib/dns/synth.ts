// Synthesized responses, built from the client's own header and question bytes so the question
// comes back exactly as sent (name case included), with ID, opcode, RD and CD echoed.

import { EDE, EDNS_DO, EDNS_OPTION, EDNS_UDP_SIZE, FLAG, HEADER_SIZE, MAX_EDE_TEXT, OPCODE_MASK, RCODE_MASK, TYPE } from './constants';
import type { Query } from './types';

const OPT_FIXED = 11; // root owner, TYPE, CLASS, TTL, RDLENGTH
const EDE_FIXED = 6; // OPTION-CODE, OPTION-LENGTH, INFO-CODE

/** NXDOMAIN or REFUSED for a denied query; with EDE 18 (Prohibited) and `edeText` when EDNS is used. */
export function denyResponse(wire: Buffer, q: Query, rcode: number, edeText: string): Buffer {
  return build(wire, q, rcode, 0, EDE.PROHIBITED, edeText);
}

/**
 * SERVFAIL, FORMERR, NOTIMP, REFUSED... With `q` null (the query could not be parsed) the answer
 * is a bare header: ID (and opcode, RD) from the packet's first bytes when present, QDCOUNT 0.
 * `ede` is sent only when the query had EDNS.
 */
export function errorResponse(wire: Buffer, q: Query | null, rcode: number, ede?: { code: number; text: string }): Buffer {
  if (q !== null) return build(wire, q, rcode, 0, ede ? ede.code : -1, ede ? ede.text : '');
  const out = Buffer.alloc(HEADER_SIZE);
  if (wire.length >= 2) wire.copy(out, 0, 0, 2);
  const echoed = wire.length >= 4 ? wire.readUInt16BE(2) & (OPCODE_MASK | FLAG.RD) : 0;
  out.writeUInt16BE(FLAG.QR | FLAG.RA | echoed | (rcode & RCODE_MASK), 2);
  return out;
}

/** Header and question with TC=1: the reply did not fit the client's UDP size; it retries on TCP. */
export function truncatedResponse(wire: Buffer, q: Query): Buffer {
  return build(wire, q, 0, FLAG.TC, -1, '');
}

/** Sets the message ID in place (upstream ID on the way out, the client's on the way back). */
export function withId(wire: Buffer, id: number): void {
  wire.writeUInt16BE(id & 0xffff, 0);
}

/** The message ID, or -1 if the packet is too short to have one. */
export function readId(wire: Buffer): number {
  return wire.length < 2 ? -1 : wire.readUInt16BE(0);
}

/** UTF-8 bytes of `text`, cut to at most MAX_EDE_TEXT bytes at a character boundary. */
export function edeTextBytes(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  if (b.length <= MAX_EDE_TEXT) return b;
  let cut = MAX_EDE_TEXT;
  while (cut > 0 && (b[cut] & 0xc0) === 0x80) cut--;
  return b.subarray(0, cut);
}

function build(wire: Buffer, q: Query, rcode: number, extra: number, edeCode: number, edeText: string): Buffer {
  if (rcode < 0 || rcode > 0xfff) throw new RangeError(`rcode ${rcode} out of range`);
  if (rcode > RCODE_MASK && q.edns === null) {
    throw new RangeError(`rcode ${rcode} needs EDNS, and the query has no OPT record`);
  }
  const qEnd = q.questionEnd;
  const text = q.edns !== null && edeCode >= 0 ? edeTextBytes(edeText) : null;
  const optLen = q.edns === null ? 0 : OPT_FIXED + (text === null ? 0 : EDE_FIXED + text.length);
  const out = Buffer.allocUnsafe(qEnd + optLen);

  wire.copy(out, 0, 0, 2); // ID
  const echoed = q.flags & (OPCODE_MASK | FLAG.RD | FLAG.CD);
  out.writeUInt16BE(FLAG.QR | FLAG.RA | echoed | extra | (rcode & RCODE_MASK), 2);
  out.writeUInt16BE(1, 4); // QDCOUNT
  out.writeUInt32BE(0, 6); // ANCOUNT, NSCOUNT
  out.writeUInt16BE(optLen > 0 ? 1 : 0, 10); // ARCOUNT
  wire.copy(out, HEADER_SIZE, HEADER_SIZE, qEnd);

  if (q.edns !== null) {
    let p = qEnd;
    out[p] = 0; // root owner
    out.writeUInt16BE(TYPE.OPT, p + 1);
    out.writeUInt16BE(EDNS_UDP_SIZE, p + 3); // CLASS = our UDP payload size
    out[p + 5] = rcode >> 4; // EXTENDED-RCODE
    out[p + 6] = 0; // VERSION
    out.writeUInt16BE(q.edns.do ? EDNS_DO : 0, p + 7); // DO echoed (RFC 3225 §3), Z = 0
    out.writeUInt16BE(optLen - OPT_FIXED, p + 9);
    if (text !== null) {
      // RFC 8914 §2: OPTION-CODE 15, OPTION-LENGTH, INFO-CODE u16, EXTRA-TEXT (UTF-8, no NUL)
      p += OPT_FIXED;
      out.writeUInt16BE(EDNS_OPTION.EDE, p);
      out.writeUInt16BE(2 + text.length, p + 2);
      out.writeUInt16BE(edeCode & 0xffff, p + 4);
      text.copy(out, p + 6);
    }
  }
  return out;
}
