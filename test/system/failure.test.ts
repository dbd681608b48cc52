// 11. When programming fails (the set deleted underneath), the client gets SERVFAIL and no
// address; once the ruleset is back (serve's reload reinstalls it), answers flow again.
import t from 'tap';
import { requireSystem, createWorld, resolve, config, ADDR, type World } from './world';

const ZONE = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 60, data: '198.18.0.10' },
    { name: 'other.example.com', type: 'A', ttl: 60, data: '198.18.0.11' },
  ],
};
const POLICIES = `
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: [api.example.com, other.example.com]
`;

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwsk', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  t.test('programming failure → SERVFAIL', async (t) => {
    t.equal((await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'api.example.com' })).rcode, 'NOERROR', 'works before');
    // The allow4 set is referenced by egress4's rules: empty the chain, then delete the set.
    const flush = await w.nft('flush', 'chain', 'inet', 'dnswall', 'egress4');
    t.equal(flush.code, 0, flush.stderr);
    const del = await w.nft('delete', 'set', 'inet', 'dnswall', 'allow4');
    t.equal(del.code, 0, del.stderr);
    const r = await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'other.example.com' });
    t.equal(r.rcode, 'SERVFAIL', 'fail closed');
    t.same(r.answers, [], 'no address released');
    // the log line is written after the reply went out: give it a moment to arrive
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && !w.daemon.logs.some((l) => l.msg === 'programming failed; SERVFAIL')) await new Promise((r) => setTimeout(r, 50));
    t.ok(
      w.daemon.logs.some((l) => l.msg === 'programming failed; SERVFAIL'),
      'the daemon says why',
    );
  });

  t.test('a reload reinstalls the ruleset and answers flow again', async (t) => {
    const line = await w.daemon.reload(config(POLICIES));
    t.equal(line.msg, 'configuration reloaded');
    const r = await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'other.example.com' });
    t.equal(r.rcode, 'NOERROR');
    t.ok((await w.pod1.connect('198.18.0.11', 443)).ok);
  });
}
