// The kernel commits an nfnetlink batch inside sendmsg, so its ack is already queued when the
// syscall returns: with syncAcks (the programmer's default) a batch settles before the event loop
// polls again; without it, only after the poll. Both leave the element in the kernel.
import { runInNetns, nft } from './netns';
import { openProgrammer, ip4 } from './fixtures';
import type { SetProgrammer } from '../../lib/nft/programmer';

/** Resolves add()'s batch and reports whether it settled before the next poll phase. */
async function settledBeforePoll(p: SetProgrammer, destination: string): Promise<{ before: boolean; value: unknown }> {
  let settled = false;
  const pending = p.add([{ set: 'allow4', source: ip4('10.244.1.5'), destination: ip4(destination), timeoutMs: 10_000, comment: 'a.example.com' }]).then(
    () => (settled = true),
    (e: Error) => ((settled = true), e),
  );
  // The programmer sends on setImmediate: an immediate queued after it runs in the same check
  // phase, before the loop polls the netlink socket again; then microtasks only.
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  const before = settled;
  return { before, value: await pending };
}

runInNetns(__filename, (t) => {
  t.test('syncAcks: the batch settles in the tick that sent it', async (t) => {
    const p = await openProgrammer();
    const r = await settledBeforePoll(p, '198.51.100.70');
    t.equal(r.value, true, 'committed');
    t.equal(r.before, true, 'settled without waiting for a poll of the netlink socket');
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /198\.51\.100\.70/);
    await p.close();
  });

  t.test('without syncAcks the ack waits for the poll', async (t) => {
    const p = await openProgrammer({ syncAcks: false });
    const r = await settledBeforePoll(p, '198.51.100.71');
    t.equal(r.value, true, 'committed');
    t.equal(r.before, false, 'not settled before the poll (so the first case proves the sync read)');
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /198\.51\.100\.71/);
    await p.close();
  });

  t.test('syncAcks: a failing batch still fails (its error is read the same way)', async (t) => {
    const p = await openProgrammer();
    nft('flush', 'chain', 'inet', 'dnswall', 'egress4'); // a set a rule uses cannot be deleted (EBUSY)
    nft('delete', 'set', 'inet', 'dnswall', 'allow4');
    const r = await settledBeforePoll(p, '198.51.100.72');
    t.ok(r.value instanceof Error, 'rejected');
    t.match((r.value as Error & { code?: string }).code, /ENOENT/);
    t.equal(r.before, true, 'the error was read right after sendmsg');
    await p.close().catch(() => undefined);
  });
});
