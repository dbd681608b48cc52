// Restart (docs/architecture.md "Lifecycle"): SIGTERM exits 0 and leaves the sets; while the daemon is down and
// comes back, a held connection keeps working and new connections to an address resolved
// before never fail. The restarted daemon adopts the elements (names kept, lives not shortened).
import t from 'tap';
import os from 'os';
import path from 'path';
import { rmSync } from 'fs';
import { performance } from 'perf_hooks';
import { requireSystem, createWorld, resolve, config, ADDR, type World } from './world';
import { startDaemon } from '../../lib/sandbox/daemon-peer';

const ZONE = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 300, data: '198.18.0.10' },
    { name: 'later.example.com', type: 'A', ttl: 60, data: '198.18.0.11' },
  ],
};
// A state file of this test's own (the default /run/dnswall/nft.state is shared by every daemon on the host).
const STATE_FILE = path.join(os.tmpdir(), `dnswall-restart-${process.pid}.state`);
const POLICIES = `
nftables: { stateFile: ${STATE_FILE} }
ttl: { min: 10, max: 3600, grace: 10 }
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: [api.example.com, later.example.com]
`;
const LOOP_MAX_MS = 30_000;

if (requireSystem(t)) {
  let w: World;
  const dns = ADDR.nodePod1.v4;
  t.before(async () => {
    w = await createWorld('dwlr', ZONE, POLICIES);
  });
  t.teardown(() => {
    rmSync(STATE_FILE, { force: true });
    return w?.destroy();
  });

  t.test('SIGTERM and start again: zero connection failures, elements adopted', async (t) => {
    await resolve(w.pod1, { server: dns, name: 'api.example.com' });
    const before = (await w.list()).find((e) => e.comment === 'api.example.com');
    t.ok(before, 'programmed before the restart');
    const held = await w.pod1.open('198.18.0.10', 443);
    t.ok(held.ok && held.handle !== undefined, 'long-lived connection opened');

    // New connections to the resolved address, back to back, across the restart.
    let stop = false,
      attempts = 0,
      failures = 0;
    const errors: string[] = [];
    const loop = (async () => {
      const t0 = Date.now();
      while (!stop && Date.now() - t0 < LOOP_MAX_MS) {
        const c = await w.pod1.connect('198.18.0.10', 443, { timeoutMs: 1000 });
        attempts++;
        if (!c.ok) {
          failures++;
          if (errors.length < 3) errors.push(c.error);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 300));

    const t0 = performance.now();
    const old = w.daemon;
    const stopped = old.stop(); // SIGTERM
    // The first answer after SIGTERM that comes from the new daemon measures the gap.
    let exited = false;
    old.proc.once('exit', () => {
      exited = true;
    });
    const code = await stopped;
    const exitMs = performance.now() - t0;
    t.equal(code, 0, `exit code 0 after SIGTERM (${exitMs.toFixed(0)} ms)`);
    t.ok(exited, 'old daemon gone');
    const kept = (await w.list()).find((e) => e.comment === 'api.example.com');
    t.ok(kept, 'the element outlives the daemon');

    const startP = startDaemon(w.topo, config(POLICIES));
    let gapMs = -1;
    for (let i = 0; i < 200 && gapMs < 0; i++) {
      const r = await w.pod1.dns({ server: dns, name: 'api.example.com', timeoutMs: 100 });
      if (r.ok && r.rcode === 'NOERROR') gapMs = performance.now() - t0;
    }
    w.daemon = await startP;
    t.ok(gapMs > 0, `restart gap (SIGTERM → first answer of the new daemon): ${gapMs.toFixed(0)} ms`);
    t.comment(`restart gap ${gapMs.toFixed(0)} ms (old daemon exited after ${exitMs.toFixed(0)} ms)`);

    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await loop;
    t.ok(attempts > 5, `${attempts} new connections during the restart`);
    t.equal(failures, 0, `no connection failed ${errors.join('; ')}`);
    if (held.ok && held.handle !== undefined) {
      const c = await w.pod1.check(held.handle);
      t.ok(c.ok, `held connection still works: ${JSON.stringify(c)}`);
      await w.pod1.close(held.handle);
    }

    const after = (await w.list()).find((e) => e.comment === 'api.example.com');
    t.ok(after && after.source === ADDR.pod1.v4 && after.destination === '198.18.0.10', 'still listed with its name after the restart');
    t.ok(after!.timeoutMs! >= before!.timeoutMs!, `timeout not shortened: ${after!.timeoutMs} ≥ ${before!.timeoutMs}`);
    t.ok(
      old.logs.some((l) => l.msg === 'state saved' && (l.elements as number) >= 1),
      'the clean stop saved the book',
    );
    t.ok(
      w.daemon.logs.some((l) => l.msg === 'live elements adopted' && l.from === 'state' && (l.elements as number) >= 1),
      `the new daemon adopted the live elements from the state file: ${JSON.stringify(w.daemon.logs.find((l) => l.msg === 'live elements adopted' || l.msg === 'state file not used; the live elements are read from the kernel'))}`,
    );
    await resolve(w.pod1, { server: dns, name: 'later.example.com' });
    t.ok((await w.pod1.connect('198.18.0.11', 443)).ok, 'the new daemon programs new answers');
  });
}
