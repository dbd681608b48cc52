// The record walker (lib/dns/records.ts): what it yields on known messages, the same records as
// dns-packet on random valid messages, and only DnsFormatError on random and mutated ones.
// Seeded (DNS_FUZZ_SEED or FUZZ_SEED replays a run); the seed is in every failure message.
import t from 'tap';
import { RecordWalker, SECTION } from '../../lib/dns/records';
import { nameText, readName } from '../../lib/dns/name';
import { DnsFormatError } from '../../lib/dns/errors';
import { TYPE, CLASS } from '../../lib/dns/constants';
import { testSeed, prng, randomBytes } from '../prng';
import { header, question, rawName, rr, ip4, packet, query, ednsQuery, reply, a, cname } from './helpers';

// dns-packet's number tables (not in its typings)
// eslint-disable-next-line @typescript-eslint/no-require-imports -- untyped module; its shape is the cast
const types = require('dns-packet/types') as { toType(s: string): number; toString(n: number): string };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const classes = require('dns-packet/classes') as { toClass(s: string): number };

const SEED = testSeed(0x5eed, 'DNS_FUZZ_SEED');

interface Rec {
  section: number;
  type: number;
  klass: number;
  ttl: number;
  rdata: number;
  rdlen: number;
}

function walk(wire: Buffer): { qend: number; recs: Rec[] } {
  const w = new RecordWalker(wire);
  const recs: Rec[] = [];
  while (w.next()) {
    recs.push({ section: w.section, type: w.type, klass: w.klass, ttl: wire.readUInt32BE(w.ttlAt), rdata: w.rdata, rdlen: w.rdEnd - w.rdata });
    if (w.rdata !== w.ttlAt + 6 || w.rdEnd > wire.length) throw new Error(`inconsistent bounds at record ${w.index}`);
  }
  return { qend: w.questionEnd, recs };
}

// www.example.com CNAME cdn.example.com; cdn A 192.0.2.1; authority NS; additional OPT
const COMPRESSED = Buffer.concat([
  header(7, 0x8180, 1, 2, 1, 1),
  question(rawName(['www', 'example', 'com']), TYPE.A),
  rr(Buffer.from([0xc0, 12]), TYPE.CNAME, CLASS.IN, 300, rawName(['cdn'], 16)),
  rr(rawName(['cdn'], 16), TYPE.A, CLASS.IN, 60, ip4('192.0.2.1')),
  rr(Buffer.from([0xc0, 16]), TYPE.NS, CLASS.IN, 3600, Buffer.from([0xc0, 16])),
  rr(Buffer.from([0]), TYPE.OPT, 1232, 0, Buffer.alloc(0)),
]);

t.test('sections, types, classes, TTL offsets and RDATA bounds of a compressed reply', async (t) => {
  const msg = COMPRESSED;
  const w = new RecordWalker(msg);
  t.same([w.qdcount, w.ancount, w.nscount, w.arcount], [1, 2, 1, 1]);
  t.equal(w.question(true), 33, 'question ends after 17 name octets + 4');
  t.equal(nameText(), 'www.example.com');
  t.same([w.qtype, w.qclass], [TYPE.A, CLASS.IN]);
  const seen: unknown[] = [];
  while (w.next()) seen.push([w.index, w.section, w.type, w.klass, w.ownerAt, w.ttlAt, msg.readUInt32BE(w.ttlAt), w.rdata, w.rdEnd]);
  t.same(seen, [
    [0, SECTION.ANSWER, TYPE.CNAME, CLASS.IN, 33, 39, 300, 45, 51],
    [1, SECTION.ANSWER, TYPE.A, CLASS.IN, 51, 61, 60, 67, 71],
    [2, SECTION.AUTHORITY, TYPE.NS, CLASS.IN, 71, 77, 3600, 83, 85],
    [3, SECTION.ADDITIONAL, TYPE.OPT, 1232, 85, 90, 0, 96, 96],
  ]);
  t.equal(w.optAt, 85);
  t.equal(w.next(), false, 'stays at the end');
});

t.test('next() skips unread questions; qdcount 0 has its end at the header', async (t) => {
  const w = new RecordWalker(reply('a.example', 'A', [a('a.example', '192.0.2.9', 5)]));
  t.ok(w.next());
  t.equal(w.questionEnd, 12 + 11 + 4);
  t.equal(w.type, TYPE.A);
  t.equal(new RecordWalker(header(1, 0x8000, 0, 0, 0, 0)).questionEnd, 12);
});

