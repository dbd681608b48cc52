// serve --watch follows the file however it is replaced: kubelet's ..data symlink swap, an
// atomic rename, an editor's backup-rename, in-place writes — debounced, once per content, and
// not at all for an event that leaves the content as it was.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { followFile, contentHash, hashFile } from '../../lib/cli/follow';
import { ConfigMapVolume, atomicRename, backupRename, inPlaceSlow } from './writers';

const log = pino({ level: 'silent' });
const DEBOUNCE = 100;

/** Waits until `pred` holds (poll, bounded), so a loaded machine does not fail the test. */
async function until(pred: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pred();
}
/** Quiet period: long enough for any (wrong) extra event to have fired. */
const quiet = () => new Promise((r) => setTimeout(r, DEBOUNCE * 6));

function tmpdir(t: { teardown(fn: () => void): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-follow-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('three ConfigMap ..data swaps: three changes, each with its content hash', async (t) => {
  const vol = new ConfigMapVolume(tmpdir(t));
  vol.write('policies: [] # v0\n');
  const seen: string[] = [];
  const f = followFile(vol.file, (h) => seen.push(h), { initialHash: hashFile(vol.file), debounceMs: DEBOUNCE, log });
  t.teardown(() => f.close());
  const versions = ['v1', 'v2', 'v3'].map((v) => `policies: [] # ${v}\n`);
  for (const [i, v] of versions.entries()) {
    vol.write(v);
    t.ok(await until(() => seen.length === i + 1), `swap ${i + 1} seen`);
    await quiet();
  }
  t.same(seen, versions.map(contentHash), "one change per swap, the new content's hash");
  t.ok(fs.lstatSync(vol.file).isSymbolicLink() && fs.lstatSync(path.join(vol.dir, '..data')).isSymbolicLink(), 'kubelet layout');
});

t.test('a swap to the same content (kubelet resync, touch, chmod) changes nothing', async (t) => {
  const vol = new ConfigMapVolume(tmpdir(t));
  vol.write('policies: []\n');
  const seen: string[] = [];
  const f = followFile(vol.file, (h) => seen.push(h), { initialHash: hashFile(vol.file), debounceMs: DEBOUNCE, log });
  t.teardown(() => f.close());
  vol.write('policies: []\n');
  const now = new Date();
  fs.utimesSync(vol.file, now, now);
  fs.chmodSync(fs.realpathSync(vol.file), 0o600);
  await quiet();
  await quiet();
  t.same(seen, [], 'no change reported');
  vol.write('policies: [] # changed\n');
  t.ok(await until(() => seen.length === 1), 'a real change after them is reported');
});

t.test('atomic rename, backup-rename and a slow in-place write: once each, whole content', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, 'a: 0\n');
  fs.writeFileSync(path.join(dir, 'other.yaml'), 'x');
  const seen: string[] = [];
  const f = followFile(file, (h) => seen.push(h), { initialHash: hashFile(file), debounceMs: DEBOUNCE, log });
  t.teardown(() => f.close());

  atomicRename(file, 'a: 1\n');
  t.ok(await until(() => seen.length === 1), 'atomic rename');
  await quiet();
  backupRename(file, 'a: 2\n');
  t.ok(await until(() => seen.length === 2), 'backup-rename');
  await quiet();
  const long = 'policies: []\n' + '#'.repeat(4000) + '\n';
  await inPlaceSlow(file, long, DEBOUNCE / 4);
  t.ok(await until(() => seen.length === 3), 'in-place write');
  await quiet();
  fs.writeFileSync(path.join(dir, 'other.yaml'), 'y'); // a neighbour changing is not our file
  await quiet();
  t.same(seen, ['a: 1\n', 'a: 2\n', long].map(contentHash), 'each once; the in-place write debounced into one, whole');
});

t.test('back to an earlier content is a change; a removed file waits for its successor', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, 'a: 0\n');
  const seen: string[] = [];
  const f = followFile(file, (h) => seen.push(h), { initialHash: hashFile(file), debounceMs: DEBOUNCE, log });
  t.teardown(() => f.close());
  atomicRename(file, 'a: 1\n');
  t.ok(await until(() => seen.length === 1));
  await quiet();
  fs.rmSync(file);
  await quiet();
  t.equal(seen.length, 1, 'a missing file is no change');
  fs.writeFileSync(file, 'a: 0\n');
  t.ok(await until(() => seen.length === 2), 'reappeared with the first content: a change');
  t.same(seen, [contentHash('a: 1\n'), contentHash('a: 0\n')]);
});

t.test('setHash: content the caller already applied (SIGHUP) is not reported again', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, 'a: 0\n');
  const seen: string[] = [];
  const f = followFile(file, (h) => seen.push(h), { initialHash: hashFile(file), debounceMs: DEBOUNCE * 3, log });
  t.teardown(() => f.close());
  atomicRename(file, 'a: 1\n');
  f.setHash(contentHash('a: 1\n')); // a SIGHUP reload read it before the debounce ended
  await quiet();
  await quiet();
  t.same(seen, []);
});
