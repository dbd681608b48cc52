// parseQuery: what it accepts, what it extracts, and how it refuses.
import t from 'tap';
import { parseQuery, readQuestion, questionMatches } from '../../lib/dns/query';
import { DnsFormatError } from '../../lib/dns/errors';
import { TYPE, CLASS, FLAG } from '../../lib/dns/constants';
import { query, ednsQuery, reply, a, header, question, rawName, rr, packet } from './helpers';

t.test('plain query', async (t) => {
  const w = query('Api.Example.COM', 'AAAA');
  const q = parseQuery(w);
  t.equal(q.id, 0x1234);
  t.equal(q.name, 'api.example.com');
  t.equal(q.qtype, TYPE.AAAA);
  t.equal(q.qclass, CLASS.IN);
  t.equal(q.opcode, 0);
  t.equal(q.flags & FLAG.RD, FLAG.RD);
  t.equal(q.questionEnd, w.length);
  t.equal(q.edns, null);
});

t.test('root and trailing-dot names', async (t) => {
  t.equal(parseQuery(query('.', 'NS')).name, '');
  t.equal(parseQuery(query('example.com.')).name, 'example.com');
});

t.test('EDNS: size, DO bit, version', async (t) => {
  const q = parseQuery(ednsQuery('example.com', 'A', 4096, packet.DNSSEC_OK));
  t.same(q.edns, { udpSize: 4096, version: 0, do: true });
  t.equal(q.questionEnd, 12 + 13 + 4, 'question ends before the OPT record');
  t.same(parseQuery(ednsQuery('example.com', 'A', 100)).edns, { udpSize: 512, version: 0, do: false }, 'sizes below 512 mean 512');
  const v1 = ednsQuery('example.com');
  v1[v1.length - 5] = 1; // OPT TTL = EXT-RCODE, VERSION, FLAGS(2); then an empty RDLENGTH(2)
  t.equal(parseQuery(v1).edns?.version, 1);
});

t.test('EDNS options are validated, other records skipped', async (t) => {
  const withCookie = packet.encode({
    type: 'query',
    id: 1,
    flags: 0,
    questions: [{ name: 'x.example', type: 'A' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 10, data: Buffer.alloc(8, 7) }] } as unknown as packet.Answer],
  });
  t.equal(parseQuery(withCookie).edns?.udpSize, 1232);
  const bad = Buffer.from(withCookie);
  bad.writeUInt16BE(9, bad.length - 10); // option length 9 > the 8 bytes present
  t.throws(() => parseQuery(bad), /bad OPT/);
});

function err(w: Buffer): DnsFormatError {
  try {
    parseQuery(w);
  } catch (e) {
    if (e instanceof DnsFormatError) return e;
    throw e;
  }
  throw new Error('no error');
}

