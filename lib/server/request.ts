// From received bytes to a Request, or to the reply that bad input deserves (never an exception).
import type { Request, Transport } from '../plugins/types';
import type { LocalEnd } from '../identity/types';
import { parseQuery, DnsFormatError } from '../dns/query';
import { errorResponse } from '../dns/synth';
import { RCODE, FLAG, HEADER_SIZE, OPCODE, OPCODE_MASK, OPCODE_SHIFT } from '../dns/constants';

export type Intake =
  | { kind: 'query'; req: Request }
  /** answer this directly (FORMERR/NOTIMP) without running the chain */
  | { kind: 'reply'; wire: Buffer; why: string }
  /** say nothing: responses (QR=1), packets too short to carry an ID, oversized UDP datagrams */
  | { kind: 'drop'; why: string };

const UDP_MIN = 512;
/** RFC 6891 §6.2.5: values below 512 are treated as 512; we also cap what we promise. */
const UDP_MAX = 4096;
const TCP_MAX = 65535;

const SHORT: Intake = { kind: 'drop', why: 'shorter than a DNS header' };
const RESPONSE: Intake = { kind: 'drop', why: 'QR bit set' };
const OVERSIZED: Intake = { kind: 'drop', why: `UDP query over ${UDP_MAX} bytes` };

/**
 * The fixed header alone decides most garbage (random bytes, responses, other opcodes, counts
 * no query has): answered or dropped here without parsing, an exception or a string. Oversized
 * UDP datagrams are dropped unread: no query needs more than UDP_MAX bytes.
 */
function precheck(wire: Buffer, transport: Transport): Intake | null {
  const len = wire.length;
  if (len < HEADER_SIZE) return SHORT;
  if (transport === 'udp' && len > UDP_MAX) return OVERSIZED;
  const flags = wire.readUInt16BE(2);
  if ((flags & FLAG.QR) !== 0) return RESPONSE;
  if ((flags & OPCODE_MASK) >> OPCODE_SHIFT !== OPCODE.QUERY) return { kind: 'reply', wire: errorResponse(wire, null, RCODE.NOTIMP), why: 'opcode not implemented' };
  if (wire.readUInt16BE(4) !== 1 || wire.readUInt16BE(6) !== 0) return { kind: 'reply', wire: errorResponse(wire, null, RCODE.FORMERR), why: 'qdcount must be 1 and ancount 0' };
  return null;
}

/** address/port: the sender; local: where the query arrived (see Request.local). */
export function intake(wire: Buffer, address: string, port: number, transport: Transport, local: LocalEnd): Intake {
  const early = precheck(wire, transport);
  if (early) return early;
  let query;
  // A malformed packet throws DnsFormatError; under a flood, capturing each one's stack trace
  // was the largest cost after sending (bench/flood.ts profile). The message is all we use.
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    query = parseQuery(wire);
  } catch (err) {
    if (!(err instanceof DnsFormatError)) throw err;
    const code = err.code;
    if (code === 'RESPONSE' || wire.length < 12) return { kind: 'drop', why: err.message };
    const rcode = code === 'NOTIMP' ? RCODE.NOTIMP : RCODE.FORMERR;
    return { kind: 'reply', wire: errorResponse(wire, null, rcode), why: err.message };
  } finally {
    Error.stackTraceLimit = stackLimit;
  }
  const family = address.includes(':') ? 6 : 4;
  const maxReplySize = transport === 'tcp' ? TCP_MAX : query.edns ? Math.min(Math.max(query.edns.udpSize, UDP_MIN), UDP_MAX) : UDP_MIN;
  return {
    kind: 'query',
    req: {
      wire,
      query,
      peer: { address, family, port },
      local,
      transport,
      maxReplySize,
      received: process.hrtime.bigint(),
      timings: {},
      // Set by plugins on the way down; present from the start, so every request has one shape
      // (no hidden-class transition per plugin, one map at every site that reads them).
      source: undefined,
      untrack: undefined,
      decision: undefined,
      decidedBy: undefined,
      cacheKey: undefined,
      cacheHash: undefined,
    },
  };
}

/** "::ffff:192.0.2.10" (dual-stack sockets) → "192.0.2.10": a source is named one way only. */
export function canonicalSource(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
