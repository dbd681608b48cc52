// The ruleset loads with the real nft, can be loaded again, and keeps the allow sets.
import { readFileSync } from 'fs';
import { execFileSync } from 'child_process';
import { join } from 'path';
import { runInNetns, nft } from './netns';
import { testConfig, TEST_INDEX } from './fixtures';
import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';

runInNetns(__filename, (t) => {
  const script = renderRuleset(testConfig(), TEST_INDEX);

  t.test('nft -c accepts every variant', async (t) => {
    for (const enforce of [
      { mode: 'enforce', action: 'reject' },
      { mode: 'enforce', action: 'drop' },
      { mode: 'audit', action: 'reject' },
    ] as const) {
      const s = renderRuleset(testConfig({ enforce }), TEST_INDEX);
      t.doesNotThrow(() => execFileSync('nft', ['-c', '-f', '-'], { input: s, stdio: ['pipe', 'pipe', 'pipe'] }), `${enforce.mode}/${enforce.action}`);
    }
    const audit = renderRuleset(testConfig({ enforce: { mode: 'audit', action: 'drop' } }), TEST_INDEX);
    t.notMatch(audit, /reject|drop$/m, 'audit mode never rejects or drops');
  });

  t.test('loads, and loading again keeps allow elements', async (t) => {
    await installRuleset(script);
    nft('add', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.7 timeout 60s comment "api.example.com" }');
    nft('add', 'element', 'inet', 'dnswall', 'allow6p', '{ fd00:10:244:1::5 . 2001:db8::7 . tcp . 443 timeout 60s comment "v6.example.com" }');
    await installRuleset(script);
    const listed = nft('list', 'table', 'inet', 'dnswall');
    t.match(listed, /10\.244\.1\.5 \. 198\.51\.100\.7 timeout 1m expires \S+ comment "api\.example\.com"/);
    t.match(listed, /fd00:10:244:1::5 \. 2001:db8::7 \. tcp \. 443 timeout 1m/);
    t.match(listed, /ip saddr \. ct original ip daddr @allow4 accept/);
    t.match(listed, /meta l4proto \{ tcp, udp \} ip saddr \. ct original ip daddr \. meta l4proto \. ct original proto-dst @allow4p accept/);
    t.match(listed, /ip6 saddr \. ct original ip6 daddr @static6 accept/);
    t.match(listed, /elements = \{ 10\.244\.1\.0\/24 \}/, 'contained source 10.244.1.7/32 folded into 10.244.1.0/24');
    t.match(listed, /10\.244\.1\.0\/24 \. 10\.96\.0\.0\/12/);
    t.match(listed, /10\.244\.1\.7 \. 198\.51\.100\.0\/24/);
    t.equal((listed.match(/@managed4 jump egress4/g) || []).length, 1, 'chains flushed, not duplicated');
    t.equal((listed.match(/@pods4 jump egress4/g) || []).length, 1, 'the pod addresses jump too, once');
    // What nft lists must be loadable again (operators save and restore rulesets).
    t.doesNotThrow(() => execFileSync('nft', ['-c', '-f', '-'], { input: nft('list', 'ruleset'), stdio: ['pipe', 'pipe', 'pipe'] }));
  });

  t.test('a config change replaces managed and static sets', async (t) => {
    const cfg = testConfig();
    cfg.policies[0].allowCIDRs = [];
    await installRuleset(renderRuleset(cfg, { managed: { v4: ['10.244.2.0/24'], v6: [] } }));
    const listed = nft('list', 'table', 'inet', 'dnswall');
    t.match(listed, /set managed4 \{[^}]*elements = \{ 10\.244\.2\.0\/24 \}/s);
    t.notMatch(listed, /10\.96\.0\.0\/12/);
    t.match(listed, /api\.example\.com/, 'allow4 still holds its element');
  });

  t.test('failing load reports nft stderr', async (t) => {
    const err = await installRuleset('add table inet dnswall\nadd rule inet dnswall nosuchchain accept\n').then(
      () => null,
      (e) => e,
    );
    t.equal(err?.code, 'ENFTLOAD');
    t.match(err?.message, /nosuchchain|No such file/);
  });

  t.test('nft/ruleset.nft is the rendering of test/nft/fixtures.ts testConfig()', async (t) => {
    const ref = readFileSync(join(__dirname, '../../../nft/ruleset.nft'), 'utf8');
    t.equal(ref, script, 'regenerate with: node dist/test/nft/print-ruleset.js > nft/ruleset.nft');
  });
});
