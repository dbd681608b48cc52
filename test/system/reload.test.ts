// Reload (docs/architecture.md "Lifecycle"): an invalid file is rejected and the old policy kept; a valid one is
// swapped and every element the new policy no longer allows is deleted before the reload is
// reported done, so a new connection to a revoked address is blocked at once.
import t from 'tap';
import { requireSystem, createWorld, resolve, config, ADDR, type World } from './world';

const ZONE = {
  records: [
    { name: 'a.example.com', type: 'A', ttl: 300, data: '198.18.0.71' },
    { name: 'b.example.com', type: 'A', ttl: 300, data: '198.18.0.72' },
    { name: 'c.example.com', type: 'A', ttl: 300, data: '198.18.0.73' },
  ],
};
const policies = (allow: string) => `
ttl: { min: 10, max: 3600, grace: 10 }
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: ${allow}
`;
const ALL = policies('[a.example.com, b.example.com, c.example.com]');
// b dropped; c narrowed from all ports to tcp/443.
const NARROW = policies('[a.example.com, { name: c.example.com, ports: ["tcp/443"] }]');

if (requireSystem(t)) {
  let w: World;
  const dns = ADDR.nodePod1.v4;
  t.before(async () => {
    w = await createWorld('dwlh', ZONE, ALL);
  });
  t.teardown(() => w?.destroy());

  t.test('an invalid file is rejected with its errors; the old policy stays', async (t) => {
    const line = await w.daemon.reload(config(ALL).replace('ttl: { min: 10', 'ttl: { min: -5'));
    t.match(line.msg, /^reload rejected/, 'log line says rejected');
    t.ok(Array.isArray(line.errors) && (line.errors as string[]).length > 0, `errors logged: ${JSON.stringify(line.errors)}`);
    const r = await resolve(w.pod1, { server: dns, name: 'b.example.com' });
    t.equal(r.rcode, 'NOERROR', 'the old allowed name still resolves');
    t.ok((await w.pod1.connect('198.18.0.72', 443)).ok);
  });

  t.test('a valid file is swapped and what it no longer allows is revoked at once', async (t) => {
    for (const n of ['a', 'b', 'c']) await resolve(w.pod1, { server: dns, name: `${n}.example.com` });
    for (const ip of ['198.18.0.71', '198.18.0.72', '198.18.0.73']) t.ok((await w.pod1.connect(ip, 443)).ok, `${ip} open before`);
    const held = await w.pod1.open('198.18.0.72', 443);
    // Another process adds an element for b (as an operator's nft would): the daemon's book
    // hears of it through its change notifications, so the revocation from the book takes it too.
    const added = await w.nft('add', 'element', 'inet', 'dnswall', 'allow4', `{ ${ADDR.pod1.v4} . 198.18.0.74 timeout 10m comment "b.example.com" }`);
    t.equal(added.code, 0, added.stderr);

    const line = await w.daemon.reload(config(NARROW));
    t.equal(line.msg, 'configuration reloaded');
    t.equal(line.from, 'book', `revoked from the programmer's book, no kernel read: ${JSON.stringify(line)}`);
    t.equal(line.revoked, 3, `b's element, the one added from outside, and c's all-ports element revoked: ${JSON.stringify(line)}`);
    t.ok(typeof line.reloadMs === 'number', `reload took ${line.reloadMs} ms (revocation ${line.ms} ms over ${line.checked} elements)`);
    t.comment(`reload ${line.reloadMs} ms, revocation ${line.ms} ms, ${line.checked} elements checked`);

    // Straight after the log line: no wait.
    const blocked = await w.pod1.connect('198.18.0.72', 443, { timeoutMs: 1000 });
    t.notOk(blocked.ok, 'a new connection to b is blocked at once');
    t.ok((await w.pod1.connect('198.18.0.71', 443)).ok, 'a still works');
    const els = await w.list();
    t.notOk(
      els.some((e) => e.comment === 'b.example.com'),
      'b no longer listed (the element added from outside neither)',
    );
    t.ok(
      els.some((e) => e.comment === 'a.example.com'),
      'a still listed',
    );
    t.notOk(
      els.some((e) => e.comment === 'c.example.com' && e.set === 'allow4'),
      "c's all-ports element gone",
    );
    t.equal(((await w.pod1.dns({ server: dns, name: 'b.example.com', timeoutMs: 2000 })) as { rcode?: string }).rcode, 'NXDOMAIN', 'b is denied now');

    await resolve(w.pod1, { server: dns, name: 'c.example.com' });
    t.ok((await w.pod1.connect('198.18.0.73', 443)).ok, 'c on tcp/443 after resolving again');
    t.notOk((await w.pod1.connect('198.18.0.73', 80, { timeoutMs: 1000 })).ok, 'c on tcp/80 closed');
    if (held.ok && held.handle !== undefined) {
      const c = await w.pod1.check(held.handle);
      t.ok(c.ok, 'an established connection to b continues (conntrack, as with expiry)');
      await w.pod1.close(held.handle);
    }
  });
}
