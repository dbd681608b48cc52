// The allow sets' size is limits.maxElements, and the ruleset still loads over an existing table
// whose sets have no size (an older dnswall) or another size (a changed config): nft 1.0.6 on
// Linux 6.18 changes the size of a live set in place, keeping its elements.
import { runInNetns, nft } from './netns';
import { testConfig, TEST_INDEX } from './fixtures';
import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';

const withMax = (maxElements: number) => renderRuleset(testConfig({ limits: { ...testConfig().limits, maxElements } }), TEST_INDEX);

runInNetns(__filename, (t) => {
  t.test('size follows maxElements across reloads, elements survive', async (t) => {
    const old = withMax(1000).replace(/ size \d+;/g, '');
    await installRuleset(old);
    t.notMatch(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /size/, 'an older ruleset without size');
    nft('add', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.1 timeout 1h }');
    await installRuleset(withMax(1000));
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /size 1000\b/);
    await installRuleset(withMax(3));
    const l = nft('list', 'set', 'inet', 'dnswall', 'allow4');
    t.match(l, /size 3\b/, 'a smaller size');
    t.match(l, /10\.244\.1\.5 \. 198\.51\.100\.1/, 'the live element is kept');
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow6p'), /size 3\b/);
  });
});
