// The real sandbox (root): four namespaces, the zone server and web servers in net, the agent
// in pod1 reaching them through the node's forwarding, and nothing left after destroy().
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { requireSandbox } from './need-root';
import { createTopology, Topology } from '../../lib/sandbox/topology';
import { Agent } from '../../lib/sandbox/agent';
import { startWebServer, startZoneServer } from '../../lib/sandbox/peers';

const PREFIX = 'dwtt';
const zone = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 30, data: '198.18.0.10' },
    { name: 'api.example.com', type: 'AAAA', ttl: 30, data: '2001:db8:ff::10' },
    { name: 'www.example.com', type: 'CNAME', ttl: 60, data: 'edge.example.net' },
    { name: 'edge.example.net', type: 'CNAME', ttl: 60, data: 'target.example.net' },
    { name: 'target.example.net', type: 'A', ttl: 20, data: '198.18.0.20' },
    { name: 'svc.example.com', type: 'HTTPS', ttl: 30, priority: 1, target: '.', alpn: ['h2'], ipv4hint: ['198.18.0.30'], ipv6hint: ['2001:db8:ff::30'] },
  ],
};

function netnsList(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

if (requireSandbox(t)) {
  let topo: Topology;
  let agent: Agent;

  t.before(async () => {
    const started = Date.now();
    topo = await createTopology({ prefix: PREFIX });
    t.comment(`topology ready in ${Date.now() - started} ms`);
    await Promise.all([startZoneServer(topo, { zone }), startWebServer(topo)]);
    agent = await Agent.start(topo, topo.ns.pod1);
  });
  t.teardown(async () => {
    await topo?.destroy();
  });

  t.test('four namespaces with the prefix and a per-run id', async (t) => {
    const names = Object.values(topo.ns);
    t.equal(new Set(names).size, 4);
    for (const n of names) t.match(n, new RegExp(`^${PREFIX}-[0-9a-z]+-(node|pod1|pod2|net)$`));
    const list = netnsList();
    for (const n of names) t.ok(list.includes(n), `${n} exists`);
    const r = await topo.exec(topo.ns.node, ['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']);
    t.same(r.stdout.trim().split('\n'), ['1', '1'], 'node forwards v4 and v6');
  });

  const dns = (name: string, type: string, server = '203.0.113.2', tcp = false) => agent.dns({ server, name, type, tcp, timeoutMs: 2000 });

  t.test('pod1 queries the zone server through the node', async (t) => {
    t.match(await dns('api.example.com', 'A'), { ok: true, rcode: 'NOERROR', answers: [{ name: 'api.example.com', type: 'A', ttl: 30, data: '198.18.0.10' }] });
    t.match(await dns('api.example.com', 'AAAA', '2001:db8:3::2'), { ok: true, answers: [{ type: 'AAAA', data: '2001:db8:ff::10' }] });
    const c = await dns('www.example.com', 'A', '203.0.113.2', true);
    if (!c.ok) throw new Error(c.error);
    t.same(
      c.answers.map((a) => [a.name, a.type, a.data]),
      [
        ['www.example.com', 'CNAME', 'edge.example.net'],
        ['edge.example.net', 'CNAME', 'target.example.net'],
        ['target.example.net', 'A', '198.18.0.20'],
      ],
      'CNAME chain over TCP',
    );
    t.match(await dns('svc.example.com', 'HTTPS', '2001:db8:3::2', true), {
      ok: true,
      answers: [{ type: 'HTTPS', data: { priority: 1, target: '.', alpn: ['h2'], ipv4hint: ['198.18.0.30'], ipv6hint: ['2001:db8:ff::30'] } }],
    });
    t.match(await dns('nope.example.com', 'A'), { ok: true, rcode: 'NXDOMAIN', answers: [] });
  });

  t.test('the zone server logs each query with the pod as source (routed, not NATed)', async (t) => {
    const agent2 = await Agent.start(topo, topo.ns.pod2);
    const zs = await startZoneServer(topo, { zone, listen: ['203.0.113.2:5300'] });
    await agent2.dns({ server: '203.0.113.2', port: 5300, name: 'api.example.com', type: 'A' });
    t.same(zs.queries, [{ q: 'api.example.com', type: 'A', transport: 'udp', src: '198.51.100.10' }]);
    await zs.setZone({ records: [{ name: 'api.example.com', type: 'A', data: '198.18.0.99' }] });
    t.match(await agent2.dns({ server: '203.0.113.2', port: 5300, name: 'api.example.com' }), { ok: true, answers: [{ data: '198.18.0.99' }] }, 'reloaded on SIGHUP');
    await Promise.all([zs.stop(), agent2.stop()]);
  });

  t.test('every internet address is a live web server, v4 and v6, TCP and UDP', async (t) => {
    t.match(await agent.connect('198.18.0.10', 443), { ok: true, banner: 'HELLO 198.18.0.10:443' });
    t.match(await agent.connect('2001:db8:ff::10', 443), { ok: true, banner: 'HELLO [2001:db8:ff::10]:443' });
    t.match(await agent.connect('198.19.255.1', 8080), { ok: true, banner: 'HELLO 198.19.255.1:8080' });
    t.match(await agent.udp('198.18.0.10', 443, 'quic?'), { ok: true, reply: 'quic?' }, 'UDP echo answers from the address asked');
    t.match(await agent.udp('2001:db8:ff::10', 853, 'v6'), { ok: true, reply: 'v6' });
    t.match(await agent.connect('198.18.0.10', 9), { ok: false, error: 'ECONNREFUSED' });
    const o = await agent.open('198.18.0.10', 80);
    if (!o.ok || o.handle === undefined) throw new Error('open failed');
    t.match(await agent.check(o.handle), { ok: true }, 'a held connection still passes');
    t.match(await agent.close(o.handle), { ok: true });
  });

  t.test('query then connect at once, 100 times', async (t) => {
    t.match(await agent.resolveConnect({ server: '203.0.113.2', name: 'api.example.com', type: 'AAAA', port: 443, count: 100 }), {
      ok: true,
      done: 100,
      dnsFail: 0,
      noAddress: 0,
      connectFail: 0,
    });
  });

  t.test('exec runs argv without a shell and has a timeout', async (t) => {
    const r = await topo.exec(topo.ns.pod1, ['echo', '$(id) ; rm -rf /']);
    t.equal(r.stdout, '$(id) ; rm -rf /\n');
    await t.rejects(topo.exec(topo.ns.pod1, ['sleep', '5'], { timeoutMs: 200 }), /timed out after 200 ms/);
    t.throws(() => topo.spawn('some-other-ns', ['true']), /not a namespace of this topology/);
  });

  t.test('destroy removes exactly our namespaces and processes, and is idempotent', async (t) => {
    const other = await createTopology({ prefix: PREFIX });
    const pid = (await agent.ping()).pid;
    await topo.destroy();
    await topo.destroy();
    const list = netnsList();
    for (const n of Object.values(topo.ns)) t.notOk(list.includes(n), `${n} removed`);
    for (const n of Object.values(other.ns)) t.ok(list.includes(n), `${n} of a parallel run untouched`);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    t.notOk(alive, 'the agent inside was killed');
    await other.destroy();
    t.notOk(netnsList().includes(`${PREFIX}-`), 'no namespace with the prefix is left');
  });
}
