// Reading upstream replies in one pass: cap TTLs in place, and find the addresses that the
// client will use for the query name (through its CNAME chain and SVCB/HTTPS address hints).

import { DnsFormatError } from './errors';
import { readName, nameText } from './name';
import { RecordWalker, SECTION, SVC_PRIORITY_ALIAS_MODE, SvcParamWalker } from './records';
import { CLASS, FLAG, RCODE_MASK, TYPE } from './constants';
import type { AnswerAddress, AnswerInfo } from './types';

/** CNAME hops followed from the query name; resolvers stop well before this too. */
export const MAX_CNAME_HOPS = 16;

const walker = new RecordWalker();
const svc = new SvcParamWalker();
const ANSWER = SECTION.ANSWER;
// Per-call scratch, reused: the candidates are only known to matter once the chain is known.
const candOwner: string[] = [];
const candOff: number[] = [];
const candFam: number[] = [];
const candTtl: number[] = [];
let nCand = 0;
const cnOwner: string[] = [];
const cnTarget: string[] = [];
let nCn = 0;
// Names already read in this reply, by the offset where their labels start.
const MAX_SEEN = 16;
const seenOff: number[] = [];
const seenName: string[] = [];
let nSeen = 0;

/**
 * Walks the whole reply (header, questions, every RR), throws DnsFormatError on anything
 * malformed, and MODIFIES `reply`: every TTL except OPT's is capped at `ttlMax` (a TTL with the
 * top bit set counts as 0, RFC 2181 §8). Addresses are collected from the answer section for the
 * names of the chain only, whatever `qtype` was: the client sees all of them.
 * `qname` is the text form used by parseQuery (lowercased, no trailing dot).
 * After a DnsFormatError the reply may be partly rewritten: it must not be sent then.
 */
export function readAnswer(reply: Buffer, qname: string, qtype: number, ttlMax: number): AnswerInfo {
  void qtype; // kept in the signature for callers' clarity; see above
  const w = walker.reset(reply);
  const flags = reply.readUInt16BE(2);
  if ((flags & FLAG.QR) === 0) throw new DnsFormatError('QR bit clear in reply');
  const truncated = (flags & FLAG.TC) !== 0;
  // A truncated (TC) reply may stop early at a record boundary; the caller retries over TCP.
  w.stopAtEnd = truncated;

  nCand = 0;
  nCn = 0;
  nSeen = 0;
  let extRcode = 0;
  while (w.next()) {
    const type = w.type;
    const ttlAt = w.ttlAt;
    if (type === TYPE.OPT) {
      extRcode = reply[ttlAt];
      continue;
    }

    let ttl = reply.readUInt32BE(ttlAt);
    const capped = ttl > 0x7fffffff ? 0 : ttl > ttlMax ? ttlMax : ttl;
    if (capped !== ttl) {
      reply.writeUInt32BE(capped, ttlAt);
      ttl = capped;
    }

    if (w.klass === CLASS.IN) {
      const rd = w.rdata;
      const rdEnd = w.rdEnd;
      const inAnswer = w.section === ANSWER;
      if (type === TYPE.A) {
        if (rdEnd - rd !== 4) throw new DnsFormatError(`A rdlength ${rdEnd - rd}, need 4`, 'FORMERR', rd);
        if (inAnswer) addCandidate(reply, w.ownerAt, rd, 4, ttl);
      } else if (type === TYPE.AAAA) {
        if (rdEnd - rd !== 16) throw new DnsFormatError(`AAAA rdlength ${rdEnd - rd}, need 16`, 'FORMERR', rd);
        if (inAnswer) addCandidate(reply, w.ownerAt, rd, 6, ttl);
      } else if (inAnswer && type === TYPE.CNAME) {
        cnOwner[nCn] = ownerName(reply, w.ownerAt);
        if (readName(reply, rd, true) !== rdEnd) {
          throw new DnsFormatError('CNAME target does not fill RDATA', 'FORMERR', rd);
        }
        cnTarget[nCn] = remember(rd, nameText());
        nCn++;
      } else if (inAnswer && (type === TYPE.HTTPS || type === TYPE.SVCB)) {
        readSvcHints(reply, w.ownerAt, rd, rdEnd, ttl);
      }
    }
  }

  const chain = buildChain(qname.toLowerCase());
  return {
    rcode: (extRcode << 4) | (flags & RCODE_MASK),
    truncated,
    addresses: collect(reply, chain),
    chain,
  };
}

