// What the cache needs from a reply, in one bounds-checked walk: whether it may be cached, for
// how long (RFC 2308 §5 for negative answers), and where every RR's TTL field is, so a hit can
// decrement TTLs by offset without decoding the reply again.
import { readName } from '../../dns/name';
import { FLAG, HEADER_SIZE, RCODE, RCODE_MASK, TYPE } from '../../dns/constants';

/** SOA RDATA after MNAME and RNAME: SERIAL REFRESH RETRY EXPIRE MINIMUM, u32 each (RFC 1035 §3.3.13). */
const SOA_FIXED = 20;

export interface Scan {
  /** seconds the reply may be served from the cache (> 0) */
  ttl: number;
  /** offset of the 32-bit TTL field of every RR except OPT */
  ttlOffsets: Uint16Array;
  /** offset just past the question */
  questionEnd: number;
  /** 'positive' (answers), 'negative' (NXDOMAIN or NODATA, TTL from the SOA) */
  kind: 'positive' | 'negative';
}

/** Why a reply is not cached (counted by the plugin). */
export type Uncacheable = 'truncated' | 'rcode' | 'no-soa' | 'ttl-zero' | 'malformed';

/**
 * Returns the Scan of a reply, or the reason it must not be cached. Never throws: the reply was
 * read by readAnswer already, but a cache must not trust that.
 * Cached: NOERROR with answers (TTL = least answer-section TTL); NXDOMAIN and NODATA with an SOA
 * in the authority section (TTL = min(SOA TTL, SOA MINIMUM)). Not cached: TC, other rcodes
 * (SERVFAIL, REFUSED, FORMERR, extended ones), negative answers without SOA, TTL 0.
 */
export function scanReply(reply: Buffer): Scan | Uncacheable {
  try {
    return scan(reply);
  } catch {
    return 'malformed';
  }
}

function scan(reply: Buffer): Scan | Uncacheable {
  const len = reply.length;
  if (len < HEADER_SIZE || len > 0xffff) return 'malformed';
  const flags = reply.readUInt16BE(2);
  if ((flags & FLAG.QR) === 0) return 'malformed';
  if ((flags & FLAG.TC) !== 0) return 'truncated';
  const rcode = flags & RCODE_MASK;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return 'rcode';
  if (reply.readUInt16BE(4) !== 1) return 'malformed';
  const an = reply.readUInt16BE(6);
  const nsEnd = an + reply.readUInt16BE(8);
  const total = nsEnd + reply.readUInt16BE(10);

  let pos = readName(reply, HEADER_SIZE, false) + 4;
  if (pos > len) return 'malformed';
  const questionEnd = pos;

  const offsets = new Uint16Array(total);
  let n = 0;
  let answerTtl = Infinity;
  let soaTtl = -1;
  for (let i = 0; i < total; i++) {
    pos = readName(reply, pos, false);
    if (pos + 10 > len) return 'malformed';
    const type = reply.readUInt16BE(pos);
    const rd = pos + 10;
    const rdEnd = rd + reply.readUInt16BE(pos + 8);
    if (rdEnd > len) return 'malformed';
    if (type === TYPE.OPT) {
      // Extended rcodes (BADVERS...) are errors: not cached.
      if (reply[pos + 4] !== 0) return 'rcode';
    } else {
      offsets[n++] = pos + 4;
      const ttl = ttlValue(reply.readUInt32BE(pos + 4));
      if (i < an) {
        if (ttl < answerTtl) answerTtl = ttl;
      } else if (i < nsEnd && type === TYPE.SOA && soaTtl < 0) {
        let p = readName(reply, rd, false);
        p = readName(reply, p, false);
        if (p + SOA_FIXED !== rdEnd) return 'malformed';
        const minimum = ttlValue(reply.readUInt32BE(rdEnd - 4));
        soaTtl = Math.min(ttl, minimum);
      }
    }
    pos = rdEnd;
  }

  let ttl: number;
  let kind: Scan['kind'];
  if (rcode === RCODE.NOERROR && an > 0) {
    ttl = answerTtl;
    kind = 'positive';
  } else {
    if (soaTtl < 0) return 'no-soa';
    ttl = soaTtl;
    kind = 'negative';
  }
  if (ttl <= 0) return 'ttl-zero';
  return { ttl, ttlOffsets: n === total ? offsets : offsets.slice(0, n), questionEnd, kind };
}

/** RFC 2181 §8: a TTL with the top bit set counts as 0. */
function ttlValue(v: number): number {
  return v > 0x7fffffff ? 0 : v;
}
