// A pod's revocation from the programmer's book (a deleted or relabelled pod costs its own
// elements, not a dump of the sets), on the real kernel in a fresh netns: with the watch up the
// book is complete and no set is read; without it the kernel is read. Both leave the kernel the
// same: the planned sources' elements gone (all, or the names `keep` refuses), the others kept.
import { runInNetns } from '../nft/netns';
import { openProgrammer, ip4 } from '../nft/fixtures';
import { listElements } from '../../lib/nft/list';
import { NftPodKernel, type RevokePlan } from '../../lib/identity/pod/kernel';
import type { Element, SetProgrammer } from '../../lib/nft/programmer';
import ipaddr from 'ipaddr.js';

const ip6 = (a: string) => Buffer.from(ipaddr.parse(a).toByteArray());

function elements(): Element[] {
  const els: Element[] = [];
  for (const src of ['10.244.1.1', '10.244.1.2', '10.244.1.3'])
    for (let d = 0; d < 3; d++)
      els.push({ set: 'allow4', source: ip4(src), destination: ip4(`198.18.${src.slice(-1)}.${d + 1}`), timeoutMs: 300_000, comment: `n${d}.example.com` });
  els.push({ set: 'allow6', source: ip6('2001:db8::5'), destination: ip6('2001:db8:ff::1'), timeoutMs: 300_000, comment: 'n0.example.com' });
  return els;
}

const plan = (): RevokePlan =>
  new Map([
    ['10.244.1.1', null], // deleted: everything goes
    ['10.244.1.2', (name: string) => name === 'n1.example.com'], // relabelled: only n1 still allowed
    ['2001:db8::5', null],
  ]);

async function remaining(): Promise<string[]> {
  return (await listElements('dnswall')).map((e) => `${e.source} ${e.comment}`).sort();
}

const EXPECTED = ['10.244.1.2 n1.example.com', '10.244.1.3 n0.example.com', '10.244.1.3 n1.example.com', '10.244.1.3 n2.example.com'];

function countReads(p: SetProgrammer): { reads: number } {
  const c = { reads: 0 };
  const orig = p.readLive.bind(p);
  p.readLive = (each) => {
    c.reads++;
    return orig(each);
  };
  return c;
}

runInNetns(__filename, (t) => {
  t.test('complete book (watch up): revoked from the book, no set read', async (t) => {
    const p = await openProgrammer({ refreshSlackMs: 5_000 });
    t.teardown(() => p.close());
    t.equal(p.bookIncomplete, null, 'the book is complete');
    await p.add(elements());
    const c = countReads(p);
    const revoked = await new NftPodKernel('dnswall', p).revoke(plan());
    t.equal(revoked, 3 + 2 + 1);
    t.equal(c.reads, 0, 'no dump of the sets');
    t.same(await remaining(), EXPECTED);
    t.equal(p.sizes().book, EXPECTED.length, 'the book forgot them too');
  });

  t.test('incomplete book (no watch): the kernel is read, same result', async (t) => {
    const p = await openProgrammer();
    t.teardown(() => p.close());
    t.not(p.bookIncomplete, null);
    await p.add(elements());
    const c = countReads(p);
    const revoked = await new NftPodKernel('dnswall', p).revoke(plan());
    t.equal(revoked, 6);
    t.equal(c.reads, 1, 'one read of the sets');
    t.same(await remaining(), EXPECTED);
  });
});
