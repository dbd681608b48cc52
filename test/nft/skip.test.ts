// The refresh an element does not need is skipped — and a book gone stale fails safe: an element
// deleted from outside the daemon (nft delete element, another process's forget, a flush, the
// table deleted and reloaded) is sent again by the next add(), which resolves only once it is
// back in the kernel. Real kernel, own namespace.
import { execFileSync } from 'child_process';
import { runInNetns } from './netns';
import { openProgrammer, ip4, testConfig, TEST_INDEX } from './fixtures';
import { forgetSource } from '../../lib/nft/forget';
import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';
import type { Element } from '../../lib/nft/programmer';
import type { Test } from 'tap';

const el = (over: Partial<Element> = {}): Element => ({
  set: 'allow4',
  source: ip4('10.244.1.5'),
  destination: ip4('198.51.100.7'),
  timeoutMs: 60_000,
  comment: 'api.example.com',
  ...over,
});
const nft = (...args: string[]) => execFileSync('nft', args, { encoding: 'utf8' });
const inKernel = () => /10\.244\.1\.5 \. 198\.51\.100\.7/.test(nft('list', 'set', 'inet', 'dnswall', 'allow4'));

/** Every way an element leaves the kernel behind the daemon's back. */
function deletions(t: Test): [string, () => Promise<void> | void][] {
  return [
    [
      'nft delete element',
      () => {
        nft('delete', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.7 }');
      },
    ],
    [
      'dnswall forget from another process',
      async () => {
        t.equal(await forgetSource('dnswall', '10.244.1.5'), 1);
      },
    ],
    [
      'nft flush set',
      () => {
        nft('flush', 'set', 'inet', 'dnswall', 'allow4');
      },
    ],
    [
      'table deleted and the ruleset installed again',
      async () => {
        nft('delete', 'table', 'inet', 'dnswall');
        await installRuleset(renderRuleset(testConfig(), TEST_INDEX));
      },
    ],
  ];
}

/** One poll phase after now: notifications already queued have been read (two check phases apart). */
const pollPhase = async () => {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
};

runInNetns(__filename, (t) => {
  t.test('skip while the kernel holds it; re-add after any deletion from outside', async (t) => {
    const p = await openProgrammer({ refreshSlackMs: 5_000 });
    t.teardown(() => p.close());
    await p.add([el()]);
    t.equal(p.stats.batches, 1);
    await p.add([el()]);
    t.equal(p.stats.skipped, 1, 'the second answer needed no kernel round trip');
    t.equal(p.stats.batches, 1);
    await p.add([el({ timeoutMs: 120_000 })]);
    t.equal(p.stats.batches, 2, 'a longer life than the kernel holds is sent');

    const cases = deletions(t);
    for (const [what, del] of cases) {
      await p.add([el()]);
      t.ok(inKernel(), `${what}: present before`);
      const before = p.stats.batches;
      await del();
      t.notOk(inKernel(), `${what}: gone`);
      // at once, as an answer right after the deletion would
      await p.add([el()]);
      t.ok(inKernel(), `${what}: the next add() put it back before resolving`);
      t.equal(p.stats.batches, before + 1, `${what}: sent to the kernel`);
    }
  });

  t.test('without refreshSlackMs every add() goes to the kernel', async (t) => {
    const p = await openProgrammer();
    t.teardown(() => p.close());
    await p.add([el()]);
    await p.add([el()]);
    t.equal(p.stats.skipped, 0);
    t.equal(p.stats.batches, 2);
  });
  t.test('holdsAll vouches only for what the book trusts, and not once a deletion has been read', async (t) => {
    nft('flush', 'set', 'inet', 'dnswall', 'allow4'); // the first test left a 120 s element
    const p = await openProgrammer({ refreshSlackMs: 5_000 });
    t.teardown(() => p.close());
    t.notOk(p.holdsAll([el()]), 'an element never sent: not vouched for');
    await p.add([el()]);
    t.ok(p.holdsAll([el()]), 'committed, and the kernel holds it long enough: vouched for');
    t.equal(p.stats.skipped, 1, 'counted as skipped');
    t.notOk(p.holdsAll([el({ timeoutMs: 120_000 })]), 'a longer life than the kernel holds: not');
    t.notOk(p.holdsAll([el(), el({ destination: ip4('198.51.100.8') })]), 'an answer with one unknown element: not');
    t.notOk(p.holdsAll([]), 'nothing to vouch for: false (the caller adds)');
    for (const [what, del] of deletions(t)) {
      await p.add([el()]);
      t.ok(p.holdsAll([el()]), `${what}: vouched for before`);
      const batches = p.stats.batches;
      await del();
      // the daemon asks only for an upstream reply, a poll phase after its query arrived
      await pollPhase();
      t.notOk(p.holdsAll([el()]), `${what}: not vouched for once the deletion was read`);
      await p.add([el()]);
      t.ok(inKernel(), `${what}: add() put it back`);
      t.equal(p.stats.batches, batches + 1, `${what}: sent to the kernel`);
    }
  });

  t.test('hold(): null (nothing to wait for) only when vouched for now; else the add, which puts it back', async (t) => {
    nft('flush', 'set', 'inet', 'dnswall', 'allow4');
    const p = await openProgrammer({ refreshSlackMs: 5_000 });
    t.teardown(() => p.close());
    const first = p.hold([el()], true);
    t.ok(first instanceof Promise, 'unknown element: an add to wait for');
    await first;
    t.ok(inKernel());
    t.equal(p.hold([el()], true), null, 'held long enough, asked as an upstream answer: nothing to wait for');
    const batches = p.stats.batches;
    const hit = p.hold([el()], false);
    t.ok(hit instanceof Promise, 'not now (a cache hit): the check-phase wait');
    await hit;
    t.equal(p.stats.batches, batches, 'which sent nothing');
    for (const [what, del] of deletions(t)) {
      t.equal(p.hold([el()], true), null, `${what}: vouched for before`);
      await del();
      await pollPhase();
      const again = p.hold([el()], true);
      t.ok(again instanceof Promise, `${what}: not vouched for once the deletion was read`);
      await again;
      t.ok(inKernel(), `${what}: back in the kernel when it resolved`);
    }
    await t.rejects(p.hold([el({ timeoutMs: NaN })], true) ?? Promise.resolve(), /bad element|timeoutMs/, 'a bad element: rejected, named');
  });

  t.test('without refreshSlackMs holdsAll vouches for nothing', async (t) => {
    const p = await openProgrammer();
    t.teardown(() => p.close());
    await p.add([el()]);
    t.notOk(p.holdsAll([el()]));
    t.equal(p.stats.skipped, 0);
  });
});