t.test('refusals name the problem and the offset', async (t) => {
  const walkAll = (b: Buffer) => () => {
    const w = new RecordWalker(b);
    while (w.next()) {
      /* walk */
    }
  };
  t.throws(walkAll(Buffer.alloc(11)), { code: 'SHORT' });
  const q = query('a.example');
  t.throws(walkAll(Buffer.concat([header(1, 0x8180, 1, 1, 0, 0), q.subarray(12)])), /truncated name at offset 27/);
  t.throws(walkAll(Buffer.concat([header(1, 0x8180, 1, 1, 0, 0), q.subarray(12), rr(Buffer.from([0]), TYPE.A, 1, 1, ip4('192.0.2.1')).subarray(0, 13)])), /truncated rdata/);
  t.throws(walkAll(Buffer.concat([header(1, 0x8180, 2, 0, 0, 0), q.subarray(12)])), /truncated/);
  const opt = rr(Buffer.from([0]), TYPE.OPT, 512, 0, Buffer.alloc(0));
  t.throws(walkAll(Buffer.concat([header(1, 0x8180, 1, 1, 0, 0), q.subarray(12), opt])), /OPT not in additional section/);
  t.throws(walkAll(Buffer.concat([header(1, 0x8180, 1, 0, 0, 2), q.subarray(12), opt, opt])), /two OPT records/);
  // a pointer to itself, and a chain of pointers each one byte lower
  t.throws(walkAll(Buffer.concat([header(1, 0x8180, 0, 1, 0, 0), Buffer.from([0xc0, 12])])), /forward name pointer|name pointer loop/);
  const x = new RecordWalker(query('a.example'));
  x.question(false);
  t.throws(() => x.question(false), /no question left/);
});

t.test('a truncated (TC) reply may end at a record boundary when stopAtEnd is set', async (t) => {
  const full = reply('a.example', 'A', [a('a.example', '192.0.2.1'), a('a.example', '192.0.2.2')]);
  const last = new RecordWalker(full);
  while (last.next()) {
    /* to the last record */
  }
  const cut = Buffer.from(full.subarray(0, last.ownerAt)); // without the last A record
  const strict = new RecordWalker(cut);
  t.ok(strict.next());
  t.throws(() => strict.next(), /truncated/);
  const lax = new RecordWalker(cut);
  lax.stopAtEnd = true;
  t.ok(lax.next());
  t.equal(lax.next(), false);
});