function addCandidate(reply: Buffer, ownerAt: number, off: number, fam: number, ttl: number): void {
  candOwner[nCand] = ownerName(reply, ownerAt);
  candOff[nCand] = off;
  candFam[nCand] = fam;
  candTtl[nCand] = ttl;
  nCand++;
}

/**
 * Text of the (already validated) name at `at`. Compressing upstreams point most owners at the
 * question or a CNAME target: a name that is just a pointer reuses the text read there.
 */
function ownerName(reply: Buffer, at: number): string {
  const key = (reply[at] & 0xc0) === 0xc0 ? ((reply[at] & 0x3f) << 8) | reply[at + 1] : at;
  for (let i = 0; i < nSeen; i++) if (seenOff[i] === key) return seenName[i];
  readName(reply, key, true);
  return remember(key, nameText());
}

function remember(off: number, name: string): string {
  if (nSeen < MAX_SEEN) {
    seenOff[nSeen] = off;
    seenName[nSeen] = name;
    nSeen++;
  }
  return name;
}

/** The ipv4hint/ipv6hint addresses of an SVCB/HTTPS record (ServiceMode only) become candidates. */
function readSvcHints(reply: Buffer, ownerAt: number, rd: number, rdEnd: number, ttl: number): void {
  const s = svc.reset(reply, rd, rdEnd);
  // AliasMode carries no meaningful SvcParams: its hints are ignored (and not validated).
  if (s.svcPriority === SVC_PRIORITY_ALIAS_MODE) return;
  let owner: string | null = null;
  while (s.next()) {
    const size = s.hintSize;
    if (size === 0) continue;
    if (owner === null) owner = ownerName(reply, ownerAt);
    for (let a = s.value; a < s.valueEnd; a += size) {
      candOwner[nCand] = owner;
      candOff[nCand] = a;
      candFam[nCand] = size === 4 ? 4 : 6;
      candTtl[nCand] = ttl;
      nCand++;
    }
  }
}

/** qname, then each CNAME target in turn; the records may come in any order. */
function buildChain(qname: string): string[] {
  const chain = [qname];
  let cur = qname;
  for (let hop = 0; hop < MAX_CNAME_HOPS && nCn > 0; hop++) {
    let i = 0;
    while (i < nCn && cnOwner[i] !== cur) i++;
    if (i === nCn) break;
    const next = cnTarget[i];
    if (chain.indexOf(next) >= 0) break; // loop: the client cannot resolve past it either
    chain.push(next);
    cur = next;
  }
  return chain;
}

/** The candidates owned by a chain name, one per address, with the largest TTL seen. */
function collect(reply: Buffer, chain: string[]): AnswerAddress[] {
  const out: AnswerAddress[] = [];
  for (let i = 0; i < nCand; i++) {
    if (chain.indexOf(candOwner[i]) < 0) continue;
    const off = candOff[i];
    const size = candFam[i] === 4 ? 4 : 16;
    let dup = -1;
    for (let j = 0; j < out.length && dup < 0; j++) {
      const b = out[j].bytes;
      if (b.length !== size) continue;
      let k = 0;
      while (k < size && b[k] === reply[off + k]) k++;
      if (k === size) dup = j;
    }
    if (dup >= 0) {
      if (candTtl[i] > out[dup].ttl) out[dup].ttl = candTtl[i];
      continue;
    }
    // Byte loops: for 4 or 16 bytes they beat Buffer.copy/compare, which cross into C++.
    const bytes = Buffer.allocUnsafe(size);
    for (let k = 0; k < size; k++) bytes[k] = reply[off + k];
    out.push({
      family: size === 4 ? 4 : 6,
      address: size === 4 ? ipv4Text(bytes) : ipv6Text(bytes),
      bytes,
      ttl: candTtl[i],
    });
  }
  return out;
}

export function ipv4Text(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text: lowercase hex, no leading zeros, the first longest run of ≥2 zero groups as "::". */
export function ipv6Text(b: Buffer): string {
  let best = -1;
  let bestLen = 1;
  let run = -1;
  for (let g = 0; g < 8; g++) {
    if (b[2 * g] === 0 && b[2 * g + 1] === 0) {
      if (run < 0) run = g;
      if (g - run + 1 > bestLen) {
        best = run;
        bestLen = g - run + 1;
      }
    } else {
      run = -1;
    }
  }
  let s = '';
  for (let g = 0; g < 8; g++) {
    if (g === best) {
      s += '::';
      g += bestLen - 1;
      continue;
    }
    if (g > 0 && g !== best + bestLen) s += ':';
    s += ((b[2 * g] << 8) | b[2 * g + 1]).toString(16);
  }
  return s;
}
