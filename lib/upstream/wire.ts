// The reply-question check, straight on the bytes (the query's question itself is read by
// lib/dns readQuestion; header constants come from lib/dns/constants). All input is hostile.
import { HEADER_SIZE } from '../dns/constants';

/**
 * True when `reply` carries exactly the question `query` has at [12, qEnd): name equal up to
 * ASCII case (RFC 4343), QTYPE and QCLASS equal byte for byte. Comparing bytes rather than text
 * leaves no room for two spellings of one name. Label length bytes are <= 63, below 'A' (0x41),
 * so folding the whole name range never touches them.
 */
export function sameQuestion(query: Buffer, qEnd: number, reply: Buffer): boolean {
  if (reply.length < qEnd || reply.readUInt16BE(4) !== 1) return false;
  const nameEnd = qEnd - 4;
  for (let i = HEADER_SIZE; i < nameEnd; i++) {
    let a = query[i];
    let b = reply[i];
    if (a === b) continue;
    if (a >= 0x41 && a <= 0x5a) a += 0x20;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (a !== b) return false;
  }
  // The name ends at the same place in both only if the reply's length bytes match too, which
  // the loop checked (length bytes are compared exactly since they are never letters).
  for (let i = nameEnd; i < qEnd; i++) if (query[i] !== reply[i]) return false;
  return true;
}
