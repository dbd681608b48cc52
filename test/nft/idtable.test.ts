// The book's id table against a Map: random adds and deletes (backward-shift deletion must keep
// every probe run reachable), ids of every set length, rebuilt ids, sizes.
import t from 'tap';
import { IdTable } from '../../lib/nft/idtable';
import { elementId } from '../../lib/nft/expiry';
import { ALLOW_SETS, LAYOUTS } from '../../lib/nft/keys';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

t.test('matches a Map under 200k random adds and deletes', async (t) => {
  const next = rng(7);
  const table = new IdTable();
  const ref = new Map<string, number>();
  const freeSlots: number[] = [];
  let nextSlot = 0;
  let mismatches = 0;
  for (let op = 0; op < 200_000; op++) {
    const set = ALLOW_SETS[next() % 4];
    const key = Buffer.alloc(LAYOUTS[set].keyLen);
    // few distinct keys, so adds hit present ids and deletes hit long probe runs
    key.writeUInt32BE(next() % 5000, 0);
    const id = elementId(set, key);
    const slot = table.get(id);
    if (slot !== (ref.get(id) ?? -1) && mismatches++ < 5) t.fail(`get ${op}: ${slot} vs ${ref.get(id)}`);
    const bySetKey = table.getPrefixed(ALLOW_SETS.indexOf(set), key);
    if (bySetKey !== slot && mismatches++ < 5) t.fail(`getPrefixed ${op}: ${bySetKey} vs ${slot}`);
    if (slot < 0) {
      const s = freeSlots.pop() ?? nextSlot++;
      table.set(id, s);
      ref.set(id, s);
    } else if (next() % 2 === 0) {
      table.deleteSlot(slot);
      ref.delete(id);
      freeSlots.push(slot);
    }
  }
  t.equal(mismatches, 0, 'every lookup agreed (get and getPrefixed)');
  t.equal(table.size, ref.size);
  for (const [id, s] of ref)
    if (table.get(id) !== s || table.idOf(s) !== id) {
      t.fail(`final ${s}`);
      break;
    }
  let live = 0;
  for (let s = 0; s < table.slotLimit; s++) if (table.hasSlot(s)) live++;
  t.equal(live, ref.size, 'hasSlot counts the live ids');
});

t.test('ids of every length and byte value round-trip; absent ids are -1', async (t) => {
  const table = new IdTable();
  const ids = ALLOW_SETS.map((set, i) => elementId(set, Buffer.alloc(LAYOUTS[set].keyLen, [0, 255, 128, 10, 1, 2, 3, 4][i])));
  ids.forEach((id, i) => table.set(id, i * 3));
  ids.forEach((id, i) => {
    t.equal(table.get(id), i * 3);
    t.equal(table.idOf(i * 3), id);
  });
  t.equal(table.get(elementId('allow4', Buffer.alloc(8, 1))), -1);
  t.equal(table.get(ids[0].slice(0, 5)), -1, 'a prefix is another id');
  t.throws(() => table.set('\u0100x', 50), RangeError, 'not latin1');
  t.equal(table.size, ALLOW_SETS.length);
});
