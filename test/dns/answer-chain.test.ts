// readAnswer: which addresses belong to the query name, through CNAME chains in any order.
import t from 'tap';
import { readAnswer, MAX_CNAME_HOPS } from '../../lib/dns/answer';
import { DnsFormatError } from '../../lib/dns/errors';
import { RCODE } from '../../lib/dns/constants';
import { reply, a, aaaa, cname, packet } from './helpers';

const MAX = 86400;

function addrs(r: Buffer, qname: string, qtype = 1): Array<[string, number]> {
  return readAnswer(r, qname, qtype, MAX).addresses.map((x) => [x.address, x.ttl]);
}

t.test('plain A and AAAA', async (t) => {
  const r = reply('example.com', 'A', [a('example.com', '192.0.2.1', 60), a('example.com', '192.0.2.2', 70)]);
  const info = readAnswer(r, 'example.com', 1, MAX);
  t.equal(info.rcode, RCODE.NOERROR);
  t.equal(info.truncated, false);
  t.same(info.chain, ['example.com']);
  t.same(
    info.addresses.map((x) => [x.family, x.address, x.ttl, x.bytes.toString('hex')]),
    [
      [4, '192.0.2.1', 60, 'c0000201'],
      [4, '192.0.2.2', 70, 'c0000202'],
    ],
  );
  const r6 = reply('example.com', 'AAAA', [aaaa('example.com', '2001:db8::1', 30)]);
  const i6 = readAnswer(r6, 'example.com', 28, MAX).addresses;
  t.same(
    i6.map((x) => [x.family, x.address, x.ttl]),
    [[6, '2001:db8::1', 30]],
  );
  t.equal(i6[0].bytes.length, 16);
});

t.test('the returned bytes are a copy, not a view of the reply', async (t) => {
  const r = reply('example.com', 'A', [a('example.com', '192.0.2.1')]);
  const [x] = readAnswer(r, 'example.com', 1, MAX).addresses;
  r.fill(0);
  t.equal(x.bytes.toString('hex'), 'c0000201');
});

const chainRecords = [
  cname('www.example.com', 'edge.cdn.example.net'),
  cname('edge.cdn.example.net', 'pop1.cdn.example.net'),
  a('pop1.cdn.example.net', '198.51.100.7', 20),
  aaaa('pop1.cdn.example.net', '2001:db8::7', 20),
];

t.test('CNAME chain in order', async (t) => {
  const info = readAnswer(reply('www.example.com', 'A', chainRecords), 'www.example.com', 1, MAX);
  t.same(info.chain, ['www.example.com', 'edge.cdn.example.net', 'pop1.cdn.example.net']);
  t.same(
    info.addresses.map((x) => x.address),
    ['198.51.100.7', '2001:db8::7'],
  );
});

