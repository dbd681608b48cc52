// readAnswer on compressed replies, and on compression pointers that loop or point forward.
import t from 'tap';
import { readAnswer } from '../../lib/dns/answer';
import { DnsFormatError } from '../../lib/dns/errors';
import { TYPE, CLASS } from '../../lib/dns/constants';
import { header, question, rawName, rr, ip4 } from './helpers';

// 12: www(4) example(8) com(4) 0(1) -> example.com at 16; question ends at 33.
const q = question(rawName(['www', 'Example', 'com']));

t.test('owners and CNAME targets through pointers', async (t) => {
  const cnameRr = rr(Buffer.from([0xc0, 12]), TYPE.CNAME, CLASS.IN, 60, rawName(['edge'], 16)); // edge.example.com
  const targetAt = 33 + 2 + 10; // owner pointer, fixed fields
  const aRr = rr(Buffer.from([0xc0, targetAt]), TYPE.A, CLASS.IN, 60, ip4('192.0.2.5'));
  const r = Buffer.concat([header(1, 0x8180, 1, 2, 0, 0), q, cnameRr, aRr]);
  const info = readAnswer(r, 'www.example.com', 1, 600);
  t.same(info.chain, ['www.example.com', 'edge.example.com']);
  t.same(
    info.addresses.map((x) => x.address),
    ['192.0.2.5'],
  );
});

t.test('bad pointers throw, they do not hang', async (t) => {
  // [what, record at 33, message, offset of the refusal]. The record's owner starts at 33, its
  // RDATA at 45 (2-octet owner pointer + 10 fixed octets). The offset is where the first bad
  // pointer stands: the walk is refused there, without following it (no clock needed to see
  // that nothing loops: a loop followed would report a later offset, or never return).
  const cases: Array<[string, Buffer, RegExp, number]> = [
    ['owner points forward', rr(Buffer.from([0xc0, 60]), TYPE.A, CLASS.IN, 1, ip4('192.0.2.1')), /forward name pointer/, 33],
    ['owner points at itself', rr(Buffer.from([0xc0, 33]), TYPE.A, CLASS.IN, 1, ip4('192.0.2.1')), /forward name pointer/, 33],
    ['owner loops through its own label', rr(rawName(['x'], 33), TYPE.A, CLASS.IN, 1, ip4('192.0.2.1')), /name pointer loop/, 35],
    ['owner points past the end', rr(Buffer.from([0xff, 0xff]), TYPE.A, CLASS.IN, 1, ip4('192.0.2.1')), /forward name pointer/, 33],
    ['CNAME target loops', rr(Buffer.from([0xc0, 12]), TYPE.CNAME, CLASS.IN, 1, rawName(['y'], 45)), /name pointer loop/, 47],
    ['CNAME target shorter than RDATA', rr(Buffer.from([0xc0, 12]), TYPE.CNAME, CLASS.IN, 1, Buffer.from([0xc0, 12, 0])), /does not fill RDATA/, 45],
  ];
  for (const [what, rec, re, offset] of cases) {
    const r = Buffer.concat([header(1, 0x8180, 1, 1, 0, 0), q, rec]);
    const err = t.throws(() => readAnswer(r, 'www.example.com', 1, 600), re, what) as DnsFormatError;
    t.ok(err instanceof DnsFormatError, `${what}: DnsFormatError`);
    t.equal(err.offset, offset, `${what}: refused at offset ${offset}`);
  }
});

t.test('a pointer loop in the question of a reply', async (t) => {
  const r = Buffer.concat([header(1, 0x8180, 1, 0, 0, 0), question(rawName(['a'], 12))]);
  t.throws(() => readAnswer(r, 'a', 1, 600), DnsFormatError);
});

t.test('owners pointing at other names stay apart', async (t) => {
  // owner -> 16 is "example.com", owner -> 12 is "www.example.com": only the latter is the query
  const r = Buffer.concat([
    header(1, 0x8180, 1, 3, 0, 0),
    q,
    rr(Buffer.from([0xc0, 16]), TYPE.A, CLASS.IN, 60, ip4('203.0.113.1')),
    rr(Buffer.from([0xc0, 12]), TYPE.A, CLASS.IN, 60, ip4('192.0.2.1')),
    rr(rawName(['evil'], 12), TYPE.A, CLASS.IN, 60, ip4('203.0.113.2')),
  ]);
  t.same(
    readAnswer(r, 'www.example.com', 1, 600).addresses.map((x) => x.address),
    ['192.0.2.1'],
  );
  t.same(
    readAnswer(r, 'example.com', 1, 600).addresses.map((x) => x.address),
    ['203.0.113.1'],
  );
  t.same(
    readAnswer(r, 'evil.www.example.com', 1, 600).addresses.map((x) => x.address),
    ['203.0.113.2'],
  );
});
