// Fairness on the real kernel with the real daemon: pod1 floods dnswall (a bounded hostile mix,
// lib/sandbox/flood-main.ts) while pod2's lookups are all answered within 200 ms; pod1 is
// answered again within a second after it stops; the kernel's drop counter, the per-source
// offender counter and the metric show the excess.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { requireSystem, createWorld, resolve, ADDR, type World } from './world';
import { flood } from '../../lib/sandbox/flood';

const ZONE = { records: [{ name: 'ok.example.com', type: 'A', ttl: 300, data: '198.18.0.10' }] };
const METRICS = `${ADDR.nodeNet.v4}:9153`;
const BODY = `
metrics: "${METRICS}"
policies:
  - name: pods
    sources: ["${ADDR.pod1.v4}/32", "${ADDR.pod2.v4}/32"]
    allow: [ok.example.com]
`; // limits.sourceQueriesPerSecond: the default, 2000 (bursts of 4000)
const PACKETS = 60_000; // far over 4000 + 2000/s for the few seconds it takes
const SECONDS = 6;
const SEED = Number(process.env.DW_FUZZ_SEED ?? 12);
const BOUND_MS = 200;

async function counter(w: World, name: string): Promise<number> {
  const r = await w.nft('-j', 'list', 'counter', 'inet', 'dnswall', name);
  if (r.code !== 0) throw new Error(`nft list counter ${name}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((o) => o.counter)!.counter!.packets;
}

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwsf', ZONE, BODY);
  });
  t.teardown(() => w?.destroy());

  t.test('one pod floods; the other is answered in time; the flooder is answered after', async (t) => {
    t.comment(`seed ${SEED} (DW_FUZZ_SEED)`);
    // both pods are served normally first
    await resolve(w.pod1, { server: ADDR.nodePod1.v4, name: 'ok.example.com' });
    await resolve(w.pod2, { server: ADDR.nodePod2.v4, name: 'ok.example.com' });
    const dropped0 = await counter(w, 'overrate4');

    let flooding = true;
    const floodDone = flood(w.topo, w.topo.ns.pod1, { server: ADDR.nodePod1.v4, packets: PACKETS, seconds: SECONDS, seed: SEED, tcp: 40 }).finally(() => {
      flooding = false;
    });
    // pod2 asks every 100 ms while the flood runs (each lookup bounded by its own timeout)
    const lookups: { ok: boolean; ms: number; what: string }[] = [];
    await new Promise((r) => setTimeout(r, 300)); // the flood is under way
    while (flooding) {
      const r = await w.pod2.dns({ server: ADDR.nodePod2.v4, name: 'ok.example.com', timeoutMs: 2000 });
      lookups.push({ ok: r.ok && r.rcode === 'NOERROR', ms: r.ms, what: r.ok ? r.rcode : r.error });
      await new Promise((r) => setTimeout(r, 100));
    }
    const sent = await floodDone;
    const stopped = performance.now();
    t.ok(sent.udp.total >= 20_000, `flood sent ${sent.udp.total} datagrams in ${sent.seconds.toFixed(1)} s`);
    t.ok(lookups.length >= 5, `${lookups.length} lookups from pod2 during the flood`);
    const slow = lookups.filter((l) => !l.ok || l.ms > BOUND_MS);
    t.same(slow, [], `every pod2 lookup answered within ${BOUND_MS} ms (max ${Math.max(...lookups.map((l) => l.ms)).toFixed(1)} ms)`);

    // the flooding pod, asking normally now, is answered within a second of stopping
    let back = NaN;
    while (performance.now() - stopped < 3000) {
      const r = await w.pod1.dns({ server: ADDR.nodePod1.v4, name: 'ok.example.com', timeoutMs: 300 });
      if (r.ok && r.rcode === 'NOERROR') {
        back = performance.now() - stopped;
        break;
      }
    }
    t.ok(back <= 1000, `pod1 answered again ${back.toFixed(0)} ms after its flood stopped`);

    // the excess was dropped in the kernel and counted, for pod1 only
    const dropped = (await counter(w, 'overrate4')) - dropped0;
    t.ok(dropped >= sent.udp.total - 4000 - 2000 * Math.ceil(sent.seconds + 1), `kernel dropped ${dropped} of ${sent.udp.total}`);
    const set = await w.nft('-j', 'list', 'set', 'inet', 'dnswall', 'offenders4');
    const elems =
      (JSON.parse(set.stdout) as { nftables: { set?: { elem?: { elem: { val: string; counter: { packets: number } } }[] } }[] }).nftables.find((o) => o.set)!.set!.elem ?? [];
    t.same(
      elems.map((e) => e.elem.val),
      [ADDR.pod1.v4],
      'pod1 is the only offender',
    );
    t.ok(elems[0].elem.counter.packets >= dropped, 'its own counter holds the drops');

    // and the metric shows it (the reader caches 5 s: poll until it has caught up)
    let body = '';
    const deadline = Date.now() + 12_000;
    const want = new RegExp(`dnswall_fairness_kernel_dropped_total\\{family="4"\\} (\\d+)`);
    while (Date.now() < deadline) {
      const r = await w.topo.exec(w.topo.ns.node, ['curl', '-s', '--max-time', '3', `http://${METRICS}/metrics`]);
      body = r.stdout;
      if (Number(want.exec(body)?.[1] ?? 0) >= dropped0 + dropped) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    t.ok(Number(want.exec(body)?.[1] ?? 0) >= dropped0 + dropped, `metric: ${want.exec(body)?.[0]}`);
    t.match(body, new RegExp(`dnswall_fairness_kernel_top_source_dropped\\{source="${ADDR.pod1.v4.replace(/\./g, '\\.')}"\\} \\d+`), 'pod1 among the top offenders');
    t.notMatch(body, new RegExp(`source="${ADDR.pod2.v4.replace(/\./g, '\\.')}"`), 'pod2 is not');
  });
}
