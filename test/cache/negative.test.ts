// What is cached and for how long: positive answers for their least answer TTL, NXDOMAIN and
// NODATA for min(SOA TTL, SOA MINIMUM) (RFC 2308 §5); never TC, errors, no-SOA or TTL 0.
import t from 'tap';
import * as dnsPacket from 'dns-packet';
import { AnswerCache, cacheKey } from '../../lib/plugins/cache/store';
import { scanReply } from '../../lib/plugins/cache/wire';
import { query, reply, A, SOA, manualClock, ttls } from './replies';

const opts = { maxEntries: 100, maxBytes: 1 << 20 };

/** Seconds an entry lives: the first whole second at which get() misses. */
function lifetime(put: (c: AnswerCache) => void, name = 'x.example.com'): number {
  const clock = manualClock();
  const c = new AnswerCache({ ...opts, now: clock.now });
  put(c);
  const { q, wire } = query(name);
  for (let s = 0; s < 10_000; s++) {
    if (!c.get(cacheKey(q), wire, q)) return s;
    clock.advance(1000);
  }
  return -1;
}

t.test('positive: least TTL of the answer section', async (t) => {
  const r = reply('x.example.com', { answers: [A('x.example.com', '198.18.0.1', 40), A('x.example.com', '198.18.0.2', 25)], authorities: [SOA(5, 5)] });
  t.equal(
    lifetime((c) => c.put(cacheKey(query('x.example.com').q), r.wire, r.answer)),
    25,
    'authority TTLs do not count for a positive answer',
  );
});

t.test('NXDOMAIN: min(SOA TTL, SOA MINIMUM)', async (t) => {
  const a = reply('x.example.com', { rcode: 'NXDOMAIN', authorities: [SOA(300, 60)] });
  t.equal(
    lifetime((c) => t.equal(c.put(cacheKey(query('x.example.com').q), a.wire, a.answer), 'negative')),
    60,
    'MINIMUM smaller',
  );
  const b = reply('x.example.com', { rcode: 'NXDOMAIN', authorities: [SOA(45, 600)] });
  t.equal(
    lifetime((c) => c.put(cacheKey(query('x.example.com').q), b.wire, b.answer)),
    45,
    'SOA TTL smaller',
  );
  const clock = manualClock();
  const c = new AnswerCache({ ...opts, now: clock.now });
  const { q, wire } = query('x.example.com', { id: 77 });
  c.put(cacheKey(q), a.wire, a.answer);
  clock.advance(10_000);
  const h = c.get(cacheKey(q), wire, q)!;
  t.equal(h.rcode, 3, 'NXDOMAIN served');
  t.same(ttls(h.wire), [290], 'the SOA TTL goes down too');
  t.equal(dnsPacket.decode(h.wire).id, 77);
});

t.test('NODATA (NOERROR, no answers) with SOA is negative-cached', async (t) => {
  const r = reply('x.example.com', { authorities: [SOA(120, 30)] });
  t.equal(
    lifetime((c) => t.equal(c.put(cacheKey(query('x.example.com').q), r.wire, r.answer), 'negative')),
    30,
  );
});

t.test('not cached', async (t) => {
  const cases: [string, Parameters<typeof reply>[1], string][] = [
    ['NXDOMAIN without SOA', { rcode: 'NXDOMAIN' }, 'no-soa'],
    ['NODATA without SOA', {}, 'no-soa'],
    ['SERVFAIL', { rcode: 'SERVFAIL', authorities: [SOA(60, 60)] }, 'rcode'],
    ['REFUSED', { rcode: 'REFUSED' }, 'rcode'],
    ['FORMERR', { rcode: 'FORMERR' }, 'rcode'],
    ['truncated', { tc: true, answers: [A('x.example.com', '198.18.0.1', 30)] }, 'truncated'],
    ['TTL 0', { answers: [A('x.example.com', '198.18.0.1', 30), A('x.example.com', '198.18.0.2', 0)] }, 'ttl-zero'],
    ['SOA MINIMUM 0', { rcode: 'NXDOMAIN', authorities: [SOA(60, 0)] }, 'ttl-zero'],
  ];
  for (const [what, o, why] of cases) {
    const c = new AnswerCache(opts);
    const r = reply('x.example.com', o);
    const { q, wire } = query('x.example.com');
    t.equal(c.put(cacheKey(q), r.wire, r.answer), why, what);
    t.equal(c.get(cacheKey(q), wire, q), null, `${what}: a miss`);
    t.equal(c.size, 0);
  }
});

t.test('hostile bytes never throw and are not cached', async (t) => {
  const r = reply('x.example.com', { answers: [A('x.example.com', '198.18.0.1', 30)], authorities: [SOA(60, 60)] });
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let cached = 0;
  let outside = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(r.wire);
    const cut = i % 3 === 0 ? Math.floor(rnd() * b.length) : b.length;
    for (let k = 0; k < 3; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    const s = scanReply(b.subarray(0, cut));
    if (typeof s !== 'string') {
      cached++;
      for (const off of s.ttlOffsets) if (off + 4 > cut) outside++;
    }
  }
  t.equal(outside, 0, 'every TTL offset inside the reply');
  t.ok(cached < 3000, `${cached} of 3000 mutated replies still cacheable`);
  t.equal(scanReply(r.wire.subarray(0, r.wire.length - 1)), 'malformed', 'one byte short');
});
