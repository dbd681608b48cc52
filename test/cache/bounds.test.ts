// The store stays within maxEntries and maxBytes, evicting the least recently used; expired
// entries are misses; clear() empties it.
import t from 'tap';
import { AnswerCache, cacheKey } from '../../lib/plugins/cache/store';
import { query, reply, A, manualClock } from './replies';

function fill(c: AnswerCache, names: string[], ttl = 60): void {
  for (const n of names) {
    const r = reply(n, { answers: [A(n, '198.18.0.1', ttl)] });
    c.put(cacheKey(query(n).q), r.wire, r.answer);
  }
}
const has = (c: AnswerCache, n: string) => {
  const { q, wire } = query(n);
  return c.get(cacheKey(q), wire, q) !== null;
};

t.test('LRU by entries: a hit keeps an entry, the oldest unused one goes', async (t) => {
  const c = new AnswerCache({ maxEntries: 3, maxBytes: 1 << 20 });
  fill(c, ['a.example', 'b.example', 'c.example']);
  t.ok(has(c, 'a.example'), 'a used: now most recent');
  fill(c, ['d.example']);
  t.equal(c.size, 3);
  t.equal(c.stats.evictions, 1);
  t.notOk(has(c, 'b.example'), 'b was least recently used');
  t.ok(has(c, 'a.example'));
  t.ok(has(c, 'c.example'));
  t.ok(has(c, 'd.example'));
});

t.test('LRU by bytes', async (t) => {
  const probe = new AnswerCache({ maxEntries: 100, maxBytes: 1 << 20 });
  fill(probe, ['a.example']);
  const one = probe.bytes;
  t.ok(one > 50, `one entry counts ${one} bytes`);
  const c = new AnswerCache({ maxEntries: 100, maxBytes: one * 2 + one / 2 });
  fill(c, ['a.example', 'b.example', 'c.example', 'd.example']);
  t.equal(c.size, 2, 'two fit');
  t.ok(c.bytes <= one * 2 + one / 2);
  t.equal(c.stats.evictions, 2);
  t.notOk(has(c, 'a.example'));
  t.notOk(has(c, 'b.example'));
  t.ok(has(c, 'c.example') && has(c, 'd.example'));
  const tiny = new AnswerCache({ maxEntries: 100, maxBytes: one - 1 });
  const r = reply('a.example', { answers: [A('a.example', '198.18.0.1', 60)] });
  t.equal(tiny.put(cacheKey(query('a.example').q), r.wire, r.answer), 'too-big', 'an entry over maxBytes is not stored');
  t.equal(tiny.size, 0);
});

t.test('replacing an entry does not double-count its bytes', async (t) => {
  const c = new AnswerCache({ maxEntries: 100, maxBytes: 1 << 20 });
  fill(c, ['a.example']);
  const one = c.bytes;
  fill(c, ['a.example', 'a.example']);
  t.equal(c.size, 1);
  t.equal(c.bytes, one);
});

t.test('an entry with no whole second left is a miss and is dropped', async (t) => {
  const clock = manualClock();
  const c = new AnswerCache({ maxEntries: 10, maxBytes: 1 << 20, now: clock.now });
  fill(c, ['a.example'], 5);
  clock.advance(4999);
  t.ok(has(c, 'a.example'), 'at 4.999 s: 1 s left');
  clock.advance(1);
  t.notOk(has(c, 'a.example'), 'at 5 s: expired');
  t.equal(c.stats.expired, 1);
  t.equal(c.size, 0, 'evicted');
  t.equal(c.bytes, 0);
});

t.test("an entry holds only its own bytes: not a slice of Buffer's shared 8 KiB pool", async (t) => {
  const c = new AnswerCache({ maxEntries: 10, maxBytes: 1 << 20 });
  const pooled = Buffer.allocUnsafe(16); // a small allocUnsafe is cut from the shared pool
  t.ok(pooled.buffer.byteLength > 16, `control: a pooled slice sits in a ${pooled.buffer.byteLength}-byte slab`);
  fill(c, ['a.example']);
  const { q, wire } = query('a.example');
  const hit = c.get(cacheKey(q), wire, q);
  const bytes = hit?.answer.addresses[0].bytes;
  t.ok(bytes, 'a hit with its address');
  // the address bytes are a view of the entry's one buffer: that buffer is all its ArrayBuffer holds
  t.ok(bytes!.buffer.byteLength < 512, `the entry's ArrayBuffer is ${bytes!.buffer.byteLength} bytes, its own`);
});
