// A hit is the stored reply rebuilt for the asking client: its ID, its question bytes, its RD
// bit, every TTL lowered by the whole seconds since it was stored (OPT untouched).
import t from 'tap';
import * as dnsPacket from 'dns-packet';
import { AnswerCache, cacheKey } from '../../lib/plugins/cache/store';
import { query, reply, A, manualClock, ttls } from './replies';

const big = { maxEntries: 100, maxBytes: 1 << 20 };

t.test('TTLs go down by whole seconds elapsed, in every section, never below 0', async (t) => {
  const clock = manualClock();
  const c = new AnswerCache({ ...big, now: clock.now });
  const { q, wire } = query('api.example.com', { edns: true });
  const r = reply('api.example.com', {
    edns: true,
    answers: [A('api.example.com', '198.18.0.10', 30), A('api.example.com', '198.18.0.11', 50)],
    authorities: [{ type: 'NS', name: 'example.com', ttl: 3600, data: 'ns1.example.com' }],
    additionals: [A('ns1.example.com', '198.18.0.53', 2)],
  });
  t.equal(c.put(cacheKey(q), r.wire, r.answer), 'positive');
  t.same(ttls(c.get(cacheKey(q), wire, q)!.wire), [30, 50, 3600, 2], 'no time passed: as stored');
  clock.advance(2999);
  const h = c.get(cacheKey(q), wire, q)!;
  t.same(ttls(h.wire), [28, 48, 3598, 0], '2.999 s counts as 2; the additional stops at 0');
  t.same(
    h.answer.addresses.map((a) => [a.address, a.ttl]),
    [
      ['198.18.0.10', 28],
      ['198.18.0.11', 48],
    ],
    'AnswerInfo TTLs reduced the same way',
  );
  const opt = dnsPacket.decode(h.wire).additionals!.find((a) => a.type === 'OPT') as { udpPayloadSize: number; flags?: number };
  t.equal(opt.udpPayloadSize, 1232, 'OPT class (UDP size) untouched');
  t.same(c.stats.hits, 2);
});

t.test("the client's ID, question bytes (0x20 case) and RD bit", async (t) => {
  const c = new AnswerCache(big);
  const first = query('api.example.com', { id: 0x1111 });
  const r = reply('api.example.com', { id: 0x1111, answers: [A('api.example.com', '198.18.0.10', 30)] });
  c.put(cacheKey(first.q), r.wire, r.answer);
  const second = query('aPi.ExAmPlE.cOm', { id: 0xbeef, rd: false });
  t.equal(cacheKey(second.q), cacheKey(first.q), 'case does not change the key');
  const h = c.get(cacheKey(second.q), second.wire, second.q)!;
  t.equal(h.wire.readUInt16BE(0), 0xbeef, 'ID');
  t.same(h.wire.subarray(12, second.q.questionEnd), second.wire.subarray(12, second.q.questionEnd), 'question bytes as the client sent them');
  const p = dnsPacket.decode(h.wire);
  t.equal(p.questions![0].name, 'aPi.ExAmPlE.cOm');
  t.equal((p.flags! & dnsPacket.RECURSION_DESIRED) !== 0, false, 'RD as this client asked');
  t.equal((p.answers![0] as { data: string }).data, '198.18.0.10');
  // The stored copy was not edited by the hit.
  const again = c.get(cacheKey(first.q), first.wire, first.q)!;
  t.equal(dnsPacket.decode(again.wire).questions![0].name, 'api.example.com');
  t.equal(again.wire.readUInt16BE(0), 0x1111);
});

t.test("the stored bytes are a copy: editing the caller's buffer changes nothing", async (t) => {
  const c = new AnswerCache(big);
  const { q, wire } = query('api.example.com');
  const r = reply('api.example.com', { answers: [A('api.example.com', '198.18.0.10', 30)] });
  c.put(cacheKey(q), r.wire, r.answer);
  r.wire.fill(0, 12);
  r.answer.addresses[0].ttl = 1;
  const h = c.get(cacheKey(q), wire, q)!;
  t.equal((dnsPacket.decode(h.wire).answers![0] as { data: string }).data, '198.18.0.10');
  t.equal(h.answer.addresses[0].ttl, 30);
});

t.test('EDNS, DO and CD are part of the key', async (t) => {
  const c = new AnswerCache(big);
  const plain = query('api.example.com');
  const r = reply('api.example.com', { answers: [A('api.example.com', '198.18.0.10', 30)] });
  c.put(cacheKey(plain.q), r.wire, r.answer);
  const keys = new Set(
    [
      plain,
      query('api.example.com', { edns: true }),
      query('api.example.com', { do: true }),
      query('api.example.com', { cd: true }),
      query('api.example.com', { type: 'AAAA' }),
    ].map((x) => cacheKey(x.q)),
  );
  t.equal(keys.size, 5);
  for (const o of [{ edns: true }, { do: true }, { cd: true }]) {
    const x = query('api.example.com', o);
    t.equal(c.get(cacheKey(x.q), x.wire, x.q), null, `miss for ${JSON.stringify(o)}`);
  }
});
