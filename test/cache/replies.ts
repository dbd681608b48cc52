// Replies and queries for the cache tests, built with dns-packet (an independent encoder).
import * as dnsPacket from 'dns-packet';
import { parseQuery } from '../../lib/dns/query';
import { readAnswer } from '../../lib/dns/answer';
import type { Query, AnswerInfo } from '../../lib/dns/types';

export const SOA = (ttl: number, minimum: number): dnsPacket.Answer => ({
  type: 'SOA',
  name: 'example.com',
  ttl,
  data: { mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
});

export interface QueryOpts {
  id?: number;
  type?: string;
  edns?: boolean;
  do?: boolean;
  cd?: boolean;
  rd?: boolean;
}

export function query(name: string, o: QueryOpts = {}): { wire: Buffer; q: Query } {
  let flags = o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED;
  if (o.cd) flags |= dnsPacket.CHECKING_DISABLED;
  const wire = dnsPacket.encode({
    type: 'query',
    id: o.id ?? 1,
    flags,
    questions: [{ name, type: (o.type ?? 'A') as dnsPacket.RecordType }],
    additionals: o.edns || o.do ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: o.do ? dnsPacket.DNSSEC_OK : 0 } as dnsPacket.Answer] : [],
  });
  return { wire, q: parseQuery(wire) };
}

export interface ReplyOpts extends QueryOpts {
  rcode?: string;
  tc?: boolean;
  answers?: dnsPacket.Answer[];
  authorities?: dnsPacket.Answer[];
  additionals?: dnsPacket.Answer[];
}

/** A reply to `name` plus the AnswerInfo the answer plugin would attach (TTLs capped at ttlMax). */
export function reply(name: string, o: ReplyOpts = {}, ttlMax = 86400): { wire: Buffer; answer: AnswerInfo } {
  let flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE;
  if (o.tc) flags |= dnsPacket.TRUNCATED_RESPONSE;
  if (o.cd) flags |= dnsPacket.CHECKING_DISABLED;
  flags |= RCODES[o.rcode ?? 'NOERROR']; // dns-packet encodes the rcode only from the flags word
  const wire = dnsPacket.encode({
    type: 'response',
    id: o.id ?? 1,
    flags,
    questions: [{ name, type: (o.type ?? 'A') as dnsPacket.RecordType }],
    answers: o.answers ?? [],
    authorities: o.authorities ?? [],
    additionals: [
      ...(o.additionals ?? []),
      ...(o.edns || o.do ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: o.do ? dnsPacket.DNSSEC_OK : 0 } as dnsPacket.Answer] : []),
    ],
  });
  return { wire, answer: readAnswer(wire, name.toLowerCase(), 1, ttlMax) };
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

export const A = (name: string, data: string, ttl: number): dnsPacket.Answer => ({ type: 'A', name, ttl, data });

/** A clock the tests move by hand (ms). */
export function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

export function ttls(wire: Buffer): number[] {
  const p = dnsPacket.decode(wire);
  return [...(p.answers ?? []), ...(p.authorities ?? []), ...(p.additionals ?? [])].filter((r) => r.type !== 'OPT').map((r) => (r as { ttl: number }).ttl);
}
