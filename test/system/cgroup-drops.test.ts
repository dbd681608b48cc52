// Drops of host processes (cgroup sources), through the real kernel: the cgroup output chain logs
// the new connection it drops ("dnswall cgdrop"), the daemon finds the sender's socket by sock_diag
// and so its cgroup, and `dnswall drops --cgroup PATH` shows it with its reason; another cgroup's
// filter does not. enforce.action drop: the connecting socket lives on (SYN retries), so it is found.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireCgroups, createCgroupWorld, HOST_DNS, type CgroupWorld } from './cgroup-world';
import type { Drop } from '../../lib/drops/drops';

const ZONE = { records: [{ name: 'api.example.com', type: 'A', ttl: 1, data: '198.18.0.10' }] };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-cgdrops-'));
const CONTROL = path.join(dir, 'control.sock');

const body = (base: string) => `
enforce: { mode: enforce, action: drop }
ttl: { min: 1, max: 60, grace: 0 }
control: ${CONTROL}
drops: { logGroup: 7, perSecond: 50 }
policies:
  - name: svc-a
    sources: ["cgroup:${base}/a"]
    allow: [api.example.com]
  - name: svc-b
    sources: ["cgroup:${base}/b"]
    allow: [other.example.com]
`;

if (requireCgroups(t)) {
  let w: CgroupWorld;
  t.before(async () => {
    w = await createCgroupWorld('dwcgd', ZONE, 'policies: []\n');
    await w.daemon.stop();
    await w.startDaemon(body(w.base));
  });
  t.teardown(async () => {
    await w?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const drops = async (...args: string[]): Promise<Drop[]> => {
    const r = await w.cli('drops', '--control', CONTROL, '--json', ...args);
    if (r.code !== 0) throw new Error(`dnswall drops: ${r.stderr}`);
    return JSON.parse(r.stdout) as Drop[];
  };
  /** Polls (bounded) until a drop to `destination` is listed under `args`. */
  const waitFor = async (destination: string, ...args: string[]): Promise<Drop | undefined> => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const d = (await drops(...args)).find((x) => x.destination === destination);
      if (d) return d;
      await new Promise((r) => setTimeout(r, 250));
    }
    return undefined;
  };

  t.test('a literal IP from a managed cgroup: dropped, logged, attributed to the cgroup', async (t) => {
    const a = await w.agent('a/worker');
    const c = await a.connect('198.18.0.99', 443, { timeoutMs: 1500 });
    t.notOk(c.ok, `dropped: ${JSON.stringify(c)}`);
    const d = await waitFor('198.18.0.99', '--cgroup', `${w.base}/a`);
    t.ok(d, 'listed under its configured ancestor (descendants included)');
    t.equal(d?.cgroup, `${w.base}/a/worker`, "the sender's own cgroup");
    t.equal(d?.reason, 'never_answered');
    t.same(d?.policies, ['svc-a']);
    t.equal(d?.port, 443);
    t.notOk(
      (await drops('--cgroup', `${w.base}/b`)).some((x) => x.destination === '198.18.0.99'),
      'not under another cgroup',
    );
    await a.stop();
  });

  t.test('an answered name whose TTL ran out: "expired", from the cgroup\'s own answers', async (t) => {
    const a = await w.agent('a');
    const r = await a.dns({ server: HOST_DNS, name: 'api.example.com', timeoutMs: 3000 });
    t.ok(r.ok && r.rcode === 'NOERROR', `answered: ${JSON.stringify(r)}`);
    t.ok((await a.connect('198.18.0.10', 443)).ok, 'connects while the element lives');
    // ttl 1 + grace 0 (min 1): the element is gone after ~1 s
    const deadline = Date.now() + 8000;
    let blocked = false;
    while (!blocked && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      blocked = !(await a.connect('198.18.0.10', 443, { timeoutMs: 1500 })).ok;
    }
    t.ok(blocked, 'blocked once expired');
    const d = await waitFor('198.18.0.10', '--cgroup', `${w.base}/a`);
    t.equal(d?.reason, 'expired', JSON.stringify(d));
    t.match(d?.detail, /^answered api\.example\.com to this source, expired \d+ s ago$/);
    await a.stop();
  });

  t.test('--cgroup / lists every cgroup drop, each attributed', async (t) => {
    const all = await drops('--cgroup', '/');
    t.ok(all.length >= 2 && all.every((x) => x.cgroup?.startsWith(w.base)), `${all.length} cgroup drops, all of the test cgroups`);
  });
}
