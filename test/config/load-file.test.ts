// loadConfigFile: the shipped example is valid; unreadable files are a ConfigError naming the
// file and the reason; errors in a file carry that file's path.
import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfigFile } from '../../lib/config/load';
import { ConfigError } from '../../lib/config/errors';
import { PolicyIndex } from '../../lib/policy/index';

const EXAMPLE = resolve(__dirname, '../../../examples/config.yaml');

t.test('examples/config.yaml is valid and means what its comments say', async (t) => {
  const cfg = loadConfigFile(EXAMPLE);
  t.equal(cfg.file, EXAMPLE);
  t.same(cfg.listen[1], { host: 'fd00:169:254::10', port: 53, family: 6 });
  const ix = PolicyIndex.compile(cfg.policies);
  const pod = { address: '10.244.1.23', family: 4 as const };
  t.equal(ix.decideAddress(pod, 'www.googleapis.com').pattern, '**.googleapis.com');
  t.equal(ix.decideAddress(pod, 'eu.api.example.com').pattern, '{eu,us}.api.example.com');
  t.equal(ix.decideAddress(pod, 'evil.example.net').verdict, 'deny');
  t.equal(ix.decideAddress({ address: '10.244.2.9', family: 4 }, 'api.stripe.com').verdict, 'deny', 'batch is default deny');
  t.same(ix.cgroups, [{ path: '/system.slice/backup.service', policies: ['backup-agent'] }]);
  const sidecar = ix.decideAddress({ address: '10.244.1.130', family: 4 }, 'ingest.metrics.example.com');
  t.same([sidecar.policy, sidecar.ports], ['metrics', [{ proto: 'tcp', port: 4317 }]]);
});

t.test('a missing file', async (t) => {
  const err = t.throws(() => loadConfigFile('/nonexistent/dnswall.yaml')) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.match(err.message, /^\/nonexistent\/dnswall\.yaml: cannot read configuration: ENOENT/);
  t.same([err.issues[0].line, err.issues[0].col], [0, 0]);
});

t.test('a directory', async (t) => {
  const err = t.throws(() => loadConfigFile(tmpdir())) as ConfigError;
  t.match(err.message, /EISDIR/);
});

t.test('errors carry the file path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dnswall-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'policies:\n  - name: x\n    sources: [10.0.0.1/8]\n');
  const err = t.throws(() => loadConfigFile(f)) as ConfigError;
  t.equal(err.message, `${f}:3:15 policy "x".sources[0]: "10.0.0.1/8" has host bits set; the network is 10.0.0.0/8`);
});
