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
const SEGMENT_MS = 1000;
/** the streams stop at this bound even if the hand-over never happened (the test then fails) */
const MAX_STREAM_MS = 30_000;
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
    t.same(
      first.listen.map((l: { inherited?: string[] }) => l.inherited),
      [
        ['udp', 'tcp'],
        ['udp', 'tcp'],
        ['udp', 'tcp'],
        ['udp', 'tcp'],
      ],
      'every listen socket inherited, none bound by serve',
    );
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'api.example.com' });

    // The query streams run in back-to-back segments until a whole segment has run after the old
    // daemon stopped (bounded): on a loaded box the new daemon may need longer than any fixed
    // stream, and a hand-over after the stream ended would prove nothing.
    const loopStart = performance.now();
    let oldStoppedAt = -1;
    lines.on('line', (l: string) => {
      if (l.includes('"msg":"stopped"')) oldStoppedAt = performance.now() - loopStart;
    });
    const streams = (async () => {
      const sum = {
        udp: { sent: 0, noerror: 0, failed: 0, otherRcode: 0, errors: [] as string[], maxMs: 0, maxAt: 0 },
        tcp: { sent: 0, noerror: 0, failed: 0, otherRcode: 0, errors: [] as string[], maxMs: 0, maxAt: 0 },
      };
      for (;;) {
        const segStart = performance.now() - loopStart;
        if (segStart > MAX_STREAM_MS) break;
        if (oldStoppedAt >= 0 && segStart > oldStoppedAt + SEGMENT_MS) break;
        const [u, c] = await Promise.all([
          w.pod1.dnsLoop({ server: ADDR.nodePod1.v4, name: 'api.example.com', rate: UDP_RATE, durationMs: SEGMENT_MS, timeoutMs: QUERY_TIMEOUT_MS }),
          w.pod2.dnsLoop({ server: ADDR.nodePod2.v4, name: 'api.example.com', tcp: true, rate: TCP_RATE, durationMs: SEGMENT_MS, timeoutMs: QUERY_TIMEOUT_MS }),
        ]);
        for (const [k, r] of [
          ['udp', u],
          ['tcp', c],
        ] as const) {
          if (!r.ok) throw new Error(`${k} loop did not run: ${JSON.stringify(r).slice(0, 200)}`);
          const a = sum[k];
          a.sent += r.sent;
          a.noerror += r.noerror;
          a.failed += r.failed;
          a.otherRcode += r.otherRcode;
          a.errors.push(...r.errors.slice(0, 10 - a.errors.length));
          if (r.maxMs > a.maxMs) {
            a.maxMs = r.maxMs;
            a.maxAt = segStart + r.maxAtMs;
          }
        }
      }
      return { sum, endedAt: performance.now() - loopStart };
    })();
    await new Promise((r) => setTimeout(r, RESTART_AT_MS));
    const t0 = performance.now();
    const second = lines.waitFor(isServing, READY_MS);
    holder.kill('SIGUSR2');
    await second;
    const servingMs = performance.now() - t0;

    const { sum, endedAt } = await streams;
    for (const [what, rate] of [
      ['udp', UDP_RATE],
      ['tcp', TCP_RATE],
    ] as const) {
      const res = sum[what];
      t.ok(res.sent >= ((rate * (endedAt - 500)) / 1000) * 0.9, `${what}: ${res.sent} queries sent in ${endedAt.toFixed(0)} ms`);
      t.equal(res.failed + res.otherRcode, 0, `${what}: none lost or failed ${res.errors.join('; ')}`);
      t.equal(res.noerror, res.sent, `${what}: every query answered NOERROR`);
      t.comment(`${what}: longest answer ${res.maxMs.toFixed(0)} ms (query sent ${(res.maxAt - RESTART_AT_MS).toFixed(0)} ms after SIGUSR2)`);
    }
    t.comment(`SIGUSR2 → new daemon "serving": ${servingMs.toFixed(0)} ms`);
    // The keeper stops the old daemon only once the new one is ready, so nothing needs to wait:
    // prove the hand-over happened while the queries flowed (a segment ran on after it).
    t.ok(oldStoppedAt > RESTART_AT_MS && oldStoppedAt + SEGMENT_MS <= endedAt, `the old daemon stopped ${oldStoppedAt.toFixed(0)} ms into the ${endedAt.toFixed(0)} ms stream`);
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'api.example.com' });
    t.ok((await w.pod1.connect('198.18.0.10', 443)).ok, 'the new daemon programs the sets');
  });
}
