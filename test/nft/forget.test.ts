// forgetSource / `dnswall forget`: every element of one source goes, from every set of its
// family, in one batch; other sources keep theirs.
import path from 'path';
import { spawnSync } from 'child_process';
import { runInNetns, nft } from './netns';
import { openProgrammer, ip4 } from './fixtures';
import { forgetSource } from '../../lib/nft/forget';
import { listElements } from '../../lib/nft/list';
import type { Element } from '../../lib/nft/programmer';

const BIN = path.join(__dirname, '..', '..', 'bin', 'dnswall.js');
const v6 = (s: string) => Buffer.from(s.split(':').flatMap((h) => [parseInt(h, 16) >> 8, parseInt(h, 16) & 255]));
const A = '10.244.1.5',
  B = '10.244.1.6';
const A6 = 'fd00:10:244:1:0:0:0:5';

runInNetns(__filename, (t) => {
  t.test('forgetSource removes exactly one source', async (t) => {
    const p = await openProgrammer();
    const els: Element[] = [];
    for (const [src, n] of [
      [A, 3],
      [B, 2],
    ] as const) {
      for (let i = 0; i < n; i++) els.push({ set: 'allow4', source: ip4(src), destination: ip4(`198.51.100.${10 + i}`), timeoutMs: 60_000, comment: `n${i}.example.com` });
      els.push({ set: 'allow4p', source: ip4(src), destination: ip4('198.51.100.50'), proto: 6, port: 443, timeoutMs: 60_000, comment: 'p.example.com' });
    }
    els.push({ set: 'allow6', source: v6(A6), destination: v6('2001:db8:0:0:0:0:0:10'), timeoutMs: 60_000, comment: 'v6.example.com' });
    els.push({ set: 'allow6p', source: v6(A6), destination: v6('2001:db8:0:0:0:0:0:11'), proto: 17, port: 53, timeoutMs: 60_000, comment: 'v6p.example.com' });
    await p.add(els);

    t.equal(await forgetSource('dnswall', A), 4, 'allow4 ×3 + allow4p ×1');
    let left = await listElements('dnswall');
    t.notOk(
      left.some((e) => e.source === A),
      'nothing of A left',
    );
    t.equal(left.filter((e) => e.source === B).length, 3, 'B keeps all of its elements');
    t.equal(await forgetSource('dnswall', A), 0, 'again: nothing to forget, no error');

    t.equal(await forgetSource('dnswall', 'fd00:10:244:1::5'), 2, 'v6 source: allow6 + allow6p');
    left = await listElements('dnswall');
    t.equal(left.length, 3, 'only B remains');
    await t.rejects(forgetSource('dnswall', 'not-an-ip'), /not an IP address/);
    await p.close();
  });

  t.test('dnswall forget prints how many, exits 0; bad input exits 1', async (t) => {
    const r = spawnSync(process.execPath, [BIN, 'forget', '--table', 'dnswall', '--source', B], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout.trim(), `forgot 3 elements of ${B}`);
    t.notMatch(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /10\.244\.1\.6/);
    const bad = spawnSync(process.execPath, [BIN, 'forget', '--table', 'dnswall', '--source', '10.0.0.300'], { encoding: 'utf8' });
    t.equal(bad.status, 1, 'exit 1');
    t.match(bad.stderr, /not an IP address/);
    const missing = spawnSync(process.execPath, [BIN, 'forget', '--table', 'nosuch', '--source', B], { encoding: 'utf8' });
    t.equal(missing.status, 2, `runtime failure: ${missing.stderr.trim()}`);
    t.match(missing.stderr, /not found/);
  });
});
