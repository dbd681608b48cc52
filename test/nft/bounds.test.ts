// The caps in the book, without a kernel: oldest-programmed first per (source, name), per source
// and in total; a refresh moves an element to newest; expiry and forget drop the bookkeeping.
import t from 'tap';
import { ExpiryBook, SWEEP_SLACK_MS, elementId, type Evicted } from '../../lib/nft/expiry';
import type { Cap } from '../../lib/nft/bounds';
import { encodeKey } from '../../lib/nft/keys';
import { sourceText } from '../../lib/nft/owner';

const id = (src: number, dst: number) => elementId('allow4', encodeKey({ set: 'allow4', source: Buffer.from([10, 0, 0, src]), destination: Buffer.from([198, 51, 100, dst]) }));
const idp = (src: number, dst: number, port: number) =>
  elementId('allow4p', encodeKey({ set: 'allow4p', source: Buffer.from([10, 0, 0, src]), destination: Buffer.from([198, 51, 100, dst]), proto: 6, port }));

function book(limits: { maxElements?: number; maxElementsPerSource?: number; maxAddressesPerName?: number }) {
  let now = 1000;
  const evicted: { id: string; cap: Cap; source: string; name: string | null }[] = [];
  const b = new ExpiryBook({ limits, now: () => now });
  // The book returns what its caps pushed out (refresh: in `evicted`; learn: the list): collect them.
  const collect = (list: Evicted[] | null | undefined) => {
    for (const e of list ?? []) evicted.push({ id: e.id, cap: e.cap, source: sourceText(e.source), name: e.name });
  };
  const refresh = b.refresh.bind(b),
    learn = b.learn.bind(b);
  b.refresh = (...a: Parameters<ExpiryBook['refresh']>) => {
    const r = refresh(...a);
    collect(r.evicted);
    return r;
  };
  b.learn = (...a: Parameters<ExpiryBook['learn']>) => {
    const r = learn(...a);
    collect(r);
    return r;
  };
  return {
    b,
    evicted,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

t.test('per name: the oldest address of that (source, name) goes; refresh moves to newest', async (t) => {
  const { b, evicted } = book({ maxAddressesPerName: 3 });
  for (const d of [1, 2, 3]) b.refresh(id(1, d), 60_000, 'a.example.com');
  b.refresh(id(1, 9), 60_000, 'other.example.com');
  b.refresh(id(1, 1), 60_000, 'a.example.com'); // refresh: 1 is newest now
  t.same(evicted, []);
  b.refresh(id(1, 4), 60_000, 'a.example.com');
  t.same(evicted, [{ id: id(1, 2), cap: 'perName', source: '10.0.0.1', name: 'a.example.com' }], 'the oldest, 2, not the refreshed 1');
  t.notOk(b.get(id(1, 2)), 'gone from the book');
  t.ok(b.get(id(1, 9)), 'another name of the same source is untouched');
  t.equal(b.bounds.evictions.perName, 1);
  t.same(b.bounds.sizes, { elements: 4, sources: 1, names: 2 });
});

t.test('per source across names, and total across sources', async (t) => {
  const { b, evicted } = book({ maxElementsPerSource: 2, maxElements: 3 });
  b.refresh(id(1, 1), 60_000, 'a');
  b.refresh(id(1, 2), 60_000, 'b');
  b.refresh(id(1, 3), 60_000, 'c');
  t.same(
    evicted.map((e) => [e.id, e.cap]),
    [[id(1, 1), 'perSource']],
  );
  b.refresh(id(2, 1), 60_000, 'a');
  b.refresh(id(3, 1), 60_000, 'a');
  t.same(
    evicted.slice(1).map((e) => [e.id, e.cap]),
    [[id(1, 2), 'total']],
    'the oldest of all',
  );
  t.equal(b.size, 3);
  t.same(b.bounds.sizes, { elements: 3, sources: 3, names: 3 });
});

t.test('port rules: the cap counts addresses, an address has one element per port', async (t) => {
  const { b, evicted } = book({ maxAddressesPerName: 2 });
  for (const d of [1, 2]) for (const p of [443, 80]) b.refresh(idp(1, d, p), 60_000, 'p', 2);
  t.same(evicted, [], '2 addresses × 2 ports fit');
  for (const p of [443, 80]) b.refresh(idp(1, 3, p), 60_000, 'p', 2);
  t.same(
    evicted.map((e) => e.id),
    [idp(1, 1, 443), idp(1, 1, 80)],
    'both ports of the oldest address',
  );
});

t.test('expiry and forget drop the entries and empty groups; permanent elements are not counted', async (t) => {
  const { b, advance } = book({ maxElements: 10 });
  for (let d = 1; d <= 5; d++) b.refresh(id(d, d), 1_000, `n${d}`);
  b.refresh(id(9, 9), 600_000, 'long');
  b.learn(id(8, 8), undefined, undefined);
  b.forget(id(1, 1));
  t.same(b.bounds.sizes, { elements: 5, sources: 5, names: 5 });
  advance(1_000 + SWEEP_SLACK_MS);
  t.equal(b.sweep(), 4, 'the four short ones');
  t.same(b.bounds.sizes, { elements: 1, sources: 1, names: 1 });
  t.equal(b.size, 2, 'the long one and the permanent one');
});

t.test('adopted elements: source and total caps apply, the name once refreshed', async (t) => {
  const { b, evicted } = book({ maxElementsPerSource: 3, maxAddressesPerName: 1 });
  for (const d of [1, 2, 3]) b.learn(id(1, d), 60_000, 30_000);
  t.same(evicted, [], 'no name: the per-name cap does not lump them together');
  b.refresh(id(1, 2), 60_000, 'a');
  b.refresh(id(1, 4), 60_000, 'a');
  t.same(
    evicted.map((e) => [e.id, e.cap]),
    [[id(1, 2), 'perName']],
  );
  b.refresh(id(1, 5), 60_000, 'b');
  t.same(
    evicted.slice(1).map((e) => [e.id, e.cap]),
    [[id(1, 1), 'perSource']],
    'the oldest adopted one',
  );
});

t.test('bounded under churn: 200k ever-new elements, sizes never above the caps', async (t) => {
  const limits = { maxElements: 5_000, maxElementsPerSource: 700, maxAddressesPerName: 40 };
  const { b, evicted } = book(limits);
  let maxSeen = 0;
  for (let i = 0; i < 200_000; i++) {
    const key = Buffer.alloc(8);
    key.writeUInt32BE(0x0a000000 + (i % 97), 0);
    key.writeUInt32BE(0xc6120000 + i, 4);
    const eid = elementId('allow4', key);
    b.refresh(eid, 60_000, `n${i % 1013}.example.com`);
    if (b.size > maxSeen) maxSeen = b.size;
  }
  t.ok(maxSeen <= limits.maxElements, `book peak ${maxSeen}`);
  const s = b.bounds.sizes;
  t.ok(s.elements <= limits.maxElements && s.sources <= 97 && s.names <= s.elements, JSON.stringify(s));
  t.equal(evicted.length, 200_000 - b.size, 'every element not in the book was evicted');
});

t.test('revocations see every group with its source and whole name (UTF-8 too), each once', async (t) => {
  const { b } = book({ maxElements: 100 });
  b.refresh(id(1, 1), 60_000, 'a.example');
  b.refresh(id(1, 2), 60_000, 'a.example');
  b.refresh(id(2, 3), 60_000, 'bücher.example');
  b.refresh(idp(3, 4, 443), 60_000, 'x'.repeat(63) + '.example');
  b.learn(id(4, 5), 60_000, 60_000); // adopted without a name: not a group
  b.forget(id(1, 1));
  b.refresh(id(1, 1), 60_000, 'a.example'); // gone and back: its source row is made again
  const seen: string[] = [];
  const r = b.revocations((source, name) => {
    seen.push(`${[...source].join('.')} ${name}`);
    return name !== 'bücher.example';
  });
  t.same(seen.sort(), ['10.0.0.1 a.example', '10.0.0.2 bücher.example', `10.0.0.3 ${'x'.repeat(63)}.example`]);
  t.same(
    r.doomed.map((s) => b.idAt(s)),
    [id(2, 3)],
    "revocations hand out slots: the doomed one's",
  );
  t.equal(r.checked, 5);
  t.equal(r.unnamed, 1);
});
