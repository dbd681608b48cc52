// Fuzz: random and mutated packets through parseQuery, readAnswer and the synthesizers.
// Only DnsFormatError may escape. Seeded, so failures replay. That no input makes the codec
// loop or follow pointers without end is proven without a clock: test/dns/name.test.ts (loops,
// forward pointers, the 128-jump bound) and test/dns/answer-compression.test.ts (refused at the
// offending pointer's offset).
import t from 'tap';
import { parseQuery, readQuestion } from '../../lib/dns/query';
import { readAnswer } from '../../lib/dns/answer';
import { denyResponse, errorResponse, truncatedResponse } from '../../lib/dns/synth';
import { DnsFormatError } from '../../lib/dns/errors';
import { TYPE, CLASS, SVCPARAM } from '../../lib/dns/constants';
import { testSeed } from '../prng';
import { query, ednsQuery, reply, a, aaaa, cname, header, question, rawName, rr, ip4, svcRdata, prng, packet } from './helpers';

const SEED = testSeed(0x5eed, 'DNS_FUZZ_SEED');
const COUNT = 20000;
const TTL_MAX = 300;

const seeds: Buffer[] = [
  query('www.example.com'),
  ednsQuery('API.Example.org', 'AAAA', 4096, packet.DNSSEC_OK),
  reply('www.example.com', 'A', [cname('www.example.com', 'edge.example.net'), a('edge.example.net', '192.0.2.1', 900), aaaa('edge.example.net', '2001:db8::1')], {
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as unknown as packet.Answer],
  }),
  Buffer.concat([
    header(1, 0x8180, 1, 3, 0, 0),
    question(rawName(['www', 'example', 'com']), TYPE.HTTPS),
    rr(Buffer.from([0xc0, 12]), TYPE.CNAME, CLASS.IN, 60, rawName(['cdn'], 16)),
    rr(
      Buffer.from([0xc0, 45]),
      TYPE.HTTPS,
      CLASS.IN,
      60,
      svcRdata(1, Buffer.from([0]), [
        [SVCPARAM.IPV4HINT, ip4('192.0.2.7')],
        [SVCPARAM.IPV6HINT, Buffer.alloc(16, 1)],
      ]),
    ),
    rr(Buffer.from([0xc0, 45]), TYPE.A, CLASS.IN, 60, ip4('192.0.2.8')),
  ]),
];

function mutate(rand: () => number, src: Buffer): Buffer {
  let b = Buffer.from(src);
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const r = rand();
    const at = Math.floor(rand() * Math.max(1, b.length));
    if (r < 0.4 && b.length > 0) b[at] = Math.floor(rand() * 256);
    else if (r < 0.55 && b.length > 0) b[at] ^= 1 << Math.floor(rand() * 8);
    else if (r < 0.7) b = b.subarray(0, at);
    else if (r < 0.8 && b.length > 1)
      b[at] = 0xc0 | Math.floor(rand() * 2); // pointer-ish bytes
    else if (r < 0.9) b = Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), b.subarray(at)]);
    else if (b.length >= 12) b.writeUInt16BE(Math.floor(rand() * 4), 4 + 2 * Math.floor(rand() * 4)); // counts
  }
  return b;
}

function randomPacket(rand: () => number): Buffer {
  const b = Buffer.alloc(Math.floor(rand() * 600));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
  if (b.length >= 12 && rand() < 0.5) b.writeUInt32BE(0x00010000 | Math.floor(rand() * 3), 4); // plausible counts
  return b;
}

t.test(`${COUNT} packets: only DnsFormatError escapes`, async (t) => {
  const rand = prng(SEED);
  let accepted = 0;
  let answers = 0;
  let nameChecks = 0;
  for (let n = 0; n < COUNT; n++) {
    const p = rand() < 0.3 ? randomPacket(rand) : mutate(rand, seeds[n % seeds.length]);
    try {
      const q = parseQuery(p);
      accepted++;
      if (q.questionEnd > p.length) t.fail(`questionEnd past the end, seed ${SEED} packet ${n}`);
      // the synthesizers must cope with anything parseQuery accepted
      denyResponse(p, q, 3, 'x');
      errorResponse(p, q, 2, { code: 0, text: 'y' });
      truncatedResponse(p, q);
      if (/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(q.name)) {
        let theirs: string | undefined;
        try {
          theirs = packet.decode(p).questions?.[0]?.name;
        } catch {
          theirs = undefined;
        }
        if (theirs !== undefined) {
          nameChecks++;
          if (theirs.toLowerCase() !== q.name) t.fail(`seed ${SEED} packet ${n}: ${q.name} vs dns-packet ${theirs}`);
        }
      }
    } catch (e) {
      if (!(e instanceof DnsFormatError)) t.fail(`parseQuery seed ${SEED} packet ${n} ${p.toString('hex')}: ${String(e)}`);
    }
    try {
      readQuestion(p);
    } catch (e) {
      if (!(e instanceof DnsFormatError)) t.fail(`readQuestion seed ${SEED} packet ${n}: ${String(e)}`);
    }
    errorResponse(p, null, 1);
    try {
      const info = readAnswer(p, 'www.example.com', 1, TTL_MAX);
      answers++;
      for (const x of info.addresses) {
        if (x.bytes.length !== (x.family === 4 ? 4 : 16) || x.ttl > TTL_MAX) t.fail(`bad address, seed ${SEED} packet ${n}`);
      }
    } catch (e) {
      if (!(e instanceof DnsFormatError)) t.fail(`readAnswer seed ${SEED} packet ${n} ${p.toString('hex')}: ${String(e)}`);
    }
  }
  t.ok(accepted > 100, `parseQuery accepted ${accepted} packets (the mutations stay realistic)`);
  t.ok(answers > 100, `readAnswer accepted ${answers} packets`);
  t.ok(nameChecks > 50, `${nameChecks} names cross-checked with dns-packet`);
});