t.test('CNAME chain in every order', async (t) => {
  const perms = (xs: packet.Answer[]): packet.Answer[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
  for (const p of perms(chainRecords)) {
    const info = readAnswer(reply('www.example.com', 'A', p), 'www.example.com', 1, MAX);
    t.same(info.chain, ['www.example.com', 'edge.cdn.example.net', 'pop1.cdn.example.net']);
    t.same(info.addresses.map((x) => x.address).sort(), ['198.51.100.7', '2001:db8::7']);
  }
});

t.test('names compare case-insensitively', async (t) => {
  const r = reply('WWW.Example.Com', 'A', [cname('Www.EXAMPLE.com', 'Edge.Example.NET'), a('EDGE.example.net', '192.0.2.9')]);
  t.same(addrs(r, 'WWW.example.COM'), [['192.0.2.9', 300]]);
});

t.test('unrelated records are not returned', async (t) => {
  const r = reply(
    'www.example.com',
    'A',
    [
      a('www.example.com', '192.0.2.1'),
      a('attacker.example.org', '203.0.113.66'),
      aaaa('example.com', '2001:db8::66'),
      cname('other.example.com', 'www.example.com'), // points INTO the chain, not out of it
      a('other.example.com', '203.0.113.67'),
    ],
    {
      authorities: [a('www.example.com', '203.0.113.68')],
      additionals: [a('www.example.com', '203.0.113.69'), aaaa('www.example.com', '2001:db8::69')],
    },
  );
  t.same(addrs(r, 'www.example.com'), [['192.0.2.1', 300]], 'only the answer section, only the chain');
});

t.test('CNAME loops end the chain', async (t) => {
  const r = reply('a.example', 'A', [cname('a.example', 'b.example'), cname('b.example', 'a.example'), a('a.example', '192.0.2.1'), a('b.example', '192.0.2.2')]);
  const info = readAnswer(r, 'a.example', 1, MAX);
  t.same(info.chain, ['a.example', 'b.example']);
  t.same(
    info.addresses.map((x) => x.address),
    ['192.0.2.1', '192.0.2.2'],
  );
  const self = reply('a.example', 'A', [cname('a.example', 'a.example')]);
  t.same(readAnswer(self, 'a.example', 1, MAX).chain, ['a.example']);
});

t.test(`at most ${MAX_CNAME_HOPS} CNAME hops`, async (t) => {
  const recs: packet.Answer[] = [];
  for (let i = 0; i < 20; i++) recs.push(cname(`n${i}.example`, `n${i + 1}.example`));
  for (let i = 0; i <= 20; i++) recs.push(a(`n${i}.example`, `192.0.2.${i + 1}`));
  const info = readAnswer(reply('n0.example', 'A', recs), 'n0.example', 1, MAX);
  t.equal(info.chain.length, MAX_CNAME_HOPS + 1);
  t.equal(info.addresses.length, MAX_CNAME_HOPS + 1);
  t.notOk(
    info.addresses.some((x) => x.address === '192.0.2.21'),
    'names past the limit get nothing',
  );
});

t.test('duplicate addresses: one entry with the largest TTL', async (t) => {
  const r = reply('www.example.com', 'A', [
    cname('www.example.com', 'x.example'),
    a('www.example.com', '192.0.2.1', 50),
    a('x.example', '192.0.2.1', 90),
    a('x.example', '192.0.2.1', 10),
    aaaa('x.example', '2001:db8::1', 5),
    aaaa('x.example', '2001:db8:0::1', 8),
  ]);
  t.same(addrs(r, 'www.example.com'), [
    ['192.0.2.1', 90],
    ['2001:db8::1', 8],
  ]);
});

t.test('rcode, extended rcode and TC', async (t) => {
  const nx = reply('gone.example', 'A', [], { flags: packet.RECURSION_DESIRED | 3 });
  const info = readAnswer(nx, 'gone.example', 1, MAX);
  t.equal(info.rcode, RCODE.NXDOMAIN);
  t.same(info.addresses, []);
  const badvers = reply('x.example', 'A', [], { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 1 } as unknown as packet.Answer] });
  t.equal(readAnswer(badvers, 'x.example', 1, MAX).rcode, RCODE.BADVERS);
  const tc = reply('x.example', 'A', [a('x.example', '192.0.2.1')], { flags: packet.TRUNCATED_RESPONSE });
  t.equal(readAnswer(tc, 'x.example', 1, MAX).truncated, true);
  tc.writeUInt16BE(5, 6); // claims 5 answers, carries 1: tolerated only because TC is set
  t.equal(readAnswer(tc, 'x.example', 1, MAX).addresses.length, 1);
  tc.writeUInt16BE(packet.RECURSION_DESIRED | 0x8000, 2);
  t.throws(() => readAnswer(tc, 'x.example', 1, MAX), /truncated/);
});

t.test('malformed address records throw DnsFormatError', async (t) => {
  const r = reply('x.example', 'A', [a('x.example', '192.0.2.1')]);
  const q = Buffer.from(r);
  q.writeUInt16BE(0x0000, 2);
  t.throws(() => readAnswer(q, 'x.example', 1, MAX), /QR bit clear/);
  // rdlength 5 with an extra byte appended so the record still fits the buffer
  const long = Buffer.concat([r, Buffer.from([0])]);
  long.writeUInt16BE(5, r.length - 6);
  t.throws(() => readAnswer(long, 'x.example', 1, MAX), /A rdlength 5, need 4/);
  const r6 = reply('x.example', 'AAAA', [aaaa('x.example', '2001:db8::1')]);
  const short6 = r6.subarray(0, r6.length - 1);
  short6.writeUInt16BE(15, short6.length - 17);
  t.throws(() => readAnswer(short6, 'x.example', 28, MAX), /AAAA rdlength 15, need 16/);
  const e = (() => {
    try {
      readAnswer(r.subarray(0, r.length - 2), 'x.example', 1, MAX);
    } catch (x) {
      return x;
    }
  })();
  t.ok(e instanceof DnsFormatError, 'cut reply');
  t.throws(() => readAnswer(Buffer.alloc(5), 'x', 1, MAX), /short header/);
});
