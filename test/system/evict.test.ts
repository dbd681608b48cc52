// Eviction never cuts an established connection: with a per-source cap of 2, resolving a third
// name deletes the oldest element — a connection opened through it keeps working (the ruleset
// accepts ct state established before the set lookups), a new one to it is blocked, and one to
// the newest address works. The cap is logged with source, name and which cap.
import t from 'tap';
import { requireSystem, createWorld, resolve, ADDR, type World } from './world';

const NAMES = [1, 2, 3].map((i) => ({ name: `n${i}.example.com`, addr: `198.18.0.${70 + i}` }));
const ZONE = { records: NAMES.map((n) => ({ name: n.name, type: 'A', ttl: 300, data: n.addr })) };
const POLICIES = `
limits: { maxElementsPerSource: 2 }
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: ["*.example.com"]
`;

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwbx', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  t.test('eviction blocks new connections only', async (t) => {
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: NAMES[0].name });
    const held = await w.pod1.open(NAMES[0].addr, 443);
    t.ok(held.ok && held.handle !== undefined, `connection to ${NAMES[0].addr} opened: ${JSON.stringify(held)}`);
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: NAMES[1].name });
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: NAMES[2].name });
    const live = (await w.list())
      .filter((e) => e.source === ADDR.pod1.v4)
      .map((e) => e.destination)
      .sort();
    t.same(live, [NAMES[1].addr, NAMES[2].addr], 'the oldest element was deleted, the cap holds');
    if (held.ok && held.handle !== undefined) {
      const c = await w.pod1.check(held.handle);
      t.ok(c.ok, `the established connection continues: ${JSON.stringify(c)}`);
      await w.pod1.close(held.handle);
    }
    const again = await w.pod1.connect(NAMES[0].addr, 443, { timeoutMs: 1000 });
    t.notOk(again.ok, 'a new connection to the evicted address is blocked');
    const newest = await w.pod1.connect(NAMES[2].addr, 443, { timeoutMs: 2000 });
    t.ok(newest.ok, `a new connection to the newest address works: ${JSON.stringify(newest)}`);
    const line = w.daemon.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('element cap perSource reached'));
    t.match(line, { cap: 'perSource', limit: 2, source: ADDR.pod1.v4, name: NAMES[0].name }, 'logged with source, name and cap');
  });
}
