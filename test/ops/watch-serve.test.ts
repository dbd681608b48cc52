// `dnswall serve --watch` on a kubelet-mounted ConfigMap: three ..data swaps → three reloads,
// each logged with the new content's hash; a swap to equal content → none; an invalid file is
// rejected once (with its hash) and the running configuration stays.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { runInNetns, sh } from '../nft/netns';
import { ChildLines, stopChild } from '../../lib/sandbox/child';
import { contentHash } from '../../lib/cli/follow';
import { ConfigMapVolume } from './writers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'dnswall.js');

runInNetns(__filename, async (t) => {
  sh('ip', ['link', 'set', 'lo', 'up']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-watch-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const vol = new ConfigMapVolume(dir);
  const cfg = (names: string[]) =>
    `listen: ["127.0.0.1:5353"]\nupstreams: ["127.0.0.1:9"]\nenforce: { mode: audit }\npolicies:\n  - name: p\n    sources: ["127.0.0.1/32"]\n    allow: ${JSON.stringify(names)}\n`;
  vol.write(cfg(['a.example.com']));

  const proc = spawn(process.execPath, [BIN, 'serve', '-c', vol.file, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = new ChildLines(proc, 'dnswall serve --watch');
  const log: Record<string, unknown>[] = [];
  lines.on('line', (l: string) => {
    try {
      log.push(JSON.parse(l));
    } catch {
      /* not JSON */
    }
  });
  t.teardown(() => stopChild(proc));
  await lines.waitFor((l) => l.includes('"msg":"serving"'), 60_000);
  const reloads = () => log.filter((l) => /^(configuration reloaded|reload rejected)/.test(String(l.msg)));
  const until = async (pred: () => boolean, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return pred();
  };
  t.equal(log.find((l) => l.msg === 'configuration loaded')?.configHash, contentHash(cfg(['a.example.com'])), 'the start logs the hash too');

  t.test('three ConfigMap swaps → three reloads, each with its hash', async (t) => {
    const versions = [['b.example.com'], ['c.example.com'], ['d.example.com', 'e.example.com']].map(cfg);
    for (const [i, v] of versions.entries()) {
      vol.write(v);
      t.ok(await until(() => reloads().length === i + 1), `swap ${i + 1}: reloaded`);
      await new Promise((r) => setTimeout(r, 600)); // no second reload for the same swap
    }
    const r = reloads();
    t.equal(r.length, 3);
    t.same(
      r.map((l) => l.msg),
      ['configuration reloaded', 'configuration reloaded', 'configuration reloaded'],
    );
    t.same(
      r.map((l) => l.configHash),
      versions.map(contentHash),
    );
    t.same(
      r.map((l) => l.why),
      ['file changed', 'file changed', 'file changed'],
    );
  });

  t.test('equal content: no reload; invalid content: rejected once, old configuration kept', async (t) => {
    const before = reloads().length;
    vol.write(cfg(['d.example.com', 'e.example.com']));
    await new Promise((r) => setTimeout(r, 1500));
    t.equal(reloads().length, before, 'same content: nothing');
    const bad = 'policies: [ { name: p, sources: ["not-a-cidr"] } ]\n';
    vol.write(bad);
    t.ok(await until(() => reloads().length === before + 1));
    const last = reloads().at(-1)!;
    t.match(String(last.msg), /^reload rejected/);
    t.equal(last.configHash, contentHash(bad));
    vol.write(bad);
    await new Promise((r) => setTimeout(r, 1500));
    t.equal(reloads().length, before + 1, 'the same invalid content is not rejected again');
    const ok = cfg(['f.example.com']);
    vol.write(ok);
    t.ok(await until(() => reloads().length === before + 2));
    t.equal(reloads().at(-1)!.msg, 'configuration reloaded');
  });
});
