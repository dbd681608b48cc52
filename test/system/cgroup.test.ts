// Host senders by cgroup: the daemon and test processes share the "node" namespace;
// each test process runs in its own test cgroup under the v2 mount. Managed cgroups resolve and
// connect only what their policy allows; another managed cgroup cannot use it; a descendant is
// covered; an unmanaged cgroup is untouched; denials are answered and never forwarded; DNS over
// TCP; a re-created cgroup is managed at once; restart keeps the elements; reload revokes; and
// 100 fresh names each connect at once.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runFile } from '../../lib/sandbox/run';
import { DNSWALL_BIN } from '../../lib/sandbox/daemon-peer';
import { requireCgroups, createCgroupWorld, cgroupConfig, HOST_DNS, type CgroupWorld } from './cgroup-world';

const N = 100;
const ZONE = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 300, data: '198.18.0.10' },
    { name: 'other.example.com', type: 'A', ttl: 300, data: '198.18.0.11' },
    { name: 'deep.example.com', type: 'A', ttl: 300, data: '198.18.0.12' },
    { name: 'evil.example.org', type: 'A', ttl: 300, data: '198.18.6.6' },
    ...Array.from({ length: N }, (_, i) => ({ name: `n${i}.fresh.example.com`, type: 'A', ttl: 60, data: `198.18.${20 + (i >> 8)}.${(i & 255) + 1}` })),
  ],
};

function policies(base: string, opts: { apiAllowed?: boolean } = {}): string {
  return `
policies:
  - name: svc-a
    sources: ["cgroup:${base}/a"]
    allow: [${opts.apiAllowed === false ? '' : 'api.example.com, '}"*.fresh.example.com"]
    allowCIDRs: ["198.18.9.0/24"]
  - name: svc-a-deep
    sources: ["cgroup:${base}/a/deep"]
    allow: [deep.example.com]
  - name: svc-b
    sources: ["cgroup:${base}/b"]
    allow: [other.example.com]
`;
}

const dns = (name: string, extra: Record<string, unknown> = {}) => ({ server: HOST_DNS, name, timeoutMs: 3000, ...extra });

