// The product's promises on the real kernel: allowed names open exactly their addresses, for
// exactly the asking pod, on exactly the allowed ports; everything else is blocked.
import t from 'tap';
import { requireSystem, createWorld, resolve, ADDR, type World } from './world';
import { promtoolProblems, samples, value } from '../metrics/exposition';

const ZONE = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 60, data: '198.18.0.10' },
    { name: 'api.example.com', type: 'AAAA', ttl: 60, data: '2001:db8:ff::10' },
    { name: 'www.example.com', type: 'CNAME', ttl: 300, data: 'edge.example.net' },
    { name: 'edge.example.net', type: 'CNAME', ttl: 300, data: 'node7.cdn.example.net' },
    { name: 'node7.cdn.example.net', type: 'A', ttl: 30, data: '198.18.0.20' },
    { name: 'node7.cdn.example.net', type: 'A', ttl: 30, data: '198.18.0.21' },
    { name: 'secure.example.com', type: 'A', ttl: 60, data: '198.18.0.30' },
    { name: 'tcp.example.com', type: 'A', ttl: 60, data: '198.18.0.40' },
    { name: 'long.example.com', type: 'A', ttl: 7200, data: '198.18.0.50' },
    { name: 'evil.example.org', type: 'A', ttl: 60, data: '198.18.6.6' },
  ],
};

const POLICIES = `
ttl: { min: 10, max: 3600, grace: 10 }
metrics: "127.0.0.1:9153"   # inside the node namespace
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32", "${ADDR.pod1.v6}/128"]
    allow:
      - api.example.com
      - www.example.com
      - tcp.example.com
      - long.example.com
      - name: secure.example.com
        ports: ["tcp/443"]
  - name: batch
    sources: ["${ADDR.pod2.v4}/32", "${ADDR.pod2.v6}/128"]
    allow: ["tcp.example.com"]
`;

