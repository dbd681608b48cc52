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
  t.same(info.addresses.map((x) => x.address), ['192.0.2.5']);
});

t.test('bad pointers throw, they do not hang', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['owner points forward', rr(Buffer.from([0xc0, 60]), TYPE.A, CLASS.IN, 1, ip4('192.0.2.1')), /forward name pointer/],
    ['owner points at itself', rr(Buffer.from([0xc0, 33]), TYPE.A, CLASS.IN, 1, ip4('192.0.2.1')), /forward name pointer/],
    ['owner loops through its own label', rr(rawName(['x'], 33), TYPE.A, CLASS.IN, 1, ip4('192.0.2.1')), /name pointer loop/],
    ['owner points past the end', rr(Buffer.from([0xff, 0xff]), TYPE.A, CLASS.IN, 1, ip4('192.0.2.1')), /forward name pointer/],
    ['CNAME target loops', rr(Buffer.from([0xc0, 12]), TYPE.CNAME, CLASS.IN, 1, rawName(['y'], 45)), /name pointer loop/],
    ['CNAME target shorter than RDATA', rr(Buffer.from([0xc0, 12]), TYPE.CNAME, CLASS.IN, 1, Buffer.from([0xc0, 12, 0])), /does not fill RDATA/],
  ];
  // Fast is measured in CPU time of a second call: the first one pays for compiling, and wall
  // time on a loaded machine counts other processes too.
  for (const [what, rec, re] of cases) {
    const r = Buffer.concat([header(1, 0x8180, 1, 1, 0, 0), q, rec]);
    t.throws(() => readAnswer(r, 'www.example.com', 1, 600), re, what);
    const cpu = process.cpuUsage();
    t.throws(() => readAnswer(r, 'www.example.com', 1, 600), re);
    const used = process.cpuUsage(cpu);
    t.ok(used.user + used.system < 50_000, `${what}: fast (${used.user + used.system} µs of CPU)`);
  }
});

t.test('a pointer loop in the question of a reply', async (t) => {
  const r = Buffer.concat([header(1, 0x8180, 1, 0, 0, 0), question(rawName(['a'], 12))]);
  t.throws(() => readAnswer(r, 'a', 1, 600), DnsFormatError);
});

t.test('owners pointing at other names stay apart', async (t) => {
  // owner -> 16 is "example.com", owner -> 12 is "www.example.com": only the latter is the query
  const r = Buffer.concat([header(1, 0x8180, 1, 3, 0, 0), q,
    rr(Buffer.from([0xc0, 16]), TYPE.A, CLASS.IN, 60, ip4('203.0.113.1')),
    rr(Buffer.from([0xc0, 12]), TYPE.A, CLASS.IN, 60, ip4('192.0.2.1')),
    rr(rawName(['evil'], 12), TYPE.A, CLASS.IN, 60, ip4('203.0.113.2'))]);
  t.same(readAnswer(r, 'www.example.com', 1, 600).addresses.map((x) => x.address), ['192.0.2.1']);
  t.same(readAnswer(r, 'example.com', 1, 600).addresses.map((x) => x.address), ['203.0.113.1']);
  t.same(readAnswer(r, 'evil.www.example.com', 1, 600).addresses.map((x) => x.address), ['203.0.113.2']);
});
