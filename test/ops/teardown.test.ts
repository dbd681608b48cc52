// `dnswall teardown`: the uninstall step removes the whole table (rules, sets, elements) and
// nothing else; an absent table is said plainly; a bad name is bad input.
import path from 'path';
import { spawnSync } from 'child_process';
import { runInNetns, nft } from '../nft/netns';
import { testConfig } from '../nft/fixtures';
import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';
import { PolicyIndex } from '../../lib/policy/index';

const BIN = path.join(__dirname, '..', '..', 'bin', 'dnswall.js');
const dnswall = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

runInNetns(__filename, (t) => {
  t.test('teardown removes the table with its elements; a neighbour table stays', async (t) => {
    const cfg = testConfig();
    await installRuleset(renderRuleset(cfg, PolicyIndex.compile(cfg.policies)));
    nft('add', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.7 timeout 60s comment "api.example.com" }');
    nft('add', 'table', 'inet', 'neighbour');
    t.match(nft('list', 'tables'), /table inet dnswall/);

    const r = dnswall('teardown', '--table', 'dnswall');
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /removed table inet dnswall/);
    const tables = nft('list', 'tables');
    t.notMatch(tables, /table inet dnswall\b/, 'no dnswall table left');
    t.match(tables, /table inet neighbour/, 'other tables are not touched');
    t.equal(nft('list', 'ruleset').includes('198.51.100.7'), false, 'no element left anywhere');
  });

  t.test('absent table: a clear message, exit 0 (uninstall is idempotent)', async (t) => {
    const r = dnswall('teardown', '--table', 'dnswall');
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /table inet dnswall does not exist: nothing to remove/);
  });

  t.test('the table name comes from the configuration when --table is absent', async (t) => {
    const cfg = testConfig({ nftables: { table: 'dwops' } });
    await installRuleset(renderRuleset(cfg, PolicyIndex.compile(cfg.policies)));
    const fs = await import('fs');
    const os = await import('os');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-teardown-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, 'nftables: { table: dwops }\npolicies: []\n');
    const r = dnswall('teardown', '-c', file);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /removed table inet dwops/);
    t.notMatch(nft('list', 'tables'), /dwops/);
  });

  t.test('bad table name: exit 1 naming it', async (t) => {
    const r = dnswall('teardown', '--table', 'bad name; flush ruleset');
    t.equal(r.status, 1);
    t.match(r.stderr, /--table "bad name; flush ruleset" is not a valid nftables table name/);
  });

  t.test('no CAP_NET_ADMIN: exit 2 naming the capability', async (t) => {
    const cfg = testConfig();
    await installRuleset(renderRuleset(cfg, PolicyIndex.compile(cfg.policies)));
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, BIN, 'teardown', '--table', 'dnswall'],
      { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } },
    );
    t.equal(r.status, 2, r.stderr);
    t.match(r.stderr, /CAP_NET_ADMIN/);
    t.match(nft('list', 'tables'), /table inet dnswall/, 'still there');
  });
});
