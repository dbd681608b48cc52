// The answer cache on the real kernel: two pods allowed the same name; pod1 asks twice (a
// question is stored on its second miss, cache.admission's default), then pod2's query is
// answered from the cache (the upstream saw only pod1's two), yet both pods get their elements
// and both can connect.
import t from 'tap';
import { requireSystem, createWorld, resolve, ADDR, type World } from './world';

const ZONE = {
  records: [{ name: 'shared.example.com', type: 'A', ttl: 120, data: '198.18.0.10' }],
};

const POLICIES = `
ttl: { min: 10, max: 3600, grace: 10 }
policies:
  - name: both
    sources: ["${ADDR.pod1.v4}/32", "${ADDR.pod2.v4}/32"]
    allow: [shared.example.com]
`;

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwc', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  t.test('a hit for a second pod programs that pod, and it can connect', async (t) => {
    const blocked = await w.pod2.connect('198.18.0.10', 443, { timeoutMs: 1000 });
    t.notOk(blocked.ok, 'pod2 blocked before it resolves');
    w.zone.clearQueries();
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'shared.example.com' });
    const r1 = await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'shared.example.com' });
    const r2 = await resolve(w.pod2, { server: ADDR.nodePod2.v4, name: 'shared.example.com' });
    t.same([r1.answers[0]?.data, r2.answers[0]?.data], ['198.18.0.10', '198.18.0.10']);
    t.ok(r2.answers[0].ttl <= r1.answers[0].ttl, `TTL ${r1.answers[0].ttl} then ${r2.answers[0].ttl}`);
    t.equal(w.zone.queries.filter((q) => q.q === 'shared.example.com').length, 2, "the upstream saw pod1's two queries, not pod2's");
    const els = (await w.list()).filter((e) => e.comment === 'shared.example.com');
    t.same(els.map((e) => e.source).sort(), [ADDR.pod1.v4, ADDR.pod2.v4].sort(), 'both pods have an element');
    const c2 = await w.pod2.connect('198.18.0.10', 443);
    t.ok(c2.ok, `pod2 connected: ${JSON.stringify(c2)}`);
    const c1 = await w.pod1.connect('198.18.0.10', 443);
    t.ok(c1.ok, `pod1 connected: ${JSON.stringify(c1)}`);
  });
}
