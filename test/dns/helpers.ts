// Fixture builders for the codec tests: dns-packet for ordinary messages, raw bytes for the
// shapes dns-packet cannot make (compression, dots inside labels, broken packets).
import * as packet from 'dns-packet';

export { packet };

export function query(name: string, type: packet.RecordType = 'A', opts: Partial<packet.Packet> = {}): Buffer {
  return packet.encode({
    type: 'query',
    id: 0x1234,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    ...opts,
  });
}

export function ednsQuery(name: string, type: packet.RecordType = 'A', udpPayloadSize = 1232, flags = 0): Buffer {
  return query(name, type, {
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize, flags, options: [] } as unknown as packet.Answer],
  });
}

/** A reply to `name`/`type` carrying the given answer records. */
export function reply(name: string, type: packet.RecordType, answers: packet.Answer[], more: Partial<packet.Packet> = {}): Buffer {
  return packet.encode({
    type: 'response',
    id: 0x1234,
    flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
    questions: [{ name, type, class: 'IN' }],
    answers,
    ...more,
  });
}

export function a(name: string, data: string, ttl = 300): packet.Answer {
  return { type: 'A', name, ttl, class: 'IN', data };
}
export function aaaa(name: string, data: string, ttl = 300): packet.Answer {
  return { type: 'AAAA', name, ttl, class: 'IN', data };
}
export function cname(name: string, data: string, ttl = 300): packet.Answer {
  return { type: 'CNAME', name, ttl, class: 'IN', data };
}

/** Wire form of a name from raw labels (strings are latin1), optionally ending in a pointer. */
export function rawName(labels: Array<string | Buffer>, pointer?: number): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = typeof l === 'string' ? Buffer.from(l, 'latin1') : l;
    parts.push(Buffer.from([b.length]), b);
  }
  if (pointer === undefined) parts.push(Buffer.from([0]));
  else parts.push(Buffer.from([0xc0 | (pointer >> 8), pointer & 0xff]));
  return Buffer.concat(parts);
}

export function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

export function question(name: Buffer, qtype = 1, qclass = 1): Buffer {
  const t = Buffer.alloc(4);
  t.writeUInt16BE(qtype, 0);
  t.writeUInt16BE(qclass, 2);
  return Buffer.concat([name, t]);
}

export function rr(name: Buffer, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  const f = Buffer.alloc(10);
  f.writeUInt16BE(type, 0);
  f.writeUInt16BE(klass, 2);
  f.writeUInt32BE(ttl, 4);
  f.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, f, rdata]);
}

export function ip4(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

/** SVCB/HTTPS RDATA: priority, target, then [key, value] params in the given order. */
export function svcRdata(priority: number, target: Buffer, params: Array<[number, Buffer]>): Buffer {
  const parts = [u16(priority), target];
  for (const [k, v] of params) parts.push(u16(k), u16(v.length), v);
  return Buffer.concat(parts);
}

/** The seeded generator shared by the randomized tests (test/prng.ts). */
export { prng } from '../prng';
