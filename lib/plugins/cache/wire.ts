// What the cache needs from a reply, in one bounds-checked walk: whether it may be cached, for
// how long (RFC 2308 §5 for negative answers), and where every RR's TTL field is, so a hit can
// decrement TTLs by offset without decoding the reply again.
import { readName } from '../../dns/name';
import { RecordWalker, SECTION } from '../../dns/records';
import { FLAG, HEADER_SIZE, RCODE, RCODE_MASK, TYPE } from '../../dns/constants';

/** SOA RDATA after MNAME and RNAME: SERIAL REFRESH RETRY EXPIRE MINIMUM, u32 each (RFC 1035 §3.3.13). */
const SOA_FIXED = 20;

// One walker for every scan: scan() runs to completion before the next call.
const walker = new RecordWalker();
const { ANSWER, AUTHORITY } = SECTION;

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
  const w = walker.reset(reply);
  if (w.qdcount !== 1) return 'malformed';
  const an = w.ancount;
  const total = an + w.nscount + w.arcount;
  const questionEnd = w.question(false);

  const offsets = new Uint16Array(total);
  let n = 0;
  let answerTtl = Infinity;
  let soaTtl = -1;
  while (w.next()) {
    const type = w.type;
    if (type === TYPE.OPT) {
      // Extended rcodes (BADVERS...) are errors: not cached.
      if (reply[w.ttlAt] !== 0) return 'rcode';
      continue;
    }
    offsets[n++] = w.ttlAt;
    const ttl = ttlValue(reply.readUInt32BE(w.ttlAt));
    if (w.section === ANSWER) {
      if (ttl < answerTtl) answerTtl = ttl;
    } else if (w.section === AUTHORITY && type === TYPE.SOA && soaTtl < 0) {
      const rdEnd = w.rdEnd;
      let p = readName(reply, w.rdata, false);
      p = readName(reply, p, false);
      if (p + SOA_FIXED !== rdEnd) return 'malformed';
      const minimum = ttlValue(reply.readUInt32BE(rdEnd - 4));
      soaTtl = Math.min(ttl, minimum);
    }
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
