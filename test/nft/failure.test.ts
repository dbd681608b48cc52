// Failures name the problem: a missing set under a live programmer, a missing table at open().
import { runInNetns, nft } from './netns';
import { openProgrammer, ip4 } from './fixtures';
import { SetProgrammer } from '../../lib/nft/programmer';

runInNetns(__filename, (t) => {
  t.test('set deleted underneath: add() rejects with ENOENT naming the set', async (t) => {
    const p = await openProgrammer();
    nft('flush', 'chain', 'inet', 'dnswall', 'egress6'); // a set a rule uses cannot be deleted (EBUSY)
    nft('delete', 'set', 'inet', 'dnswall', 'allow6');
    const ok = p.add([{ set: 'allow4', source: ip4('10.244.1.5'), destination: ip4('198.51.100.40'), timeoutMs: 10_000, comment: 'a.example.com' }]);
    const bad = p.add([{ set: 'allow6', source: Buffer.alloc(16, 1), destination: Buffer.alloc(16, 2), timeoutMs: 10_000, comment: 'b.example.com' }]);
    const err = await bad.catch((e) => e);
    t.equal(err.code, 'ENOENT');
    t.match(err.message, /allow6/);
    // Same batch: the kernel rolled back all of it, so the other add() fails too.
    const err2 = await ok.catch((e) => e);
    t.equal(err2?.code, 'ENOENT', 'the batch was atomic');
    t.notMatch(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /198\.51\.100\.40/, 'nothing committed');
    await p.add([{ set: 'allow4', source: ip4('10.244.1.5'), destination: ip4('198.51.100.41'), timeoutMs: 10_000, comment: 'c.example.com' }]);
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), /198\.51\.100\.41/, 'the programmer keeps working');
    t.equal(p.stats.failedBatches, 1);
    await p.close();
  });

  t.test('no table: open() says to install the ruleset', async (t) => {
    nft('flush', 'ruleset');
    const p = new SetProgrammer({ table: 'dnswall' });
    const err = await p.open().catch((e) => e);
    t.equal(err.code, 'ENOENT');
    t.equal(err.message, 'table inet dnswall not found — is the ruleset installed?');
  });

  t.test('a set missing or of the wrong type: open() names it', async (t) => {
    nft('flush', 'ruleset');
    nft('add', 'table', 'inet', 'dnswall');
    nft('add', 'set', 'inet', 'dnswall', 'allow4', '{ typeof ip saddr . ip daddr; flags timeout; }');
    nft('add', 'set', 'inet', 'dnswall', 'allow6', '{ typeof ip6 saddr . ip6 daddr; flags timeout; }');
    nft('add', 'set', 'inet', 'dnswall', 'allow4p', '{ typeof ip saddr . ip daddr; flags timeout; }');
    const err = await new SetProgrammer({ table: 'dnswall' }).open().catch((e) => e);
    t.equal(err.code, 'EINVAL');
    t.match(err.message, /allow4p has key length 8/);
    nft('delete', 'set', 'inet', 'dnswall', 'allow4p');
    nft('add', 'set', 'inet', 'dnswall', 'allow4p', '{ type ipv4_addr . ipv4_addr . inet_proto . inet_service; }');
    const err2 = await new SetProgrammer({ table: 'dnswall' }).open().catch((e) => e);
    t.match(err2.message, /allow4p .*expected 16 bytes with flags timeout/, 'a set without flags timeout is refused');
    nft('delete', 'set', 'inet', 'dnswall', 'allow4p');
    const err3 = await new SetProgrammer({ table: 'dnswall' }).open().catch((e) => e);
    t.equal(err3.message, 'set allow4p of table inet dnswall not found — is the ruleset installed?');
  });
});
