// The configured cgroups on disk, on a plain directory tree (ids are inode numbers there too):
// ids of configured paths, locating a descendant's id by walking, negative caching, a path
// re-created with a new id, levels.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CgroupTree } from '../../lib/identity/cgroup/tree';
import { deepestConfigured, cgroupLevel, selfAndAncestors } from '../../lib/identity/cgroup/ancestors';

const ino = (p: string) => fs.statSync(p, { bigint: true }).ino;

t.test('locate, cache, re-creation', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-tree-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  for (const d of ['a/b/c', 'a/x', 'other/y']) fs.mkdirSync(path.join(root, d), { recursive: true });
  const tree = new CgroupTree(root, ['/a', '/a/b', '/missing/z']);
  t.same(tree.levels, [1, 2]);
  t.equal(tree.idOf('/a'), ino(path.join(root, 'a')));
  t.equal(tree.idOf('/missing/z'), undefined, 'a configured path that does not exist has no id');
  t.equal(tree.locate(ino(path.join(root, 'a/b/c'))), '/a/b/c', 'a descendant found by walking');
  t.equal(tree.locate(ino(path.join(root, 'a/x'))), '/a/x');
  const before = tree.stats.walks;
  t.equal(tree.locate(ino(path.join(root, 'a/b/c'))), '/a/b/c');
  t.equal(tree.stats.walks, before, 'a hit does not walk');
  t.equal(tree.locate(ino(path.join(root, 'other/y'))), null, 'outside every configured path');
  const w = tree.stats.walks;
  t.equal(tree.locate(ino(path.join(root, 'other/y'))), null);
  t.equal(tree.stats.walks, w, 'the negative answer is cached');

  const oldB = tree.idOf('/a/b')!;
  // (a plain file system may reuse an inode at once; cgroupfs never does: keep the old one meanwhile)
  fs.renameSync(path.join(root, 'a/b'), path.join(root, 'a/b-old'));
  fs.mkdirSync(path.join(root, 'a/b/d'), { recursive: true });
  t.ok(tree.refresh(), 'refresh notices the re-created path');
  t.not(tree.idOf('/a/b'), oldB, 'a new id');
  t.equal(tree.locate(ino(path.join(root, 'a/b/d'))), '/a/b/d', 'a descendant of the re-created path');
  t.notOk(tree.refresh(), 'nothing changed since');
  fs.mkdirSync(path.join(root, 'missing/z'), { recursive: true });
  t.ok(tree.refresh(), 'a configured path created after start');
  t.equal(tree.idOf('/missing/z'), ino(path.join(root, 'missing/z')));
});

t.test('ancestry helpers', async (t) => {
  t.same(selfAndAncestors('/a/b'), ['/a/b', '/a', '/']);
  t.same([cgroupLevel('/'), cgroupLevel('/a'), cgroupLevel('/kubepods.slice/kubepods-burstable.slice/pod1')], [0, 1, 3]);
  t.equal(deepestConfigured(['/a', '/a/b'], '/a/b/c'), '/a/b');
  t.equal(deepestConfigured(['/a', '/a/b'], '/a/bc'), '/a', 'a sibling with a common prefix is not a descendant');
  t.equal(deepestConfigured(['/a'], '/b'), undefined);
});