if (requireSystem(t)) {
  let w: World;
  const dns4 = ADDR.nodePod1.v4;
  const dns6 = ADDR.nodePod1.v6;
  t.before(async () => {
    w = await createWorld('dwse', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  t.test('1. an allowed name resolves and a connection to its address succeeds', async (t) => {
    const before = await w.pod1.connect('198.18.0.10', 443, { timeoutMs: 1000 });
    t.notOk(before.ok, 'blocked before the name is resolved');
    const r = await resolve(w.pod1, { server: dns4, name: 'api.example.com' });
    t.equal(r.rcode, 'NOERROR');
    t.same(
      r.answers.map((a) => a.data),
      ['198.18.0.10'],
    );
    const c = await w.pod1.connect('198.18.0.10', 443);
    t.ok(c.ok, `connected: ${JSON.stringify(c)}`);
    const els = (await w.list()).filter((e) => e.comment === 'api.example.com');
    t.same(
      els.map((e) => [e.set, e.source, e.destination]),
      [['allow4', ADDR.pod1.v4, '198.18.0.10']],
    );
  });

  t.test('2. a denied name gets the deny answer and nothing is programmed', async (t) => {
    w.zone.clearQueries();
    const r = await resolve(w.pod1, { server: dns4, name: 'evil.example.org' });
    t.equal(r.rcode, 'NXDOMAIN');
    t.equal(r.ede[0]?.code, 18, 'EDE 18 Prohibited');
    t.same(w.zone.queries, [], 'nothing forwarded');
    t.notOk((await w.list()).some((e) => e.comment === 'evil.example.org' || e.destination === '198.18.6.6'));
    const c = await w.pod1.connect('198.18.6.6', 443, { timeoutMs: 1000 });
    t.notOk(c.ok);
  });

  t.test('3. bypasses are blocked: a literal IP, another resolver on 53, port 853', async (t) => {
    const literal = await w.pod1.connect('198.18.9.9', 80, { timeoutMs: 1000 });
    t.notOk(literal.ok, 'literal IP never resolved');
    const other = await w.pod1.dns({ server: ADDR.net.v4, name: 'evil.example.org', timeoutMs: 1000 });
    t.notOk(other.ok, `another resolver over UDP: ${JSON.stringify(other)}`);
    const otherTcp = await w.pod1.dns({ server: ADDR.net.v4, name: 'evil.example.org', tcp: true, timeoutMs: 1000 });
    t.notOk(otherTcp.ok, 'another resolver over TCP');
    const dot = await w.pod1.connect('198.18.0.53', 853, { timeoutMs: 1000 });
    t.notOk(dot.ok, 'DoT to an address never resolved');
    const counter = await w.nft('list', 'counters', 'table', 'inet', 'dnswall');
    t.match(counter.stdout, /packets [1-9]/, 'the reject counter counts');
  });

  t.test('4. an address programmed for pod 1 stays blocked for pod 2', async (t) => {
    await resolve(w.pod1, { server: dns4, name: 'api.example.com' });
    t.ok((await w.pod1.connect('198.18.0.10', 443)).ok, 'pod1 may');
    const c = await w.pod2.connect('198.18.0.10', 443, { timeoutMs: 1000 });
    t.notOk(c.ok, 'pod2 may not');
  });

  t.test('5a. a CNAME chain programs the final addresses under the query name', async (t) => {
    const r = await resolve(w.pod1, { server: dns4, name: 'www.example.com' });
    t.same(
      r.answers
        .filter((a) => a.type === 'A')
        .map((a) => a.data)
        .sort(),
      ['198.18.0.20', '198.18.0.21'],
    );
    const els = (await w.list()).filter((e) => e.source === ADDR.pod1.v4 && e.destination.startsWith('198.18.0.2'));
    t.same(els.map((e) => e.destination).sort(), ['198.18.0.20', '198.18.0.21']);
    t.ok(
      els.every((e) => e.comment === 'www.example.com'),
      'comment is the query name',
    );
    t.ok((await w.pod1.connect('198.18.0.21', 80)).ok);
  });

  t.test('5b. AAAA over IPv6 programs the v6 sets', async (t) => {
    t.notOk((await w.pod1.connect('2001:db8:ff::10', 443, { timeoutMs: 1000 })).ok, 'blocked before');
    const r = await resolve(w.pod1, { server: dns6, name: 'api.example.com', type: 'AAAA' });
    t.same(
      r.answers.map((a) => a.data),
      ['2001:db8:ff::10'],
    );
    const els = (await w.list()).filter((e) => e.set === 'allow6');
    t.same(
      els.map((e) => [e.source, e.destination, e.comment]),
      [[ADDR.pod1.v6, '2001:db8:ff::10', 'api.example.com']],
    );
    t.ok((await w.pod1.connect('2001:db8:ff::10', 443)).ok, 'connected over IPv6');
    t.notOk((await w.pod2.connect('2001:db8:ff::10', 443, { timeoutMs: 1000 })).ok, 'not for pod2');
  });

  t.test('6. a rule with ports opens only that port', async (t) => {
    await resolve(w.pod1, { server: dns4, name: 'secure.example.com' });
    t.ok((await w.pod1.connect('198.18.0.30', 443)).ok, 'tcp/443 open');
    t.notOk((await w.pod1.connect('198.18.0.30', 80, { timeoutMs: 1000 })).ok, 'tcp/80 closed');
    t.notOk((await w.pod1.connect('198.18.0.30', 853, { timeoutMs: 1000 })).ok, 'tcp/853 closed');
    const udp = await w.pod1.udp('198.18.0.30', 443, 'x', { timeoutMs: 1000 });
    t.notOk(udp.ok, 'udp/443 closed');
    const els = (await w.list()).filter((e) => e.comment === 'secure.example.com');
    t.same(
      els.map((e) => [e.set, e.proto, e.port]),
      [['allow4p', 6, 443]],
    );
  });

  t.test('7. DNS over TCP programs the same way as UDP', async (t) => {
    const r = await resolve(w.pod2, { server: ADDR.nodePod2.v4, name: 'tcp.example.com', tcp: true });
    t.same(
      r.answers.map((a) => a.data),
      ['198.18.0.40'],
    );
    t.ok((await w.pod2.connect('198.18.0.40', 8080)).ok);
    const els = (await w.list()).filter((e) => e.comment === 'tcp.example.com');
    t.same(
      els.map((e) => e.source),
      [ADDR.pod2.v4],
    );
  });

  t.test('9. the TTL the client received is never longer than the element lives', async (t) => {
    const firstAsked = Date.now(); // long.example.com is first asked (and cached) in the loop below
    for (const name of ['api.example.com', 'long.example.com', 'www.example.com']) {
      const r = await resolve(w.pod1, { server: dns4, name });
      const els = (await w.list()).filter((e) => e.comment === name && e.source === ADDR.pod1.v4);
      t.ok(els.length > 0, `${name} programmed`);
      for (const a of r.answers.filter((x) => x.type === 'A')) {
        const e = els.find((x) => x.destination === a.data)!;
        t.ok(a.ttl <= 3600, `${name}: client TTL ${a.ttl} ≤ ttl.max`);
        t.ok((e.expiresInMs ?? 0) >= a.ttl * 1000, `${name}: element lives ${e.expiresInMs} ms ≥ client TTL ${a.ttl} s`);
      }
    }
    // Asked again, the answer may come from the answer cache, which counts its TTL down by the
    // whole seconds it has held it: 3600 at most, and no lower than the seconds since first asked.
    const long = await resolve(w.pod1, { server: dns4, name: 'long.example.com' });
    const held = Math.ceil((Date.now() - firstAsked) / 1000);
    const ttl = long.answers[0].ttl;
    t.ok(ttl <= 3600 && ttl >= 3600 - held, `TTL 7200 capped at ttl.max 3600 for the client: ${ttl} s, ${held} s after first asked`);
    const e = (await w.list()).find((x) => x.comment === 'long.example.com' && x.source === ADDR.pod1.v4);
    const lives = e?.expiresInMs ?? 0;
    t.ok(lives >= ttl * 1000 && lives <= (3600 + 10) * 1000, `element capped too: lives ${lives} ms, between the client TTL ${ttl} s and ttl.max + grace`);
  });

  t.test('metrics: decisions, commits and the hold time, scraped in the node namespace', async (t) => {
    const r = await w.topo.exec(w.topo.ns.node, ['curl', '-sS', '--max-time', '3', 'http://127.0.0.1:9153/metrics']);
    t.equal(r.code, 0, r.stderr);
    t.equal(promtoolProblems(r.stdout), null, "promtool check metrics: the daemon's whole exposition parses and lints clean");
    const s = samples(r.stdout);
    const sum = (name: string, labels: Record<string, string> = {}) =>
      s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)).reduce((a, x) => a + x.value, 0);
    t.ok(sum('dnswall_policy_decisions_total', { verdict: 'deny' }) >= 1, 'denials counted');
    t.ok(sum('dnswall_cache_inserts_total') >= 1, 'the answer cache is counted');
    t.ok((value(s, 'dnswall_cache_entries') ?? 0) >= 1);
    const committed = value(s, 'dnswall_nftset_answers_total', { outcome: 'committed' }) ?? 0;
    t.ok(committed >= 8, `${committed} answers committed`);
    const holds = value(s, 'dnswall_nftset_hold_duration_seconds_count') ?? 0;
    const within1s = value(s, 'dnswall_nftset_hold_duration_seconds_bucket', { le: '1.6384' }) ?? 0;
    t.equal(holds, committed, 'one hold observation per committed answer');
    t.equal(within1s, holds, 'every hold within the commit bound (commitTimeoutMs 1000: bucket le 1.6384)');
    t.ok((value(s, 'dnswall_nft_commit_duration_seconds_count') ?? 0) >= 1, 'kernel commits observed');
    t.ok(sum('dnswall_upstream_requests_total') >= 1, 'upstream tries per upstream');
    t.ok(sum('dnswall_dns_request_duration_seconds_count') >= committed, 'request durations observed');
    t.ok((value(s, 'process_resident_memory_bytes') ?? 0) > 0, 'standard process metrics');
    t.ok(
      s.some((x) => x.name === 'dnswall_build_info' && x.value === 1),
      'build info',
    );
  });
}