if (requireCgroups(t)) {
  let w: CgroupWorld;
  t.before(async () => {
    // The config needs the base path before the world exists: create it with a placeholder, then restart.
    w = await createCgroupWorld('dwcg', ZONE, 'policies: []\n');
    await w.daemon.stop();
    await w.startDaemon(policies(w.base));
  });
  t.teardown(() => w?.destroy());

  t.test('managed cgroup: allowed name resolves and connects; the rest is rejected', async (t) => {
    const a = await w.agent('a');
    const r = await a.dns(dns('api.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR', `answered: ${JSON.stringify(r)}`);
    t.ok((await a.connect('198.18.0.10', 443)).ok, 'connects to the answer');
    const other = await a.connect('198.18.0.11', 443);
    t.notOk(other.ok, `an address never answered for it is rejected: ${JSON.stringify(other)}`);
    t.ok((await a.connect('198.18.9.7', 80)).ok, 'allowCIDRs: a static destination');
    const els = (await w.list()).filter((e) => e.comment === 'api.example.com');
    t.equal(els.length, 1);
    t.equal(els[0]?.source, `${w.base}/a`, 'list shows the cgroup path');
    t.equal(els[0]?.set, 'cgroup4');
  });

  t.test('the same destination from another managed cgroup is rejected', async (t) => {
    const b = await w.agent('b');
    t.notOk((await b.connect('198.18.0.10', 443)).ok, 'not programmed for b');
    const r = await b.dns(dns('other.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR');
    t.ok((await b.connect('198.18.0.11', 443)).ok, 'b reaches its own answer');
    await b.stop();
  });

  t.test('a descendant cgroup is covered; a configured descendant gets the union', async (t) => {
    const child = await w.agent('a/child/x');
    const r = await child.dns(dns('api.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR');
    t.ok((await child.connect('198.18.0.10', 443)).ok, 'a process below a is a');
    const deep = await w.agent('a/deep');
    t.ok((await deep.dns(dns('deep.example.com'))).ok);
    t.ok((await deep.connect('198.18.0.12', 443)).ok, 'its own policy');
    const api = await deep.dns(dns('api.example.com'));
    t.ok(api.ok && api.rcode === 'NOERROR', 'and the policy of its ancestor a');
    t.ok((await deep.connect('198.18.0.10', 443)).ok);
    const els = (await w.list()).filter((e) => e.comment === 'deep.example.com');
    t.equal(els[0]?.source, `${w.base}/a/deep`, 'keyed by the deepest configured ancestor');
  });

  t.test('an unmanaged cgroup is untouched', async (t) => {
    const u = await w.agent('unmanaged');
    const r = await u.dns(dns('evil.example.org'));
    t.ok(r.ok && r.rcode === 'NOERROR' && r.answers.length === 1, 'answered unfiltered');
    t.ok((await u.connect('198.18.6.6', 443)).ok, 'connects anywhere');
  });

  t.test('a denied name: NXDOMAIN with EDE 18, nothing forwarded', async (t) => {
    const a = await w.agent('a');
    w.zone.clearQueries();
    const r = await a.dns(dns('evil.example.org'));
    t.ok(r.ok && r.rcode === 'NXDOMAIN', JSON.stringify(r));
    t.ok(r.ok && r.ede.some((e) => e.code === 18), 'EDE 18 Prohibited');
    t.equal(w.zone.queries.filter((q) => JSON.stringify(q).includes('evil.example.org')).length, 0, 'never forwarded');
    t.notOk((await a.connect('198.18.6.6', 443)).ok, 'and not reachable');
  });

  t.test('DNS over TCP', async (t) => {
    const b = await w.agent('b');
    const r = await b.dns(dns('other.example.com', { tcp: true }));
    t.ok(r.ok && r.rcode === 'NOERROR', JSON.stringify(r));
    t.ok((await b.connect('198.18.0.11', 443)).ok);
    await b.stop();
  });

  t.test('a cgroup re-created after start (new id) is managed at once', async (t) => {
    const old = w.id(`${w.base}/b`);
    await w.rmdir('b'); // its agents have stopped
    t.notOk(fs.existsSync(w.dir(`${w.base}/b`)), 'b removed');
    const fresh = await w.agent('b');
    t.not(w.id(`${w.base}/b`), old, 'b again, with a new id');
    // Managed before its first answer: its first query makes the new id managed (if inotify has
    // not already), so right after the answer an address never answered for it is rejected.
    const r = await fresh.dns(dns('other.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR', JSON.stringify(r));
    t.notOk((await fresh.connect('198.18.0.10', 443)).ok, 'managed: an address not answered for the new b is rejected');
    t.ok((await fresh.connect('198.18.0.11', 443)).ok, 'its answer works at once');
    t.ok(
      (await w.list()).some((e) => e.comment === 'other.example.com' && e.source === `${w.base}/b`),
      'elements keyed by the new id, listed by path',
    );
    await fresh.stop();
  });

  t.test(`${N} fresh names, query then connect at once: zero drops`, async (t) => {
    const a = await w.agent('a');
    let dnsFail = 0,
      connectFail = 0,
      done = 0;
    const errors: string[] = [];
    const started = Date.now();
    for (let i = 0; i < N && Date.now() - started < 120_000; i++) {
      const r = await a.resolveConnect({ server: HOST_DNS, dnsPort: 53, name: `n${i}.fresh.example.com`, type: 'A', port: 443, count: 1, connectTimeoutMs: 2000, timeoutMs: 3000 });
      if (!r.ok) {
        errors.push(r.error);
        dnsFail++;
        continue;
      }
      done += r.done;
      dnsFail += r.dnsFail + r.noAddress;
      connectFail += r.connectFail;
      errors.push(...r.errors);
    }
    t.equal(done, N, `${done} iterations in ${Date.now() - started} ms`);
    t.equal(dnsFail, 0, `every query answered ${errors.slice(0, 3).join('; ')}`);
    t.equal(connectFail, 0, `no first connection dropped ${errors.slice(0, 3).join('; ')}`);
  });

  t.test('a local sender that cannot be attributed gets SERVFAIL (counted, logged)', async (t) => {
    // fire and forget: the socket is closed before the daemon can look it up
    const code = `const s=require('dgram').createSocket('udp4');const q=require('dns-packet').encode({type:'query',id:7,flags:256,questions:[{name:'api.example.com',type:'A'}]});s.send(q,53,'${HOST_DNS}',()=>s.close())`;
    const deadline = Date.now() + 15_000;
    let seen = false;
    for (let i = 0; i < 20 && !seen && Date.now() < deadline; i++) {
      await runFile('nsenter', [`--net=/run/netns/${w.topo.ns.node}`, process.execPath, '-e', code], {
        env: { ...process.env, NODE_PATH: path.join(__dirname, '..', '..', '..', 'node_modules') },
      });
      await new Promise((r) => setTimeout(r, 200));
      seen = w.daemon.logs.some((l) => l.msg === 'sender cannot be attributed; SERVFAIL');
    }
    t.ok(seen, 'logged: sender cannot be attributed; SERVFAIL');
  });

  t.test('no cgroup v2 mount visible (ip netns exec remounts /sys): serve exits 1 and says why', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-cg-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, `listen: ["127.0.0.2:5399"]\nupstreams: ["203.0.113.2:53"]\n${policies(w.base)}`);
    const r = await runFile('ip', ['netns', 'exec', w.topo.ns.pod2, process.execPath, DNSWALL_BIN, 'serve', '-c', file], { timeoutMs: 30_000 });
    t.equal(r.code, 1, r.stderr);
    t.match(r.stderr, /no cgroup v2 mount is visible/);
  });

  t.test('restart keeps the elements; reload revokes', async (t) => {
    const a = await w.agent('a');
    t.ok((await a.dns(dns('api.example.com'))).ok);
    await w.daemon.stop();
    t.ok((await a.connect('198.18.0.10', 443)).ok, 'works while no daemon runs');
    await w.startDaemon(policies(w.base));
    t.ok(
      (await w.list()).some((e) => e.comment === 'api.example.com' && e.source === `${w.base}/a`),
      'still listed after the restart',
    );
    t.ok((await a.connect('198.18.0.10', 443)).ok, 'still connects');
    const line = await w.daemon.reload(cgroupConfig(policies(w.base, { apiAllowed: false })));
    t.equal(line.msg, 'configuration reloaded', JSON.stringify(line));
    t.ok((line.revoked as number) >= 1, `revoked ${line.revoked}`);
    t.notOk(
      (await w.list()).some((e) => e.comment === 'api.example.com'),
      'element gone',
    );
    t.notOk((await a.connect('198.18.0.10', 443)).ok, 'new connections rejected');
    const f = await w.cli('forget', '--cgroup', `${w.base}/a`, '--table', 'dnswall');
    t.equal(f.code, 0, f.stderr);
    t.match(f.stdout, /^forgot \d+ elements? of /);
    t.notOk(
      (await w.list()).some((e) => e.source === `${w.base}/a`),
      'forget --cgroup deleted every element of a',
    );
  });
}
