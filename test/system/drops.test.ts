// dnswall drops: the kernel logs each rejected new connection of a managed source; the daemon
// explains it from what it answered — never answered (literal IP), expired, answered only to
// another source — and `dnswall drops --json` (through the control socket) shows each. A flood of
// 10,000 rejected SYNs is logged at most at the kernel's rate limit, leaves the history bounded
// and DNS answering.
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { requireSystem, createWorld, resolve, ADDR, type World } from './world';
import { DNSWALL_BIN } from '../../lib/sandbox/daemon-peer';
import { RECENT_MAX } from '../../lib/drops/drops';
import type { Drop } from '../../lib/drops/drops';

const ZONE = {
  records: [
    { name: 'short.example.com', type: 'A', ttl: 1, data: '198.18.0.70' },
    { name: 'other.example.com', type: 'A', ttl: 60, data: '198.18.0.71' },
    { name: 'api.example.com', type: 'A', ttl: 60, data: '198.18.0.72' },
  ],
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-drops-'));
const CONTROL = path.join(dir, 'control.sock');
const POLICIES = `
ttl: { min: 1, max: 3600, grace: 0 }
control: ${CONTROL}
drops: { logGroup: 7, perSecond: 50 }
metrics: "127.0.0.1:9153"
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: [short.example.com, api.example.com]
  - name: backend
    sources: ["${ADDR.pod2.v4}/32"]
    allow: [other.example.com]
`;

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwdr', ZONE, POLICIES);
  });
  t.teardown(async () => {
    await w?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const dns4 = ADDR.nodePod1.v4;

  const drops = async (...args: string[]): Promise<Drop[]> => {
    const r = await w.topo.exec(w.topo.ns.node, [process.execPath, DNSWALL_BIN, 'drops', '--control', CONTROL, '--json', ...args]);
    if (r.code !== 0) throw new Error(`dnswall drops: ${r.stderr}`);
    return JSON.parse(r.stdout) as Drop[];
  };
  const waitFor = async (pred: (d: Drop[]) => Drop | undefined, ms = 10_000): Promise<Drop | undefined> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const hit = pred(await drops('--source', ADDR.pod1.v4));
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
  };

  t.test('a literal IP: never answered', async (t) => {
    const c = await w.pod1.connect('198.18.0.99', 443, { timeoutMs: 1000 });
    t.notOk(c.ok, 'blocked');
    const d = await waitFor((l) => l.find((x) => x.destination === '198.18.0.99'));
    t.ok(d, 'logged');
    t.equal(d?.reason, 'never_answered');
    t.equal(d?.detail, 'never answered: literal IP or another resolver');
    t.same(d?.policies, ['frontend']);
    t.equal(d?.proto, 'tcp');
    t.equal(d?.port, 443);
  });

  t.test("an expired name's address: answered NAME, expired N s ago", async (t) => {
    await resolve(w.pod1, { server: dns4, name: 'short.example.com' });
    const open = await w.pod1.connect('198.18.0.70', 443, { timeoutMs: 1000 });
    t.ok(open.ok, 'allowed while the element lives (1 s)');
    await new Promise((r) => setTimeout(r, 2500));
    const c = await w.pod1.connect('198.18.0.70', 443, { timeoutMs: 1000 });
    t.notOk(c.ok, 'blocked after expiry');
    const d = await waitFor((l) => l.find((x) => x.destination === '198.18.0.70'));
    t.equal(d?.reason, 'expired');
    t.match(d?.detail, /^answered short\.example\.com to this source, expired \d+ s ago$/);
    t.equal(d?.name, 'short.example.com');
  });

  t.test('an address answered only to another pod', async (t) => {
    await resolve(w.pod2, { server: ADDR.nodePod2.v4, name: 'other.example.com' });
    const c = await w.pod1.connect('198.18.0.71', 443, { timeoutMs: 1000 });
    t.notOk(c.ok, 'blocked for pod1');
    const d = await waitFor((l) => l.find((x) => x.destination === '198.18.0.71'));
    t.equal(d?.reason, 'other_source');
    t.match(d?.detail, `answered only to another source (${ADDR.pod2.v4}, other.example.com)`);
  });

  t.test('text output and a stopped daemon', async (t) => {
    const r = await w.topo.exec(w.topo.ns.node, [process.execPath, DNSWALL_BIN, 'drops', '--control', CONTROL, '--source', ADDR.pod1.v4]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /192\.0\.2\.10 → 198\.18\.0\.99 tcp\/443 {2}never answered: literal IP or another resolver {2}\[frontend\]/);
    const missing = await w.topo.exec(w.topo.ns.node, [process.execPath, DNSWALL_BIN, 'drops', '--control', path.join(dir, 'nobody.sock')]);
    t.equal(missing.code, 2);
    t.match(missing.stderr, /dnswall is not running/);
  });

  t.test('10,000 rejected SYNs: logged at the kernel rate, history bounded, DNS still answers', async (t) => {
    const before = (await drops()).length;
    const flood = w.topo.exec(w.topo.ns.pod1, [process.execPath, path.join(__dirname, 'syn-flood.js'), '198.18.0.98', '80', '10000', '200', '60000'], { timeoutMs: 70_000 });
    // DNS from the other pod while the flood runs.
    const loop = await w.pod2.dnsLoop({ server: ADDR.nodePod2.v4, name: 'other.example.com', rate: 50, durationMs: 3000, timeoutMs: 2000 });
    const f = await flood;
    t.equal(f.code, 0, f.stderr);
    const fr = JSON.parse(f.stdout) as { done: number; ms: number };
    t.equal(fr.done, 10000, `10,000 connects, each reset by the kernel, in ${fr.ms} ms`);
    t.ok(loop.ok, JSON.stringify(loop));
    if (loop.ok) {
      t.equal(loop.failed, 0, `every query answered during the flood (slowest ${loop.maxMs} ms)`);
      t.equal(loop.noerror, loop.sent);
    }
    const all = await drops();
    const flooded = all.filter((d) => d.destination === '198.18.0.98');
    t.ok(all.length <= RECENT_MAX, `history bounded: ${all.length} ≤ ${RECENT_MAX}`);
    // limit rate 50/second burst 100: at most burst + rate × elapsed seconds (+1 s slack) logged.
    const bound = 100 + 50 * (Math.ceil(fr.ms / 1000) + 1);
    t.ok(flooded.length > 0 && flooded.length <= bound, `${flooded.length} of 10,000 logged (kernel limit: ≤ ${bound}); ${before} before`);
    t.ok(flooded.every((d) => d.reason === 'never_answered'));
    const m = await w.topo.exec(w.topo.ns.node, ['curl', '-sS', '--max-time', '3', 'http://127.0.0.1:9153/metrics']);
    t.match(m.stdout, /dnswall_kernel_drops_total\{reason="never_answered",policy="frontend"\} \d+/);
  });
}
