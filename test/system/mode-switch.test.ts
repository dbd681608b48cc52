// audit ↔ enforce by reload, with traffic (docs/architecture.md "Lifecycle"): a pod that resolves and
// connects in a loop across the switch never has a connection rejected — audit→enforce makes
// the programmer and programs every answer before the enforcing verdict is installed, and
// enforce→audit replaces the rejecting verdict before the chain stops programming. After each
// switch the new mode is in force: enforce blocks an address no answer gave, audit blocks none.
import t, { type Test } from 'tap';
import { requireSystem, createWorld, config, ADDR, type World } from './world';

const ZONE = {
  records: [
    { name: 'a.example.com', type: 'A', ttl: 300, data: '198.18.0.81' },
    { name: 'b.example.com', type: 'A', ttl: 300, data: '198.18.0.82' },
  ],
};
const body = (mode: 'audit' | 'enforce') => `
enforce: { mode: ${mode}, action: reject }
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: [a.example.com, b.example.com]
`;
const NEVER_ANSWERED = '198.18.0.99';

if (requireSystem(t)) {
  let w: World;
  const dns = ADDR.nodePod1.v4;
  t.before(async () => {
    w = await createWorld('dwms', ZONE, body('audit'));
  });
  t.teardown(() => w?.destroy());

  /** Resolve-and-connect in a loop while `during` runs; every iteration must succeed. */
  const acrossReload = async (t: Test, name: string, during: () => Promise<Record<string, unknown>>) => {
    const loop = w.pod1.resolveConnect({ server: dns, dnsPort: 53, name, type: 'A', port: 443, count: 60, pauseMs: 25, connectTimeoutMs: 1500, timeoutMs: 3000 });
    await new Promise((r) => setTimeout(r, 300)); // the loop is running
    const line = await during();
    const switchedAt = Date.now();
    const r = await loop;
    // The loop must still have been running after the switch (60 × ≥ 25 ms ≥ 1.5 s), or it proves nothing.
    t.ok(Date.now() - switchedAt > 100, `the loop went on after the switch (${Date.now() - switchedAt} ms)`);
    if (!r.ok) throw new Error(`loop failed: ${JSON.stringify(r)}`);
    t.equal(r.done, 60, `${r.done} iterations`);
    t.equal(r.dnsFail + r.noAddress, 0, `every query answered (${r.errors.join(', ')})`);
    t.equal(r.connectFail, 0, `no connection rejected across the switch (${r.errors.join(', ')})`);
    return line;
  };

  t.test('audit: nothing is blocked', async (t) => {
    t.ok((await w.pod1.connect(NEVER_ANSWERED, 443)).ok);
  });

  t.test('audit → enforce with traffic: no connection rejected; then enforcing', async (t) => {
    const line = await acrossReload(t, 'a.example.com', () => w.daemon.reload(config(body('enforce'))));
    t.equal(line.msg, 'configuration reloaded');
    t.same(line.changed, ['enforce.mode']);
    t.notOk((await w.pod1.connect(NEVER_ANSWERED, 443, { timeoutMs: 1000 })).ok, 'an address no answer gave is blocked');
    const after = await w.pod1.resolveConnect({ server: dns, dnsPort: 53, name: 'a.example.com', type: 'A', port: 443, count: 1, connectTimeoutMs: 1500, timeoutMs: 3000 });
    t.ok(after.ok && after.connectFail === 0 && after.dnsFail === 0, 'an answer after the switch: resolve and connect');
    t.ok((await w.pod1.connect('198.18.0.81', 443)).ok, 'the answered one is open');
    const set = await w.nft('list', 'set', 'inet', 'dnswall', 'allow4');
    t.match(set.stdout, new RegExp(`${ADDR.pod1.v4.replace(/\./g, '\\.')} \\. 198\\.18\\.0\\.81 timeout .* comment "a\\.example\\.com"`), 'programmed');
  });

  t.test('enforce → audit with traffic: no connection rejected; then nothing blocked', async (t) => {
    const line = await acrossReload(t, 'b.example.com', () => w.daemon.reload(config(body('audit'))));
    t.equal(line.msg, 'configuration reloaded');
    t.ok((await w.pod1.connect(NEVER_ANSWERED, 443)).ok, 'audit drops nothing');
    const chain = await w.nft('list', 'chain', 'inet', 'dnswall', 'egress4');
    t.notMatch(chain.stdout, /reject|drop/, 'no rejecting verdict left');
  });

  t.test('and back to enforce', async (t) => {
    await acrossReload(t, 'a.example.com', () => w.daemon.reload(config(body('enforce'))));
    t.notOk((await w.pod1.connect(NEVER_ANSWERED, 443, { timeoutMs: 1000 })).ok);
  });
}
