// The cache in the real forwarder on loopback (listeners, chain, Upstreams, zone server; fake
// programmer): a repeated question is answered without the upstream, with the remaining TTL,
// and still programs the asking source's elements.
import t from 'tap';
import dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { startForwarder, type Forwarder } from '../server/harness';

const POLICY = `
ttl: { min: 10, max: 3600, grace: 5 }
limits: { upstreamTimeoutMs: 300, commitTimeoutMs: 300 }
policies:
  - name: loop
    sources: ["127.0.0.0/24"]
    allow: [api.example.com, www.example.com, long.example.com]
`;

/** One UDP query from `source` (any 127/8 address is local), the decoded reply. */
async function ask(f: Forwarder, name: string, source = '127.0.0.1', id = 4242): Promise<dnsPacket.Packet & { wire: Buffer }> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, source, () => r()));
    const got = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply for ${name} from ${source} in 3 s`)), 3000);
      sock.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    sock.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), f.port, '127.0.0.1');
    const wire = await got;
    return Object.assign(dnsPacket.decode(wire), { wire });
  } finally {
    sock.close();
  }
}
const upstreamCount = (f: Forwarder, name: string) => f.upstreamQueries.filter((q) => q.q.toLowerCase() === name).length;
const ttlOf = (p: dnsPacket.Packet) => (p.answers![0] as { ttl: number }).ttl;

t.test('cache on loopback', async (t) => {
  // These prove what a hit does: every reply is stored on its first miss (admission is proven below).
  const f = await startForwarder(POLICY + 'cache: { admission: first-miss }\n');
  t.teardown(() => f.close());

  t.test('the second query is served from the cache and still programmed', async (t) => {
    f.programmer.calls.length = 0;
    const a = await ask(f, 'api.example.com', '127.0.0.1', 1);
    const b = await ask(f, 'api.example.com', '127.0.0.1', 2);
    t.equal(upstreamCount(f, 'api.example.com'), 1, 'the zone server saw one query');
    t.equal(b.id, 2);
    t.same(
      b.answers!.map((x) => (x as { data: string }).data),
      ['198.18.0.10'],
    );
    t.equal(ttlOf(a), 30);
    t.equal(f.programmer.calls.length, 2, 'a hit goes through nftset too');
    t.same(
      f.programmer.calls.map((c) => [...c[0].destination].join('.')),
      ['198.18.0.10', '198.18.0.10'],
    );
  });

  t.test('after 2+ s the client TTL and the element timeout are the remaining TTL', async (t) => {
    f.programmer.calls.length = 0;
    await new Promise((r) => setTimeout(r, 2200));
    const c = await ask(f, 'api.example.com');
    const ttl = ttlOf(c);
    t.ok(ttl <= 28 && ttl >= 25, `client TTL ${ttl} (stored 30, 2.2+ s ago)`);
    t.equal(upstreamCount(f, 'api.example.com'), 1, 'still one upstream query');
    t.equal(f.programmer.calls[0][0].timeoutMs, (ttl + 5) * 1000, 'element: remaining TTL + grace');
  });

  t.test('a hit for another source programs THAT source', async (t) => {
    f.programmer.calls.length = 0;
    const r = await ask(f, 'api.example.com', '127.0.0.2');
    t.equal((r.flags ?? -1) & 0x0f, 0, 'NOERROR');
    t.equal(upstreamCount(f, 'api.example.com'), 1);
    const els = f.programmer.elements;
    t.equal(els.length, 1);
    t.same([...els[0].source], [127, 0, 0, 2], 'the asking source');
    t.same([...els[0].destination], [198, 18, 0, 10]);
  });

  t.test("0x20: a hit carries the asking client's name case", async (t) => {
    const r = await ask(f, 'aPi.eXaMpLe.CoM', '127.0.0.3', 77);
    t.equal(r.questions![0].name, 'aPi.eXaMpLe.CoM');
    t.equal(r.id, 77);
    t.equal(upstreamCount(f, 'api.example.com'), 1);
  });

  t.test('a CNAME chain is served whole and programs the final addresses', async (t) => {
    f.programmer.calls.length = 0;
    await ask(f, 'www.example.com');
    const r = await ask(f, 'www.example.com', '127.0.0.4');
    t.equal(upstreamCount(f, 'www.example.com'), 1);
    t.same(
      r.answers!.map((a) => a.type),
      ['CNAME', 'A', 'A'],
    );
    t.same(f.programmer.calls[1].map((e) => [...e.source].join('.') + ' ' + [...e.destination].join('.')).sort(), ['127.0.0.4 198.18.0.20', '127.0.0.4 198.18.0.21']);
  });

  t.test('an unmanaged source is relayed, not cached', async (t) => {
    await ask(f, 'long.example.com', '127.0.1.1');
    await ask(f, 'long.example.com', '127.0.1.1');
    t.equal(upstreamCount(f, 'long.example.com'), 2);
  });
});

t.test('cache.enabled false: no cache plugin, every query goes upstream', async (t) => {
  const f = await startForwarder(POLICY + 'cache: { enabled: false }\n');
  t.teardown(() => f.close());
  t.notOk(f.chain.plugins.some((p) => p.name === 'cache'));
  await ask(f, 'api.example.com');
  await ask(f, 'api.example.com');
  t.equal(upstreamCount(f, 'api.example.com'), 2);
});

t.test('default admission (second miss): a name asked once is not stored; the third ask is a hit', async (t) => {
  const f = await startForwarder(POLICY);
  t.teardown(() => f.close());
  const cache = f.chain.plugins.find((p) => p.name === 'cache') as unknown as { stats: { inserts: number; hits: number; notAdmitted: number } };
  await ask(f, 'api.example.com');
  t.same({ inserts: cache.stats.inserts, notAdmitted: cache.stats.notAdmitted }, { inserts: 0, notAdmitted: 1 }, 'first miss: remembered, not stored');
  await ask(f, 'api.example.com');
  t.equal(cache.stats.inserts, 1, 'second miss: stored');
  t.equal(upstreamCount(f, 'api.example.com'), 2);
  const before = f.programmer.calls.length;
  const third = await ask(f, 'api.example.com', '127.0.0.2');
  t.equal(upstreamCount(f, 'api.example.com'), 2, 'third ask: from the cache');
  t.equal(cache.stats.hits, 1);
  t.equal((third.flags ?? -1) & 0x0f, 0, 'NOERROR');
  t.ok(f.programmer.calls.length > before, 'the hit is programmed for its source, as every answer');
});
