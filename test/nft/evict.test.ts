// The caps in the kernel: an element beyond a cap deletes the oldest in the same batch as the
// add (DESTROYSETELEM first, so a set at its `size` still takes the new one), an element that
// already expired in the kernel is no error, and an evict + re-add in one tick ends as the book says.
import { runInNetns, nft } from './netns';
import { testConfig, TEST_INDEX, ip4 } from './fixtures';
import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';
import { SetProgrammer } from '../../lib/nft/programmer';
import type { BoundLimits } from '../../lib/nft/bounds';

const SRC = ip4('10.244.1.5');
const el = (d: number, name: string, timeoutMs = 60_000, src = SRC) => ({ set: 'allow4' as const, source: src, destination: ip4(`198.51.100.${d}`), timeoutMs, comment: name });
const present = (): number[] => [...nft('list', 'set', 'inet', 'dnswall', 'allow4').matchAll(/198\.51\.100\.(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);

async function open(limits: BoundLimits): Promise<SetProgrammer> {
  try {
    nft('delete', 'table', 'inet', 'dnswall');
  } catch {
    /* first test */
  }
  await installRuleset(renderRuleset(testConfig({ limits: { ...testConfig().limits, ...limits } }), TEST_INDEX));
  const p = new SetProgrammer({ table: 'dnswall', limits });
  await p.open();
  return p;
}

runInNetns(__filename, (t) => {
  t.test('per name: the oldest address is deleted in the batch that adds the new one', async (t) => {
    const p = await open({ maxAddressesPerName: 3, maxElementsPerSource: 100, maxElements: 100 });
    for (const d of [1, 2, 3]) await p.add([el(d, 'a.example.com')]);
    await p.add([el(1, 'a.example.com')]); // refresh: 1 is the newest now
    const before = p.stats.batches;
    await p.add([el(4, 'a.example.com')]);
    t.equal(p.stats.batches - before, 1, 'one batch: NEWSETELEM + DESTROYSETELEM');
    t.same(present(), [1, 3, 4], 'the oldest-programmed (2) is gone, the refreshed 1 stays');
    t.same(p.stats.evictions, { perName: 1, perSource: 0, total: 0 });
    t.equal(p.stats.deleted, 1);
    await p.close();
  });

  t.test('total cap = set size: a full set takes new elements, the oldest go', async (t) => {
    const p = await open({ maxAddressesPerName: 100, maxElementsPerSource: 100, maxElements: 4 });
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /size 4/, 'the kernel set has size 4');
    for (const d of [1, 2, 3, 4]) await p.add([el(d, `n${d}.example.com`, 60_000, ip4(`10.244.1.${d}`))]);
    await p.add([el(5, 'n5.example.com', 60_000, ip4('10.244.1.5')), el(6, 'n6.example.com', 60_000, ip4('10.244.1.6'))]);
    t.same(present(), [3, 4, 5, 6], 'no ENFILE: deletions ride first in the same batch');
    t.equal(p.stats.failedBatches, 0);
    t.equal(p.stats.evictions.total, 2);
    await p.close();
  });

  t.test('per source; evicting an element the kernel already expired is no error', async (t) => {
    const p = await open({ maxAddressesPerName: 100, maxElementsPerSource: 2, maxElements: 100 });
    await p.add([el(1, 'short.example.com', 1_000)]);
    await p.add([el(2, 'b.example.com')]);
    await new Promise((r) => setTimeout(r, 2_500));
    t.same(present(), [2], 'the 1 s element expired in the kernel (the book still counts it)');
    await p.add([el(3, 'c.example.com')]);
    t.same(present(), [2, 3]);
    t.same(p.stats.evictions, { perName: 0, perSource: 1, total: 0 });
    t.equal(p.stats.failedBatches, 0, 'DESTROYSETELEM of an absent element does not fail the batch');
    await p.close();
  });

  t.test('evict and re-add in one tick: the kernel ends as the book', async (t) => {
    const p = await open({ maxAddressesPerName: 3, maxElementsPerSource: 100, maxElements: 100 });
    for (const d of [1, 2, 3]) await p.add([el(d, 'a.example.com')]);
    // 4 evicts 1; the re-add of 1 (same tick, same batch) evicts 2.
    await Promise.all([p.add([el(4, 'a.example.com')]), p.add([el(1, 'a.example.com')])]);
    t.same(present(), [1, 3, 4]);
    // An answer with more addresses than the cap keeps its newest ones.
    await p.add([5, 6, 7, 8, 9].map((d) => el(d, 'a.example.com')));
    t.same(present(), [7, 8, 9]);
    t.same(p.sizes().elements, 3);
    await p.close();
  });

  t.test('remove() and close() keep the bookkeeping to the live elements', async (t) => {
    const p = await open({ maxAddressesPerName: 10, maxElementsPerSource: 10, maxElements: 10 });
    await p.add([el(1, 'a.example.com'), el(2, 'b.example.com')]);
    t.same(p.sizes(), { book: 2, elements: 2, sources: 1, names: 2, queued: 0 });
    await p.remove([{ set: 'allow4', source: SRC, destination: ip4('198.51.100.1') }]);
    t.same(p.sizes(), { book: 1, elements: 1, sources: 1, names: 1, queued: 0 });
    await p.close();
  });
});
