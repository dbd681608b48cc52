// The answer guard on the real kernel: an allowed wildcard whose upstream answers with the
// metadata address, loopback, an IPv4-mapped link-local AAAA, a mix, or a denyCIDRs address.
// Nothing guarded is in the sets (one GETSETELEM per key, as the bench's probe does); the client
// gets SERVFAIL + EDE 15 or only the public address; the counters move; a policy's allowCIDRs
// lets the address through for its own sources. No test traffic goes to a guarded address:
// programming is read from the sets; connections go only to the namespaces' public address.
import t from 'tap';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { requireSystem, createWorld, resolve, config, ADDR, type World } from './world';
import { encodeKey, type AllowSet } from '../../lib/nft/keys';

const ZONE = {
  records: [
    { name: '*.meta.example.com', type: 'A', ttl: 60, data: '169.254.169.254' },
    { name: '*.loop.example.com', type: 'A', ttl: 60, data: '127.0.0.1' },
    { name: '*.mapped.example.com', type: 'AAAA', ttl: 60, data: '::ffff:169.254.169.254' },
    { name: '*.mix.example.com', type: 'A', ttl: 60, data: '169.254.169.254' },
    { name: '*.mix.example.com', type: 'A', ttl: 60, data: '198.18.0.10' },
    { name: '*.internal.example.com', type: 'A', ttl: 60, data: '198.18.5.5' },
  ],
};

const POLICIES = `
metrics: "127.0.0.1:9153"   # inside the node namespace
answers:
  denyCIDRs: ["198.18.5.0/24"]
policies:
  - name: web
    sources: ["${ADDR.pod1.v4}/32", "${ADDR.pod1.v6}/128"]
    allow: ["**.example.com"]
  - name: metadata
    sources: ["${ADDR.pod2.v4}/32"]
    allow: ["**.example.com"]
    allowCIDRs: ["169.254.169.254/32"]
`;

const PROBE = path.join(__dirname, '..', '..', 'bench', 'probe-main.js');

