// remove() deletes elements at once (reload), absent ones are no error, and a later add()
// is not held to the removed element's old expiry.
import { runInNetns, nft } from './netns';
import { openProgrammer, ip4, expiresSeconds } from './fixtures';

runInNetns(__filename, (t) => {
  t.test('remove, remove again, add shorter', async (t) => {
    const p = await openProgrammer();
    const k = { set: 'allow4' as const, source: ip4('10.244.1.5'), destination: ip4('198.51.100.70') };
    const kp = { set: 'allow4p' as const, source: ip4('10.244.1.5'), destination: ip4('198.51.100.71'), proto: 6, port: 443 };
    await p.add([
      { ...k, timeoutMs: 60_000, comment: 'a.example.com' },
      { ...kp, timeoutMs: 60_000, comment: 'b.example.com' },
    ]);
    await p.remove([k, kp]);
    t.notMatch(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /198\.51\.100\.70/);
    t.notMatch(nft('list', 'set', 'inet', 'dnswall', 'allow4p'), /198\.51\.100\.71/);
    await p.remove([k]);
    t.pass('removing an absent element is no error');
    await p.add([{ ...k, timeoutMs: 5_000, comment: 'a.example.com' }]);
    const left = expiresSeconds(nft('list', 'set', 'inet', 'dnswall', 'allow4'), '198.51.100.70');
    t.ok(left !== null && left <= 5, `new life ${left}s, not the removed 60 s`);
    await p.close();
  });
});
