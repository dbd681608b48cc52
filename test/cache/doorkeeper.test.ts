// The doorkeeper admits a key on its second sighting, forgets everything after RESET_AFTER first
// sightings, and wrongly admits a first sighting at a bounded rate (seeded keys).
import t from 'tap';
import { Doorkeeper, RESET_AFTER, BITS_LOG2 } from '../../lib/plugins/cache/doorkeeper';
import { prng } from '../prng';

t.test('second sighting admits', (t) => {
  const d = new Doorkeeper();
  t.equal(d.admit('a.example.com|1|1|0'), false, 'first: not admitted');
  t.equal(d.admit('a.example.com|1|1|0'), true, 'second: admitted');
  t.equal(d.admit('a.example.com|1|1|0'), true, 'and after');
  t.end();
});

t.test('false admissions stay under RESET_AFTER / BITS; the window resets', (t) => {
  const seed = 0x5eed_d00d;
  const rand = prng(seed);
  const d = new Doorkeeper();
  let falseAdmits = 0;
  const n = RESET_AFTER - 1;
  for (let i = 0; i < n; i++) if (d.admit(`u${i}-${Math.floor(rand() * 1e9)}.example.bench|1|1|0`)) falseAdmits++;
  const bound = (n / (1 << BITS_LOG2)) * n; // each new key meets at most n set bits of 2^BITS
  t.ok(falseAdmits <= bound, `seed ${seed}: ${falseAdmits} of ${n} first sightings admitted (bound ${bound.toFixed(0)})`);
  t.ok(falseAdmits < n * 0.07, `under 7 % (${((falseAdmits / n) * 100).toFixed(2)} %)`);
  // A key seen early in the window is still remembered at its end...
  const e = new Doorkeeper();
  e.admit('early|1|1|0');
  for (let i = 0; i < RESET_AFTER - 2; i++) e.admit(`fill${i}|1|1|0`);
  t.equal(e.admit('early|1|1|0'), true, 'remembered within the window');
  // ...and forgotten once the window has been reset.
  for (let i = 0; i < RESET_AFTER + 1; i++) e.admit(`more${i}|1|1|0`);
  const after = e.admit('early|1|1|0');
  t.equal(after, false, 'forgotten after the reset');
  t.end();
});
