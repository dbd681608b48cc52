// Restart with handed-over sockets: `dnswall hold-sockets` keeps the listening UDP
// and TCP sockets while the daemon is replaced (SIGUSR2), so a steady stream of queries from
// the pods loses none: the new daemon reads the shared sockets before the old one stops.
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { requireSystem, createWorld, resolve, config, ADDR, type World } from './world';
import { DNSWALL_BIN } from '../../lib/sandbox/daemon-peer';
import { ChildLines, stopChild } from '../../lib/sandbox/child';

const ZONE = { records: [{ name: 'api.example.com', type: 'A', ttl: 300, data: '198.18.0.10' }] };
const POLICIES = `
policies:
  - name: pods
    sources: ["${ADDR.pod1.v4}/32", "${ADDR.pod2.v4}/32"]
    allow: [api.example.com]
`;
const UDP_RATE = 200;
const TCP_RATE = 20;
const LOOP_MS = 6000;
const RESTART_AT_MS = 2000;
// Long enough that a query waiting in the socket during the restart gap counts as answered.
const QUERY_TIMEOUT_MS = 3000;
const READY_MS = 15_000;

const isServing = (l: string) => l.includes('"msg":"serving"');

if (requireSystem(t)) {
  let w: World;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-handover-'));
  const cfgFile = path.join(dir, 'config.yaml');
  writeFileSync(cfgFile, config(POLICIES));
  t.before(async () => {
    w = await createWorld('dwh', ZONE, POLICIES);
    await w.daemon.stop(); // replaced by the same daemon under hold-sockets
  });
  t.teardown(async () => {
    await w?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  t.test('SIGUSR2 to hold-sockets replaces the daemon: no query lost', async (t) => {
    const serve = [process.execPath, DNSWALL_BIN, '--log-level', 'info', 'serve', '-c', cfgFile];
    const holder = w.topo.spawn(w.topo.ns.node, [process.execPath, DNSWALL_BIN, 'hold-sockets', '-c', cfgFile, '--', ...serve]);
    t.teardown(() => stopChild(holder, 5000));
    const lines = new ChildLines(holder, 'dnswall hold-sockets');
    const first = JSON.parse(await lines.waitFor(isServing, READY_MS));
    t.same(first.listen.map((l: { inherited?: string[] }) => l.inherited), [['udp', 'tcp'], ['udp', 'tcp'], ['udp', 'tcp'], ['udp', 'tcp']], 'every listen socket inherited, none bound by serve');
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'api.example.com' });

    const loopStart = performance.now();
    let oldStoppedAt = -1;
    lines.on('line', (l: string) => { if (l.includes('"msg":"stopped"')) oldStoppedAt = performance.now() - loopStart; });
    const udp = w.pod1.dnsLoop({ server: ADDR.nodePod1.v4, name: 'api.example.com', rate: UDP_RATE, durationMs: LOOP_MS, timeoutMs: QUERY_TIMEOUT_MS });
    const tcp = w.pod2.dnsLoop({ server: ADDR.nodePod2.v4, name: 'api.example.com', tcp: true, rate: TCP_RATE, durationMs: LOOP_MS, timeoutMs: QUERY_TIMEOUT_MS });
    await new Promise((r) => setTimeout(r, RESTART_AT_MS));
    const t0 = performance.now();
    const second = lines.waitFor(isServing, READY_MS);
    holder.kill('SIGUSR2');
    await second;
    const servingMs = performance.now() - t0;

    const [u, c] = await Promise.all([udp, tcp]);
    for (const [what, r, rate] of [['udp', u, UDP_RATE], ['tcp', c, TCP_RATE]] as const) {
      t.ok(r.ok, `${what} loop ran: ${JSON.stringify(r).slice(0, 200)}`);
      if (!r.ok) continue;
      const res = r;
      t.ok(res.sent >= (rate * LOOP_MS) / 1000 - 1, `${what}: ${res.sent} queries sent`);
      t.equal(res.failed + res.otherRcode, 0, `${what}: none lost or failed ${res.errors.join('; ')}`);
      t.equal(res.noerror, res.sent, `${what}: every query answered NOERROR`);
      t.comment(`${what}: longest answer ${res.maxMs.toFixed(0)} ms (query sent ${(res.maxAtMs - RESTART_AT_MS).toFixed(0)} ms after SIGUSR2)`);
    }
    t.comment(`SIGUSR2 → new daemon "serving": ${servingMs.toFixed(0)} ms`);
    // The keeper stops the old daemon only once the new one is ready, so nothing needs to wait:
    // prove the hand-over happened while the queries flowed.
    t.ok(oldStoppedAt > RESTART_AT_MS && oldStoppedAt < LOOP_MS, `the old daemon stopped ${oldStoppedAt.toFixed(0)} ms into the ${LOOP_MS} ms stream`);
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'api.example.com' });
    t.ok((await w.pod1.connect('198.18.0.10', 443)).ok, 'the new daemon programs the sets');
  });
}
