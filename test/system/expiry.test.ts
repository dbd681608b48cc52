// 8. After an element expires a new connection is blocked, while an established one continues.
// The record's TTL is 5 s (not 1 s): the element must still be there when the test lists it and
// opens a connection, which on a loaded CI box can take more than a second or two.
import t from 'tap';
import { requireSystem, createWorld, resolve, ADDR, type World } from './world';

const ZONE = { records: [{ name: 'short.example.com', type: 'A', ttl: 5, data: '198.18.0.60' }] };
const POLICIES = `
ttl: { min: 1, max: 3600, grace: 1 }
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: [short.example.com]
`;

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwsx', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  t.test('expiry', async (t) => {
    const r = await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'short.example.com' });
    t.equal(r.answers[0].ttl, 5);
    const [el] = (await w.list()).filter((e) => e.comment === 'short.example.com');
    t.ok(el && el.timeoutMs === 6000, `element timeout = clamp(5, 1, 3600) + 1 s grace: ${JSON.stringify(el)}`);
    const held = await w.pod1.open('198.18.0.60', 443);
    t.ok(held.ok && held.handle !== undefined, 'connection opened while the element lives');
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await w.list()).some((e) => e.comment === 'short.example.com')) {
      await new Promise((res) => setTimeout(res, 250));
    }
    t.notOk(
      (await w.list()).some((e) => e.comment === 'short.example.com'),
      'element expired',
    );
    const fresh = await w.pod1.connect('198.18.0.60', 443, { timeoutMs: 1000 });
    t.notOk(fresh.ok, 'a new connection is blocked');
    if (held.ok && held.handle !== undefined) {
      const c = await w.pod1.check(held.handle);
      t.ok(c.ok, `the established connection continues: ${JSON.stringify(c)}`);
      await w.pod1.close(held.handle);
    }
  });
}
