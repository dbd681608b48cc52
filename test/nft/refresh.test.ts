// A refresh only ever extends an element's life.
import { runInNetns, nft } from './netns';
import { openProgrammer, ip4, expiresSeconds } from './fixtures';
import { SetProgrammer } from '../../lib/nft/programmer';

const el = (timeoutMs: number, d = '198.51.100.30') => ({ set: 'allow4' as const, source: ip4('10.244.1.5'), destination: ip4(d), timeoutMs, comment: 'r.example.com' });
const left = (d = '198.51.100.30') => expiresSeconds(nft('list', 'set', 'inet', 'dnswall', 'allow4'), d);

runInNetns(__filename, (t) => {
  t.test('60 s then 5 s: still about 60 s left', async (t) => {
    const p = await openProgrammer();
    await p.add([el(60_000)]);
    await p.add([el(5_000)]);
    const s = left();
    t.ok(s !== null && s > 55, `expires in ${s}s after the shorter refresh`);
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /198\.51\.100\.30 timeout 1m /, 'timeout stays 60 s');
    await p.close();
  });

  t.test('5 s then 60 s: extended to 60 s', async (t) => {
    const p = await openProgrammer();
    await p.add([el(5_000, '198.51.100.31')]);
    await p.add([el(60_000, '198.51.100.31')]);
    const s = left('198.51.100.31');
    t.ok(s !== null && s > 55, `expires in ${s}s`);
    await p.close();
  });

  t.test('same tick, both orders, one batch', async (t) => {
    const p = await openProgrammer();
    await Promise.all([p.add([el(60_000, '198.51.100.32')]), p.add([el(5_000, '198.51.100.32')])]);
    t.ok(left('198.51.100.32')! > 55);
    t.equal(p.stats.batches, 1);
    await p.close();
  });

  t.test('after a restart the live set is the truth: a new programmer does not shorten', async (t) => {
    const p1 = await openProgrammer();
    await p1.add([el(60_000, '198.51.100.33')]);
    await p1.close();
    const p2 = new SetProgrammer({ table: 'dnswall' });
    await p2.open();
    await p2.add([el(5_000, '198.51.100.33')]);
    t.ok(left('198.51.100.33')! > 55, 'seeded from the kernel at open()');
    await p2.close();
  });

  t.test('a known permanent element stays permanent', async (t) => {
    const p0 = await openProgrammer();
    await p0.close();
    nft('add', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.34 comment "pinned" }');
    const p = new SetProgrammer({ table: 'dnswall' });
    await p.open();
    await p.add([el(5_000, '198.51.100.34')]);
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /198\.51\.100\.34 comment/, 'no timeout added');
    await p.close();
  });
});
