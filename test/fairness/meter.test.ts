// The kernel meter (limits.sourceQueriesPerSecond) with the real nft in a fresh namespace: a
// source over the rate is dropped on the input hook and counted, in aggregate and per source;
// traffic to other ports is untouched; new TCP connections are metered; 0 turns it off.
import dgram from 'node:dgram';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { runInNetns, nft } from '../nft/netns';
import { testConfig, TEST_INDEX } from '../nft/fixtures';
import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';

const PORT = 5301;
const OTHER = 5302;
const RATE = 100;

function counter(name: string): number {
  const j = JSON.parse(nft('-j', 'list', 'counter', 'inet', 'dnswall', name)) as { nftables: { counter?: { packets: number } }[] };
  return j.nftables.find((o) => o.counter)!.counter!.packets;
}

function offenders(set: string): { addr: string; packets: number }[] {
  const j = JSON.parse(nft('-j', 'list', 'set', 'inet', 'dnswall', set)) as { nftables: { set?: { elem?: { elem: { val: string; counter?: { packets: number } } }[] } }[] };
  const elems = j.nftables.find((o) => o.set)!.set!.elem ?? [];
  return elems.map((e) => ({ addr: e.elem.val, packets: e.elem.counter?.packets ?? -1 }));
}

/** n datagrams from one socket as fast as the loop allows; resolves with the ms it took. */
async function blast(host: string, port: number, n: number): Promise<number> {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const t0 = Date.now();
  const payload = Buffer.alloc(32);
  for (let i = 0; i < n; i++) {
    s.send(payload, port, host);
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 100));
  const ms = Date.now() - t0;
  s.close();
  return ms;
}

runInNetns(__filename, async (t) => {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const cfg = testConfig({
    listen: [
      { host: '127.0.0.1', port: PORT, family: 4 },
      { host: '::1', port: PORT, family: 6 },
    ],
    limits: { ...testConfig().limits, sourceQueriesPerSecond: RATE },
  });
  await installRuleset(renderRuleset(cfg, TEST_INDEX));
  const servers = [dgram.createSocket('udp4'), dgram.createSocket('udp6')];
  await Promise.all(servers.map((s, i) => new Promise<void>((r) => s.bind(PORT, i ? '::1' : '127.0.0.1', () => r()))));
  t.teardown(() => servers.forEach((s) => s.close()));

  t.test('UDP over the rate is dropped and counted, per family and per source', async (t) => {
    for (const [host, v] of [
      ['127.0.0.1', 4],
      ['::1', 6],
    ] as const) {
      const before = counter(`overrate${v}`);
      const N = 1000;
      const ms = await blast(host, PORT, N);
      const dropped = counter(`overrate${v}`) - before;
      const passed = N - dropped;
      // the bucket holds 2×RATE, refilled at RATE/s while the burst lasts
      t.ok(passed >= 2 * RATE, `${host}: at least the burst passes (${passed})`);
      t.ok(passed <= 2 * RATE + Math.ceil((RATE * ms) / 1000) + 5, `${host}: at most burst + rate × ${ms} ms passes (${passed})`);
      const o = offenders(`offenders${v}`);
      t.same(
        o.map((e) => e.addr),
        [host],
        `${host} is the one offender`,
      );
      t.equal(o[0].packets, counter(`overrate${v}`), 'its own counter holds every drop');
    }
  });

  t.test('other ports on the same address are not touched', async (t) => {
    const before = counter('overrate4');
    await blast('127.0.0.1', OTHER, 1000);
    t.equal(counter('overrate4'), before);
  });

  t.test('new TCP connections are metered; established ones are not', async (t) => {
    const server = net.createServer((s) => s.on('data', () => s.write('x')));
    await new Promise<void>((r) => server.listen(PORT, '127.0.0.1', () => r()));
    t.teardown(() => server.close());
    await new Promise((r) => setTimeout(r, 2000)); // the bucket (2×RATE) refilled at RATE/s
    const kept = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(PORT, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    });
    t.teardown(() => kept.destroy());
    const before = counter('overrate4');
    const tries = 3 * RATE;
    const results = await Promise.all(
      Array.from(
        { length: tries },
        () =>
          new Promise<boolean>((resolve) => {
            const s = net.connect(PORT, '127.0.0.1');
            const timer = setTimeout(() => {
              s.destroy();
              resolve(false);
            }, 300);
            s.on('connect', () => {
              clearTimeout(timer);
              s.destroy();
              resolve(true);
            });
            s.on('error', () => {
              clearTimeout(timer);
              resolve(false);
            });
          }),
      ),
    );
    t.ok(results.filter((x) => !x).length > 0, 'some connections were not accepted in 300 ms');
    t.ok(counter('overrate4') > before, 'SYNs over the rate were dropped');
    // the long-lived connection still works while its source is over the rate
    const echoed = await new Promise<boolean>((resolve) => {
      kept.once('data', () => resolve(true));
      kept.write('ping');
      setTimeout(() => resolve(false), 1000);
    });
    t.ok(echoed, 'established connection unaffected');
  });

  t.test('sourceQueriesPerSecond: 0 turns the meter off', async (t) => {
    await installRuleset(renderRuleset({ ...cfg, limits: { ...cfg.limits, sourceQueriesPerSecond: 0 } }, TEST_INDEX));
    const before = counter('overrate4');
    await blast('127.0.0.1', PORT, 1000);
    t.equal(counter('overrate4'), before, 'nothing dropped');
    t.notMatch(nft('list', 'chain', 'inet', 'dnswall', 'input'), /jump/, 'no rule in the input chain');
  });
});