t.test('refusals name the problem and say what to do', async (t) => {
  const q = rawName(['example', 'com']);
  const opt = rr(Buffer.from([0]), TYPE.OPT, 1232, 0, Buffer.alloc(0));
  const cases: Array<[string, Buffer, RegExp, string]> = [
    ['empty', Buffer.alloc(0), /short header/, 'SHORT'],
    ['11 bytes', Buffer.alloc(11), /short header/, 'SHORT'],
    ['a response', Buffer.concat([header(1, FLAG.QR, 1, 0, 0, 0), question(q)]), /QR bit set/, 'RESPONSE'],
    ['opcode UPDATE', Buffer.concat([header(1, 5 << 11, 1, 0, 0, 0), question(q)]), /opcode 5/, 'NOTIMP'],
    ['opcode STATUS', Buffer.concat([header(1, 2 << 11, 1, 0, 0, 0), question(q)]), /opcode 2/, 'NOTIMP'],
    ['no question', header(1, 0, 0, 0, 0, 0), /qdcount 0, need 1/, 'FORMERR'],
    ['two questions', Buffer.concat([header(1, 0, 2, 0, 0, 0), question(q), question(q)]), /qdcount 2, need 1/, 'FORMERR'],
    ['an answer', Buffer.concat([header(1, 0, 1, 1, 0, 0), question(q)]), /ancount 1/, 'FORMERR'],
    ['truncated question', Buffer.concat([header(1, 0, 1, 0, 0, 0), q, Buffer.from([0, 1])]), /truncated question/, 'FORMERR'],
    ['truncated name', Buffer.concat([header(1, 0, 1, 0, 0, 0), q.subarray(0, 5)]), /truncated name/, 'FORMERR'],
    ['label type 0x40', Buffer.concat([header(1, 0, 1, 0, 0, 0), Buffer.from([0x40]), Buffer.alloc(70, 0x61)]), /label too long/, 'FORMERR'],
    ['pointer into header', Buffer.concat([header(1, 0, 1, 0, 0, 0), question(Buffer.from([0xc0, 4]))]), /pointer into header/, 'FORMERR'],
    ['pointer to itself', Buffer.concat([header(1, 0, 1, 0, 0, 0), question(Buffer.from([0xc0, 12]))]), /forward name pointer/, 'FORMERR'],
    ['pointer loop', Buffer.concat([header(1, 0, 1, 0, 0, 0), question(rawName(['a'], 12))]), /name pointer loop/, 'FORMERR'],
    ['two OPT', Buffer.concat([header(1, 0, 1, 0, 0, 2), question(q), opt, opt]), /two OPT records/, 'FORMERR'],
    ['OPT in authority', Buffer.concat([header(1, 0, 1, 0, 1, 0), question(q), opt]), /OPT not in additional/, 'FORMERR'],
    ['OPT owner not root', Buffer.concat([header(1, 0, 1, 0, 0, 1), question(q), rr(rawName(['x']), TYPE.OPT, 512, 0, Buffer.alloc(0))]), /bad OPT/, 'FORMERR'],
    ['missing additional', Buffer.concat([header(1, 0, 1, 0, 0, 1), question(q)]), /truncated/, 'FORMERR'],
    ['rdata overrun', Buffer.concat([header(1, 0, 1, 0, 0, 1), question(q), opt.subarray(0, 9), Buffer.from([0, 5, 1])]), /truncated rdata/, 'FORMERR'],
  ];
  for (const [what, w, re, code] of cases) {
    const e = err(w);
    t.match(e.message, re, what);
    t.equal(e.code, code, `${what}: code`);
  }
});

t.test('a name over 255 octets is refused', async (t) => {
  const labels = Array.from({ length: 4 }, () => 'x'.repeat(63)); // 4*64+1 = 257 octets
  const w = Buffer.concat([header(1, 0, 1, 0, 0, 0), question(rawName(labels))]);
  t.throws(() => parseQuery(w), /name too long/);
  const ok = Buffer.concat([header(1, 0, 1, 0, 0, 0), question(rawName([...labels.slice(0, 3), 'x'.repeat(61)]))]);
  t.equal(parseQuery(ok).name.length, 63 * 3 + 61 + 3, '255 octets is fine');
});

t.test('trailing bytes after the records are tolerated', async (t) => {
  const w = Buffer.concat([query('example.com'), Buffer.from([1, 2, 3])]);
  t.equal(parseQuery(w).name, 'example.com');
});

t.test('readQuestion on a reply', async (t) => {
  const r = reply('WWW.Example.com', 'AAAA', [a('www.example.com', '192.0.2.1')]);
  const q = readQuestion(r);
  t.same(q, { name: 'www.example.com', qtype: TYPE.AAAA, qclass: CLASS.IN, end: 12 + 17 + 4 });
  t.throws(() => readQuestion(r.subarray(0, 30)), DnsFormatError);
});

t.test('questionMatches compares the question bytes exactly', async (t) => {
  const w = query('wWw.ExAmple.com');
  const q = parseQuery(w);
  t.ok(questionMatches(reply('wWw.ExAmple.com', 'A', []), w, q));
  t.notOk(questionMatches(reply('www.example.com', 'A', []), w, q), '0x20 case must come back unchanged');
  t.notOk(questionMatches(reply('wWw.ExAmple.com', 'AAAA', []), w, q), 'type');
  t.notOk(questionMatches(reply('wWw.ExAmple.com', 'A', []).subarray(0, 20), w, q), 'short reply');
  const noQ = reply('wWw.ExAmple.com', 'A', []);
  noQ.writeUInt16BE(0, 4);
  t.notOk(questionMatches(noQ, w, q), 'qdcount 0');
});