function bytes(ip: string): Buffer {
  return Buffer.from(ipaddr.parse(ip).toByteArray());
}

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwg', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  /** Whether the set holds (source . destination): one NFT_MSG_GETSETELEM in the node namespace. */
  async function inSet(set: AllowSet, source: string, destination: string): Promise<boolean> {
    const key = encodeKey({ set, source: bytes(source), destination: bytes(destination) }).toString('hex');
    const r = await w.topo.exec(w.topo.ns.node, [process.execPath, PROBE, 'dnswall', set, key]);
    if (r.code !== 0) throw new Error(`probe failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { found: number }).found === 1;
  }

  async function metrics(): Promise<string> {
    const r = await w.topo.exec(w.topo.ns.node, ['curl', '-sS', '--max-time', '3', 'http://127.0.0.1:9153/metrics']);
    if (r.code !== 0) throw new Error(`metrics: ${r.stderr}`);
    return r.stdout;
  }

  const counter = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);

  t.test('only guarded addresses: SERVFAIL + EDE 15, nothing in the set', async (t) => {
    const before = await metrics();
    for (const [name, type, server, set, source, addr] of [
      ['x1.meta.example.com', 'A', ADDR.nodePod1.v4, 'allow4', ADDR.pod1.v4, '169.254.169.254'],
      ['x2.loop.example.com', 'A', ADDR.nodePod1.v4, 'allow4', ADDR.pod1.v4, '127.0.0.1'],
      ['x3.mapped.example.com', 'AAAA', ADDR.nodePod1.v6, 'allow6', ADDR.pod1.v6, '::ffff:169.254.169.254'],
      ['x4.internal.example.com', 'A', ADDR.nodePod1.v4, 'allow4', ADDR.pod1.v4, '198.18.5.5'],
    ] as const) {
      const r = await resolve(w.pod1, { server, name, type });
      t.equal(r.rcode, 'SERVFAIL', name);
      t.same(r.answers, [], `${name}: no records reach the client`);
      t.equal(r.ede.length, 1, `${name}: one EDE`);
      t.equal(r.ede[0]?.code, 15, `${name}: EDE 15 Blocked`);
      t.match(r.ede[0]?.text, /^dnswall answer guard: /, `${name}: the text names the guard`);
      t.notOk(await inSet(set, source, addr), `${name}: ${source} . ${addr} not in ${set}`);
    }
    const after = await metrics();
    const re = /dnswall_guard_blocked_answers_total\{policy="web"\} (\d+)/;
    t.equal(counter(after, re) - counter(before, re), 4, 'four blocked answers counted for policy web');
    const st = /dnswall_guard_addresses_total\{policy="web",outcome="stripped"\} (\d+)/;
    t.equal(counter(after, st) - counter(before, st), 4, 'four stripped addresses counted');
    const logged = w.daemon.logs.filter((l) => String(l.msg).startsWith('answer guard blocked'));
    t.ok(
      logged.some((l) => l.source === ADDR.pod1.v4 && l.name === 'x1.meta.example.com' && JSON.stringify(l.addresses).includes('169.254.169.254')),
      'logged with source, name and address',
    );
  });

  t.test('a mix: only the public address is answered and programmed, and it connects', async (t) => {
    const r = await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'y.mix.example.com' });
    t.equal(r.rcode, 'NOERROR');
    t.same(
      r.answers.map((a) => a.data),
      ['198.18.0.10'],
      'the link-local address is not in the reply',
    );
    t.ok(await inSet('allow4', ADDR.pod1.v4, '198.18.0.10'), 'the public address is programmed (the probe finds what is there)');
    t.notOk(await inSet('allow4', ADDR.pod1.v4, '169.254.169.254'), 'the guarded one is not');
    const c = await w.pod1.connect('198.18.0.10', 443);
    t.ok(c.ok, `connected to the public address: ${JSON.stringify(c)}`);
    const listed = await w.list();
    t.notOk(
      listed.some((e) => ['169.254.169.254', '127.0.0.1', '198.18.5.5'].includes(e.destination) || e.destination.startsWith('::ffff:')),
      'no guarded destination in `dnswall list`',
    );
  });

  t.test('allowCIDRs: the metadata policy gets the address; its static pair allows it, no element', async (t) => {
    const before = await metrics();
    const r = await resolve(w.pod2, { server: ADDR.nodePod2.v4, name: 'z.meta.example.com' });
    t.equal(r.rcode, 'NOERROR');
    t.same(
      r.answers.map((a) => a.data),
      ['169.254.169.254'],
    );
    t.notOk(await inSet('allow4', ADDR.pod2.v4, '169.254.169.254'), 'no allow4 element: not needed');
    const st = await w.nft('get', 'element', 'inet', 'dnswall', 'static4', `{ ${ADDR.pod2.v4} . 169.254.169.254 }`);
    t.equal(st.code, 0, `static4 holds ${ADDR.pod2.v4} . 169.254.169.254: ${st.stderr}`);
    const other = await w.nft('get', 'element', 'inet', 'dnswall', 'static4', `{ ${ADDR.pod1.v4} . 169.254.169.254 }`);
    t.not(other.code, 0, 'but not for the other pod');
    // The same name from the other pod now comes from the shared cache: still stripped for it.
    const p1 = await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'z.meta.example.com' });
    t.equal(p1.rcode, 'SERVFAIL');
    t.notOk(await inSet('allow4', ADDR.pod1.v4, '169.254.169.254'));
    // The exception is the policy's CIDRs only: loopback stays guarded for pod2.
    const loop = await resolve(w.pod2, { server: ADDR.nodePod2.v4, name: 'z.loop.example.com' });
    t.equal(loop.rcode, 'SERVFAIL');
    t.notOk(await inSet('allow4', ADDR.pod2.v4, '127.0.0.1'));
    const after = await metrics();
    const re = /dnswall_guard_addresses_total\{policy="metadata",outcome="excepted"\} (\d+)/;
    t.equal(counter(after, re) - counter(before, re), 1, 'the exception is counted');
  });

  t.test('a reload that adds a denyCIDRs range revokes live elements in it and guards new answers', async (t) => {
    t.ok(await inSet('allow4', ADDR.pod1.v4, '198.18.0.10'), 'programmed by the mix test');
    const line = await w.daemon.reload(config(POLICIES.replace('denyCIDRs: ["198.18.5.0/24"]', 'denyCIDRs: ["198.18.5.0/24", "198.18.0.10/32"]')));
    t.equal(line.msg, 'configuration reloaded');
    t.ok(Number(line.revoked) >= 1, `revoked ${line.revoked}`);
    t.notOk(await inSet('allow4', ADDR.pod1.v4, '198.18.0.10'), 'the element in the new range is gone at once');
    const r = await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'y2.mix.example.com' });
    t.equal(r.rcode, 'SERVFAIL', 'both addresses of the mix are guarded now');
    t.same(
      r.ede.map((e) => e.code),
      [15],
    );
  });
}