/** A random valid message from dns-packet's encoder (uncompressed; the mutation test adds pointers). */
function randomMessage(rand: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const names = ['example.com', 'www.example.com', 'a.b.c.example.net', 'x.example.com', 'example.org', 'mail.example.org'];
  const rec = (): packet.Answer => {
    const name = pick(names);
    const ttl = Math.floor(rand() * 0xffffffff);
    switch (Math.floor(rand() * 7)) {
      case 0:
        return { name, type: 'A', class: 'IN', ttl, data: `192.0.2.${Math.floor(rand() * 256)}` };
      case 1:
        return { name, type: 'AAAA', class: 'IN', ttl, data: `2001:db8::${Math.floor(rand() * 0xffff).toString(16)}` };
      case 2:
        return { name, type: 'CNAME', class: 'IN', ttl, data: pick(names) };
      case 3:
        return { name, type: 'TXT', class: pick(['IN', 'CH'] as const), ttl, data: [randomBytes(rand, Math.floor(rand() * 40)).toString('hex')] };
      case 4:
        return { name, type: 'MX', class: 'IN', ttl, data: { preference: Math.floor(rand() * 100), exchange: pick(names) } };
      case 5:
        return { name, type: 'NS', class: 'IN', ttl, data: pick(names) };
      default:
        return { name, type: 'SOA', class: 'IN', ttl, data: { mname: pick(names), rname: pick(names), serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 } };
    }
  };
  const n = () => Math.floor(rand() * 5);
  const additionals = Array.from({ length: n() }, rec);
  if (rand() < 0.5)
    additionals.splice(Math.floor(rand() * (additionals.length + 1)), 0, { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as packet.Answer);
  return packet.encode({
    type: 'response',
    id: Math.floor(rand() * 65536),
    flags: 0,
    questions: Array.from({ length: Math.floor(rand() * 3) }, () => ({ name: pick(names), type: pick(['A', 'AAAA', 'MX'] as const), class: 'IN' as const })),
    answers: Array.from({ length: n() }, rec),
    authorities: Array.from({ length: n() }, rec),
    additionals,
  });
}

// dns-packet names unknown classes UNKNOWN_<n> and splits off the mDNS cache-flush bit (0x8000)
const classNumber = (s: string) => (s.startsWith('UNKNOWN_') ? Number(s.slice(8)) : classes.toClass(s));

/** What dns-packet decodes, in the walker's terms; undefined when dns-packet refuses the message. */
function theirs(wire: Buffer): Rec[] | undefined {
  let d: packet.Packet;
  try {
    d = packet.decode(wire);
  } catch {
    return undefined;
  }
  const out: Rec[] = [];
  const add = (section: number, rs: packet.Answer[] | undefined) => {
    for (const r of rs ?? []) {
      const o = r as { type: string; class?: string; flush?: boolean; ttl?: number; udpPayloadSize?: number };
      const type = types.toType(o.type);
      const opt = type === TYPE.OPT;
      out.push({ section, type, klass: opt ? o.udpPayloadSize! : classNumber(o.class!) | (o.flush ? 0x8000 : 0), ttl: opt ? -1 : o.ttl!, rdata: -1, rdlen: -1 });
    }
  };
  add(SECTION.ANSWER, d.answers);
  add(SECTION.AUTHORITY, d.authorities);
  add(SECTION.ADDITIONAL, d.additionals);
  return out;
}

/**
 * dns-packet steps over a record by what its RDATA decoder read, not by RDLENGTH (an A record is
 * always 4 bytes to it). Where the two differ a mutated message is framed differently by design,
 * so messages are compared only when every RDATA has its natural length.
 */
function naturallyFramed(wire: Buffer, rs: Rec[]): boolean {
  const nameEnd = (at: number) => {
    try {
      return readName(wire, at, false);
    } catch {
      return -1;
    }
  };
  return rs.every((r) => {
    const end = r.rdata + r.rdlen;
    switch (r.type) {
      case TYPE.A:
        return r.rdlen === 4;
      case TYPE.AAAA:
        return r.rdlen === 16;
      case TYPE.CNAME:
      case TYPE.NS:
      case TYPE.PTR:
        return nameEnd(r.rdata) === end;
      case TYPE.MX:
        return r.rdlen > 2 && nameEnd(r.rdata + 2) === end;
      case TYPE.SOA: {
        const m = nameEnd(r.rdata);
        return m > 0 && nameEnd(m) + 20 === end;
      }
      case TYPE.OPT: {
        let p = r.rdata;
        while (p + 4 <= end) p += 4 + wire.readUInt16BE(p + 2);
        return p === end;
      }
      default:
        return types.toString(r.type).startsWith('UNKNOWN_'); // read raw, by RDLENGTH
    }
  });
}

const comparable = (rs: Rec[]) => rs.map((r) => [r.section, r.type, r.klass, r.type === TYPE.OPT ? -1 : r.ttl]);

t.test('agrees with dns-packet on 3000 random valid messages', async (t) => {
  const rand = prng(SEED);
  let records = 0;
  for (let i = 0; i < 3000; i++) {
    const m = randomMessage(rand);
    let mine: Rec[];
    try {
      mine = walk(m).recs;
    } catch (e) {
      t.fail(`seed ${SEED} message ${i} ${m.toString('hex')}: refused a valid message: ${String(e)}`);
      break;
    }
    const want = theirs(m);
    if (!want) {
      t.fail(`seed ${SEED} message ${i}: dns-packet refused its own encoding`);
      break;
    }
    if (JSON.stringify(comparable(mine)) !== JSON.stringify(comparable(want))) {
      t.same(comparable(mine), comparable(want), `seed ${SEED} message ${i} ${m.toString('hex')}`);
      break;
    }
    records += mine.length;
  }
  t.ok(records > 10000, `${records} records compared (seed ${SEED})`);
});

t.test('random and mutated messages: only DnsFormatError escapes, and accepted ones agree with dns-packet', async (t) => {
  const rand = prng(SEED ^ 0x9e3779b9);
  const seeds = [
    reply('www.example.com', 'A', [cname('www.example.com', 'edge.example.net'), a('edge.example.net', '192.0.2.1', 900)]),
    ednsQuery('api.example.org', 'AAAA'),
    COMPRESSED,
    randomMessage(rand),
    randomMessage(rand),
    randomMessage(rand),
  ];
  let accepted = 0,
    compared = 0,
    bad = 0;
  for (let n = 0; n < 20000; n++) {
    let p: Buffer;
    if (rand() < 0.2) {
      p = randomBytes(rand, Math.floor(rand() * 300));
      if (p.length >= 12) p.writeUInt32BE(0x00010000 | Math.floor(rand() * 4), 4);
    } else {
      p = Buffer.from(seeds[n % seeds.length]);
      for (let e = 1 + Math.floor(rand() * 3); e > 0; e--) {
        const at = Math.floor(rand() * p.length);
        const r = rand();
        if (r < 0.5) p[at] = Math.floor(rand() * 256);
        else if (r < 0.7) p[at] = 0xc0 | Math.floor(rand() * 2);
        else if (r < 0.85) p = p.subarray(0, at);
        else if (p.length >= 12) p.writeUInt16BE(Math.floor(rand() * 6), 4 + 2 * Math.floor(rand() * 4));
      }
    }
    let mine: Rec[];
    try {
      mine = walk(p).recs;
      accepted++;
    } catch (e) {
      if (!(e instanceof DnsFormatError) && bad++ === 0) t.fail(`seed ${SEED} message ${n} ${p.toString('hex')}: ${String(e)}`);
      continue;
    }
    const want = theirs(p);
    // dns-packet reads RDATA too (and refuses more); where both accept, the records are the same
    if (want && naturallyFramed(p, mine)) {
      compared++;
      if (JSON.stringify(comparable(mine)) !== JSON.stringify(comparable(want)) && bad++ === 0) {
        t.same(comparable(mine), comparable(want), `seed ${SEED} message ${n} ${p.toString('hex')}`);
      }
    }
  }
  t.equal(bad, 0, `no other error and no disagreement (seed ${SEED})`);
  t.ok(accepted > 1000, `${accepted} messages accepted (the mutations stay realistic)`);
  t.ok(compared > 500, `${compared} accepted messages cross-checked with dns-packet`);
});
