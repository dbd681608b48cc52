// A book gone stale fails safe, end to end: an element deleted from outside the daemon (nft
// delete element, a flush of the set) is back in the kernel before the next answer for it
// reaches the pod — whether that answer comes from the upstream (the path that may release an
// answer at once when the book vouches for it, SetProgrammer.holdsAll) or from the cache (which
// waits for the check phase). The first packet to the address then gets through. Real daemon,
// real kernel, own namespaces.
import t, { type Test } from 'tap';
import { requireSystem, createWorld, resolve, ADDR, type World } from './world';
import { samples, value } from '../metrics/exposition';

const METRICS = '127.0.0.1:9153';
const ZONE = {
  records: [
    // TTL 0: never cached, so every answer for it comes from the upstream
    { name: 'fresh.example.com', type: 'A', ttl: 0, data: '198.18.0.71' },
    { name: 'cached.example.com', type: 'A', ttl: 120, data: '198.18.0.72' },
  ],
};
const POLICIES = `
metrics: "${METRICS}"
cache: { enabled: true }
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: ["*.example.com"]
`;

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwsb', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  const inSet = async (addr: string) => (await w.list()).some((e) => e.source === ADDR.pod1.v4 && e.destination === addr);
  const skipped = async () => {
    const r = await w.topo.exec(w.topo.ns.node, ['curl', '-sS', '--max-time', '3', `http://${METRICS}/metrics`]);
    return value(samples(r.stdout), 'dnswall_nft_skipped_total') ?? NaN;
  };
  const ask = async (name: string, addr: string) => {
    const r = await resolve(w.pod1, { server: ADDR.nodePod1.v4, name });
    if (r.answers[0]?.data !== addr) throw new Error(`${name}: ${JSON.stringify(r.answers)}`);
  };
  const deletions: [string, (addr: string) => Promise<unknown>][] = [
    ['nft delete element', (addr) => w.nft('delete', 'element', 'inet', 'dnswall', 'allow4', `{ ${ADDR.pod1.v4} . ${addr} }`)],
    ['nft flush set', () => w.nft('flush', 'set', 'inet', 'dnswall', 'allow4')],
  ];
  /** Each deletion from outside, then `name` asked again: its element is back before the `reply` arrives, and the first connection gets through. */
  const deleteThenAsk = async (t: Test, name: string, addr: string, reply: string) => {
    for (const [what, del] of deletions) {
      await del(addr);
      t.notOk(await inSet(addr), `${what}: gone from the set`);
      await ask(name, addr);
      t.ok(await inSet(addr), `${what}: back in the set when the ${reply} arrived`);
      const c = await w.pod1.connect(addr, 443, { timeoutMs: 2000 });
      t.ok(c.ok, `${what}: the first connection gets through: ${JSON.stringify(c)}`);
    }
  };

  t.test('an upstream answer the book vouched for: deleted from outside, sent again before the next answer', async (t) => {
    const addr = '198.18.0.71';
    await ask('fresh.example.com', addr);
    const before = await skipped();
    await ask('fresh.example.com', addr);
    t.ok((await skipped()) > before, 'the second upstream answer went without a kernel round trip');
    await deleteThenAsk(t, 'fresh.example.com', addr, 'answer');
  });

  t.test('a cache hit: deleted from outside, sent again before the hit is released', async (t) => {
    const addr = '198.18.0.72';
    for (let i = 0; i < 3; i++) await ask('cached.example.com', addr); // stored on the 2nd, hit on the 3rd
    await deleteThenAsk(t, 'cached.example.com', addr, 'hit');
  });
}
