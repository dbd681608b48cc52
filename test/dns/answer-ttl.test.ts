// readAnswer caps TTLs in place: every section, every type, except OPT (its TTL field is flags).
import t from 'tap';
import { readAnswer } from '../../lib/dns/answer';
import { reply, a, aaaa, cname, packet } from './helpers';

function big(): Buffer {
  return reply(
    'www.example.com',
    'A',
    [
      cname('www.example.com', 'x.example', 100000),
      a('x.example', '192.0.2.1', 5),
      a('x.example', '192.0.2.2', 3600),
      { type: 'TXT', name: 'x.example', ttl: 999999, class: 'IN', data: ['hello'] },
    ],
    {
      authorities: [{ type: 'NS', name: 'example', ttl: 172800, class: 'IN', data: 'ns.example' }],
      additionals: [
        aaaa('ns.example', '2001:db8::53', 172800),
        { type: 'OPT', name: '.', udpPayloadSize: 4096, flags: packet.DNSSEC_OK, extendedRcode: 0, options: [] } as unknown as packet.Answer,
      ],
    },
  );
}

t.test('every TTL is capped at ttlMax, in the buffer itself', async (t) => {
  const r = big();
  const before = Buffer.from(r);
  const info = readAnswer(r, 'www.example.com', 1, 600);
  const d = packet.decode(r);
  const all = [...(d.answers ?? []), ...(d.authorities ?? []), ...(d.additionals ?? [])];
  const ttls = all.filter((x) => x.type !== 'OPT').map((x) => (x as { ttl: number }).ttl);
  t.same(ttls, [600, 5, 600, 600, 600, 600]);
  t.same(
    info.addresses.map((x) => [x.address, x.ttl]),
    [
      ['192.0.2.1', 5],
      ['192.0.2.2', 600],
    ],
  );
  const opt = all.find((x) => x.type === 'OPT') as unknown as { udpPayloadSize: number; flags: number };
  t.equal(opt.udpPayloadSize, 4096);
  t.equal(opt.flags & packet.DNSSEC_OK, packet.DNSSEC_OK, 'DO bit (OPT TTL field) untouched');
  t.equal(r.length, before.length);
  const diff = [];
  for (let i = 0; i < r.length; i++) if (r[i] !== before[i]) diff.push(i);
  t.ok(diff.length > 0 && diff.length <= 5 * 4, 'only TTL bytes changed');
  t.same(r.subarray(r.length - 11), before.subarray(before.length - 11), 'OPT record byte-identical');
});

t.test('TTLs below the cap are left alone', async (t) => {
  const r = big();
  const before = Buffer.from(r);
  readAnswer(r, 'www.example.com', 1, 1000000);
  t.same(r, before);
});

t.test('a TTL with the top bit set counts as 0 (RFC 2181 §8)', async (t) => {
  const r = reply('x.example', 'A', [a('x.example', '192.0.2.1', 0x80000001)]);
  const info = readAnswer(r, 'x.example', 1, 86400);
  t.equal(info.addresses[0].ttl, 0);
  t.equal((packet.decode(r).answers![0] as { ttl: number }).ttl, 0);
});

t.test('ttlMax 0 zeroes everything but OPT', async (t) => {
  const r = big();
  readAnswer(r, 'www.example.com', 1, 0);
  const d = packet.decode(r);
  for (const x of [...d.answers!, ...d.authorities!, ...d.additionals!]) {
    if (x.type !== 'OPT') t.equal((x as { ttl: number }).ttl, 0, `${x.type} ${x.name}`);
  }
});
