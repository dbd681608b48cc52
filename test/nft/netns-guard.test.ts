// runInNetns refuses to run a kernel test body unless the process really is in a namespace other
// than the one that started it, whatever the environment says (the body changes nftables: in
// the machine's own namespace it would change the machine's ruleset).
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { netnsInode } from './netns';

const NETNS_JS = path.join(__dirname, 'netns.js');

t.test('netnsInode tells a new namespace from this one', async (t) => {
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') t.fail('needs root (CI=true makes this a failure)');
    else t.plan(0, 'skipped: needs root');
    return;
  }
  const r = spawnSync('unshare', ['--net', process.execPath, '-e', `process.stdout.write(String(require(${JSON.stringify(NETNS_JS)}).netnsInode()))`], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.ok(Number(r.stdout) > 0);
  t.not(Number(r.stdout), netnsInode(), 'another namespace, another inode');
});

t.test('a body told it runs in a namespace of its own, but not in one, is refused', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-guard-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const marker = path.join(dir, 'body-ran');
  const file = path.join(dir, 'fake.test.js');
  writeFileSync(file, `require(${JSON.stringify(NETNS_JS)}).runInNetns(__filename, () => require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'));\n`);
  const cwd = path.join(__dirname, '..', '..', '..'); // the repository: tap resolves from here
  for (const [what, extra] of [
    ['a stray DWT_NFT_NETNS', {}],
    ['the namespace it was started from', { DWT_NFT_NETNS_OUTER: String(netnsInode()) }],
  ] as const) {
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd, env: { ...process.env, DWT_NFT_NETNS: 'dwt-nft-pretend', ...extra } });
    t.not(r.status, 0, `${what}: the file fails`);
    t.match(r.stdout, /refusing to run: DWT_NFT_NETNS=dwt-nft-pretend but this process is not in a namespace of its own/, what);
    t.notOk(existsSync(marker), `${what}: the body never ran`);
  }
});
