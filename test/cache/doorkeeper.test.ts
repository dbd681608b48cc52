// The doorkeeper admits a question on its second sighting, forgets everything after RESET_AFTER
// first sightings (re-marking what its owner says must stay seen), and wrongly admits a first
// sighting at a bounded rate (seeded names). questionHash names a question as cacheKey does.
import t from 'tap';
import { Doorkeeper, RESET_AFTER, BITS_LOG2, questionHash } from '../../lib/plugins/cache/doorkeeper';
import { cacheKey } from '../../lib/plugins/cache/store';
import type { Query } from '../../lib/dns/types';
import { prng } from '../prng';

function q(name: string, o: Partial<Query> = {}): Query {
  return { id: 1, flags: 0x0100, opcode: 0, name, qtype: 1, qclass: 1, questionEnd: 0, edns: null, ...o };
}
const h = (name: string) => questionHash(q(name));

t.test('questionHash: equal for what cacheKey calls equal, different for what it tells apart', (t) => {
  const base = q('a.example.com');
  const same = q('a.example.com', { id: 99, flags: 0x0100 }); // ID and RD are not in the key
  t.equal(cacheKey(same), cacheKey(base));
  t.equal(questionHash(same), questionHash(base));
  const others = [
    q('b.example.com'),
    q('a.example.co'),
    q('a.example.com', { qtype: 28 }),
    q('a.example.com', { qtype: 1 + 256 }),
    q('a.example.com', { qclass: 3 }),
    q('a.example.com', { edns: { udpSize: 1232, version: 0, do: false } }),
    q('a.example.com', { edns: { udpSize: 1232, version: 0, do: true } }),
    q('a.example.com', { flags: 0x0110 }), // CD
  ];
  for (const o of others) {
    t.not(cacheKey(o), cacheKey(base));
    t.not(questionHash(o), questionHash(base), `${cacheKey(o)} hashes apart from ${cacheKey(base)}`);
  }
  t.ok(Number.isInteger(questionHash(base)) && questionHash(base) >= 0 && questionHash(base) < 2 ** 32, 'an unsigned 32-bit hash');
  t.end();
});

t.test('second sighting admits', (t) => {
  const d = new Doorkeeper();
  t.equal(d.seen(h('a.example.com')), false, 'first: not seen');
  t.equal(d.seen(h('a.example.com')), true, 'second: seen');
  t.equal(d.seen(h('a.example.com')), true, 'and after');
  t.end();
});

t.test('false admissions stay under RESET_AFTER / BITS; the window resets', (t) => {
  const seed = 0x5eed_d00d;
  const rand = prng(seed);
  const d = new Doorkeeper();
  let falseAdmits = 0;
  const n = RESET_AFTER - 1;
  for (let i = 0; i < n; i++) if (d.seen(h(`u${i}-${Math.floor(rand() * 1e9)}.example.bench`))) falseAdmits++;
  const bound = (n / (1 << BITS_LOG2)) * n; // each new question meets at most n set bits of 2^BITS
  t.ok(falseAdmits <= bound, `seed ${seed}: ${falseAdmits} of ${n} first sightings admitted (bound ${bound.toFixed(0)})`);
  t.ok(falseAdmits < n * 0.07, `under 7 % (${((falseAdmits / n) * 100).toFixed(2)} %)`);
  // A question seen early in the window is still remembered at its end...
  const e = new Doorkeeper();
  e.seen(h('early'));
  for (let i = 0; i < RESET_AFTER - 2; i++) e.seen(h(`fill${i}`));
  t.equal(e.seen(h('early')), true, 'remembered within the window');
  // ...and forgotten once the window has been reset.
  for (let i = 0; i < RESET_AFTER + 1; i++) e.seen(h(`more${i}`));
  t.equal(e.seen(h('early')), false, 'forgotten after the reset');
  t.end();
});

t.test('a clear re-marks what onClear names, without counting it as a sighting', (t) => {
  const kept = [h('stored1.example.com'), h('stored2.example.com')];
  let clears = 0;
  const d = new Doorkeeper((mark) => {
    clears++;
    for (const k of kept) mark(k);
  });
  for (const k of kept) d.seen(k);
  d.seen(h('asked-once.example.com'));
  // count first sightings, not names: a name whose bit is another's is no sighting
  let i = 0;
  let firsts = 0;
  while (clears === 0) if (!d.seen(h(`fill${i++}`))) firsts++;
  t.equal(firsts, RESET_AFTER - 2, 'cleared on the first sighting past RESET_AFTER (3 before the fill)');
  t.equal(d.seen(kept[0]), true, 'stored: still seen after the clear');
  t.equal(d.seen(kept[1]), true);
  t.equal(d.seen(h('asked-once.example.com')), false, 'not stored: forgotten');
  // the re-marked bits did not count: the next clear comes after RESET_AFTER more first sightings
  // (the fill name that triggered the clear and asked-once above count as two)
  let more = 0;
  firsts = 0;
  while (clears === 1) if (!d.seen(h(`more${more++}`))) firsts++;
  t.equal(firsts, RESET_AFTER - 1, 'the next window is a whole one');
  t.end();
});
