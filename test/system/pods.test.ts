// Pod identity end to end: the real daemon in the sandbox's node namespace watches the test API
// server (over HTTPS with a test CA, a child process in the same namespace) and enforces pod
// selector policies on the real kernel. Judged by DNS answers, connections and set contents.
import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { requireSystem, resolve, ADDR, config } from './world';
import { requireOrSkip } from '../sandbox/need-root';
import { opensslMissing, makePki, type TestPki } from '../kube/pki';
import { Api, writeKubeconfig } from './kube-api';
import { pod, waitFor } from '../kube/helpers';
import { createTopology, type Topology } from '../../lib/sandbox/topology';
import { onExitCleanup } from '../../lib/sandbox/cleanup';
import { startZoneServer, startWebServer } from '../../lib/sandbox/peers';
import { startDaemon, DNSWALL_BIN, type DaemonPeer } from '../../lib/sandbox/daemon-peer';
import { Agent } from '../../lib/sandbox/agent';
import type { ListedElement } from '../../lib/nft/list';

const ZONE = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 60, data: '198.18.0.10' },
    { name: 'api.example.com', type: 'AAAA', ttl: 60, data: '2001:db8:ff::10' },
    { name: 'tcp.example.com', type: 'A', ttl: 60, data: '198.18.0.40' },
    { name: 'evil.example.org', type: 'A', ttl: 60, data: '198.18.6.6' },
  ],
};
const NODE = 'node-1';
const P1 = [ADDR.pod1.v4, ADDR.pod1.v6];
const dns4 = ADDR.nodePod1.v4;
/** The daemon's no-data timer for lists and watches (the test API server bookmarks every second). */
const IDLE_MS = 3000;

if (requireSystem(t) && requireOrSkip(t, opensslMissing())) {
  let topo: Topology;
  let api: Api;
  let daemon: DaemonPeer;
  let pod1: Agent;
  let pod2: Agent;
  let pki: TestPki;
  let removeHook: () => void;
  let control: string;
  let configFile: string;
  let text: string;
  const cli = (...args: string[]) => topo.exec(topo.ns.node, [process.execPath, DNSWALL_BIN, ...args]);
  const list = async (): Promise<ListedElement[]> => {
    const r = await topo.exec(topo.ns.node, [process.execPath, DNSWALL_BIN, 'list', '--json', '--table', 'dnswall']);
    if (r.code !== 0) throw new Error(`dnswall list failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as ListedElement[];
  };
  const fromPod1 = async () => (await list()).filter((e) => P1.includes(e.source));
  /** Whether any element of pod1's addresses (with this comment) is live: nft, lighter than a node process per poll. */
  const pod1Has = async (comment?: string): Promise<boolean> => {
    for (const set of ['allow4', 'allow6', 'allow4p', 'allow6p']) {
      const r = await topo.exec(topo.ns.node, ['nft', 'list', 'set', 'inet', 'dnswall', set]);
      if (r.code !== 0) throw new Error(`nft list set ${set}: ${r.stderr}`);
      for (const line of r.stdout.split(/[,{]\s*/)) {
        if (!P1.some((a) => line.trim().startsWith(`${a} . `))) continue;
        if (!comment || line.includes(`comment "${comment}"`)) return true;
      }
    }
    return false;
  };
  const until = async (what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<number> => {
    const t0 = Date.now();
    while (!(await cond())) {
      if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now() - t0;
  };
  const createPod = (ns: string, name: string, ips: string[], labels: Record<string, string>) =>
    api.do({ op: 'create', resource: 'pods', object: pod(ns, name, NODE, ips, labels) });

  t.before(async () => {
    pki = makePki();
    topo = await createTopology({ prefix: 'dwkp' });
    removeHook = onExitCleanup(topo);
    await Promise.all([startZoneServer(topo, { zone: ZONE }), startWebServer(topo, { ports: [80, 443, 8080] })]);
    const started = await Api.start(topo, pki);
    api = started.api;
    for (const ns of ['shop', 'batch']) await api.do({ op: 'create', resource: 'namespaces', object: { metadata: { name: ns } } });
    await api.do({ op: 'create', resource: 'nodes', object: { metadata: { name: NODE }, spec: { podCIDRs: ['192.0.2.0/24', '2001:db8:1::/64'] } } });
    await createPod('shop', 'frontend-1', P1, { app: 'frontend' });
    await createPod('batch', 'other-1', [ADDR.pod2.v4, ADDR.pod2.v6], { app: 'unselected' });
    const kc = writeKubeconfig(pki, started.port);
    control = join(pki.dir, 'control.sock');
    configFile = join(pki.dir, 'config.yaml');
    text = config(`
control: ${control}
kubernetes: { kubeconfig: ${kc}, nodeName: ${NODE}, unknownPodHoldMs: 3000, watchIdleMs: ${IDLE_MS} }
policies:
  - name: frontend
    sources:
      - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: shop } }
        podSelector: { matchLabels: { app: frontend } }
    allow: ["api.example.com"]
  - name: batch
    sources:
      - podSelector: { matchLabels: { app: batch } }
    allow: ["tcp.example.com"]
`);
    writeFileSync(configFile, text);
    daemon = await startDaemon(topo, text);
    [pod1, pod2] = await Promise.all([Agent.start(topo, topo.ns.pod1), Agent.start(topo, topo.ns.pod2)]);
    await waitFor('first list in', () => daemon.logs.some((l) => l.msg === 'kubernetes: first list in; pod identity active'), 20_000);
  });
  t.teardown(async () => {
    await Promise.allSettled([pod1?.stop(), pod2?.stop()]);
    await daemon?.stop().catch(() => undefined);
    await topo?.destroy();
    removeHook?.();
    pki?.cleanup();
  });

  t.test('a selected pod (namespace + labels) resolves and connects; the element names its pod address', async (t) => {
    t.notOk((await pod1.connect('198.18.0.10', 443, { timeoutMs: 1000 })).ok, 'blocked before the name is resolved (the pod is managed)');
    const r = await resolve(pod1, { server: dns4, name: 'api.example.com' });
    t.equal(r.rcode, 'NOERROR');
    t.ok((await pod1.connect('198.18.0.10', 443)).ok, 'connects');
    t.same(
      (await fromPod1()).map((e) => [e.set, e.source, e.destination]),
      [['allow4', ADDR.pod1.v4, '198.18.0.10']],
    );
    const denied = await resolve(pod1, { server: dns4, name: 'evil.example.org' });
    t.equal(denied.rcode, 'NXDOMAIN', 'a name its policy does not allow is denied');
  });

  t.test("dnswall drops --pod: a selected pod's blocked connection carries the pod and its policy", async (t) => {
    t.notOk((await pod1.connect('198.18.0.99', 443, { timeoutMs: 1000 })).ok, 'a literal IP is blocked');
    const drops = async (...args: string[]) => {
      const r = await cli('drops', '--json', '--control', control, ...args);
      if (r.code !== 0) throw new Error(`dnswall drops: ${r.stderr}`);
      return JSON.parse(r.stdout) as { destination: string; pod?: string; reason: string; policies: string[] }[];
    };
    let d: { destination: string; pod?: string; reason: string; policies: string[] } | undefined;
    await until('the drop is listed under its pod', async () => !!(d = (await drops('--pod', 'shop/frontend-1')).find((x) => x.destination === '198.18.0.99')), 10_000);
    t.equal(d?.pod, 'shop/frontend-1');
    t.equal(d?.reason, 'never_answered');
    t.same(d?.policies, ['frontend'], "the policies of the pod's selectors");
    t.notOk(
      (await drops('--pod', 'batch/other-1')).some((x) => x.destination === '198.18.0.99'),
      'not under another pod',
    );
  });

  t.test("list and explain name pods by namespace/name (the running daemon's knowledge)", async (t) => {
    await resolve(pod1, { server: dns4, name: 'api.example.com' });
    const j = await cli('list', '--json', '--table', 'dnswall', '--control', control);
    t.equal(j.code, 0, j.stderr);
    const items = JSON.parse(j.stdout) as ListedElement[];
    t.ok(
      items.some((e) => e.source === ADDR.pod1.v4 && e.pod === 'shop/frontend-1'),
      'JSON: pod next to the address',
    );
    const table = await cli('list', '--table', 'dnswall', '--control', control);
    t.match(table.stdout, `${ADDR.pod1.v4} shop/frontend-1`, 'table: SOURCE shows the pod');
    const only = JSON.parse((await cli('list', '--json', '--table', 'dnswall', '--control', control, '--pod', 'shop/frontend-1')).stdout) as ListedElement[];
    t.ok(only.length > 0 && only.every((e) => e.pod === 'shop/frontend-1'), 'list --pod');
    t.same(JSON.parse((await cli('list', '--json', '--table', 'dnswall', '--control', control, '--pod', 'batch/other-1')).stdout), [], 'an unselected pod has none');
    const allow = await cli('explain', '-c', configFile, '--control', control, '--pod', 'shop/frontend-1', 'api.example.com');
    t.equal(allow.code, 0, allow.stderr);
    t.match(allow.stdout, /^allow {2}policy=frontend pattern=api\.example\.com/);
    t.match(allow.stdout, `pod shop/frontend-1 (${ADDR.pod1.v4}, ${ADDR.pod1.v6}): selected by frontend`);
    t.match((await cli('explain', '-c', configFile, '--control', control, '--pod', 'shop/frontend-1', 'evil.example.org')).stdout, /^deny {2}policy\(s\)=frontend/);
    const other = await cli('explain', '-c', configFile, '--control', control, '--pod', 'batch/other-1', 'evil.example.org');
    t.match(other.stdout, /^unmanaged/);
    t.match(other.stdout, 'selected by no pod selector: judged by its address');
    const missing = await cli('explain', '-c', configFile, '--control', control, '--pod', 'shop/nope', 'api.example.com');
    t.equal(missing.code, 1);
    t.match(missing.stderr, 'no pod shop/nope on this node');
    const bad = await cli('explain', '-c', configFile, '--control', control, '--pod', 'Shop_x', 'api.example.com');
    t.equal(bad.code, 1);
    t.match(bad.stderr, 'is not NAMESPACE/NAME');
    const down = await cli('list', '--table', 'dnswall', '--control', join(pki.dir, 'nobody.sock'), '--pod', 'shop/frontend-1');
    t.equal(down.code, 2, 'no daemon: --pod cannot be answered');
    t.match(down.stderr, 'pods are known only to the running daemon');
  });

  t.test("dual-stack: AAAA asked over IPv4 opens the IPv6 address for the pod's IPv6 address", async (t) => {
    t.notOk((await pod1.connect('2001:db8:ff::10', 443, { timeoutMs: 1000 })).ok, 'blocked before');
    const r = await resolve(pod1, { server: dns4, name: 'api.example.com', type: 'AAAA' });
    t.equal(r.rcode, 'NOERROR');
    t.ok((await pod1.connect('2001:db8:ff::10', 443)).ok, 'connects over IPv6');
    t.ok(
      (await fromPod1()).some((e) => e.set === 'allow6' && e.source === ADDR.pod1.v6 && e.destination === '2001:db8:ff::10'),
      "allow6 element keyed by the pod's IPv6 address",
    );
  });

  t.test('an unselected pod is untouched', async (t) => {
    const r = await resolve(pod2, { server: ADDR.nodePod2.v4, name: 'evil.example.org' });
    t.equal(r.rcode, 'NOERROR', 'answered unfiltered');
    t.ok((await pod2.connect('198.18.9.9', 80, { timeoutMs: 2000 })).ok, 'its traffic is not filtered');
    t.notOk(
      (await list()).some((e) => e.source === ADDR.pod2.v4),
      'nothing programmed for it',
    );
  });

  t.test('a pod relabelled into another policy loses access at once; the watch survives 410, close and 500 without missing the event', async (t) => {
    await resolve(pod1, { server: dns4, name: 'api.example.com' });
    t.ok(await pod1Has('api.example.com'));
    // a disturbed watch: server close + history gone (410 on re-watch) + a 500 on the relist
    await api.do({ op: 'fault', fault: { on: 'list', kind: 'status', code: 500 } });
    await api.do({ op: 'closeWatches' });
    const t0 = Date.now();
    await api.do({ op: 'patchLabels', resource: 'pods', key: 'shop/frontend-1', labels: { app: 'batch' } });
    await api.do({ op: 'compact' });
    await until('elements of the relabelled pod gone', async () => !(await pod1Has('api.example.com')));
    t.pass(`elements gone (${Date.now() - t0} ms after the label change, through close + 410 + 500)`);
    t.notOk((await pod1.connect('198.18.0.10', 443, { timeoutMs: 1000 })).ok, 'no longer connects');
    t.equal((await resolve(pod1, { server: dns4, name: 'api.example.com' })).rcode, 'NXDOMAIN', 'its new policy does not allow the name');
    t.equal((await resolve(pod1, { server: dns4, name: 'tcp.example.com' })).rcode, 'NOERROR', 'its new policy does allow this one');
    // back to frontend for the next cases
    await api.do({ op: 'patchLabels', resource: 'pods', key: 'shop/frontend-1', labels: { app: 'frontend' } });
    const end2 = Date.now() + 15_000;
    let d = await resolve(pod1, { server: dns4, name: 'api.example.com' });
    while (d.rcode !== 'NOERROR' && Date.now() < end2) d = await resolve(pod1, { server: dns4, name: 'api.example.com' });
    t.equal(d.rcode, 'NOERROR', 'frontend again after relabel');
  });

  t.test("a deleted pod's address given to a new pod of another policy carries nothing over", async (t) => {
    await resolve(pod1, { server: dns4, name: 'api.example.com' });
    t.ok((await pod1.connect('198.18.0.10', 443)).ok);
    await api.do({ op: 'delete', resource: 'pods', key: 'shop/frontend-1' });
    await createPod('batch', 'job-1', P1, { app: 'batch' });
    t.teardown(() => api.do({ op: 'delete', resource: 'pods', key: 'batch/job-1' }).catch(() => undefined));
    await until('old elements gone', async () => !(await pod1Has('api.example.com')));
    t.pass("the old pod's elements are gone");
    t.notOk((await pod1.connect('198.18.0.10', 443, { timeoutMs: 1000 })).ok, 'the new pod cannot use them');
    t.equal((await resolve(pod1, { server: dns4, name: 'api.example.com' })).rcode, 'NXDOMAIN', 'its own policy does not allow it');
    t.equal((await resolve(pod1, { server: dns4, name: 'tcp.example.com' })).rcode, 'NOERROR', 'its own policy does');
    t.ok((await pod1.connect('198.18.0.40', 80)).ok);
  });

  t.test('a pod that asks before the API shows it is answered once it appears', async (t) => {
    // no pod holds pod1's address now; it is inside the Node's podCIDRs
    const q = resolve(pod1, { server: dns4, name: 'api.example.com', timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 700));
    await createPod('shop', 'frontend-2', P1, { app: 'frontend' });
    const r = await q;
    t.equal(r.rcode, 'NOERROR', 'held, then answered by its policies');
    t.ok((await pod1.connect('198.18.0.10', 443)).ok);
    // and one that never appears: SERVFAIL after the hold
    await api.do({ op: 'delete', resource: 'pods', key: 'shop/frontend-2' });
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    const s = await pod1.dns({ server: dns4, name: 'api.example.com', timeoutMs: 6000 });
    t.ok(s.ok && s.rcode === 'SERVFAIL', `SERVFAIL after the hold (${Date.now() - t0} ms): ${JSON.stringify(s).slice(0, 200)}`);
  });

  t.test('restart: elements of a pod deleted while no daemon ran are revoked after the first list; a live pod keeps its own', async (t) => {
    await createPod('shop', 'frontend-3', P1, { app: 'frontend' });
    await api.do({ op: 'patchLabels', resource: 'pods', key: 'batch/other-1', labels: { app: 'batch' } });
    const answered = async (agent: Agent, server: string, name: string) => {
      const end = Date.now() + 15_000;
      let r = await resolve(agent, { server, name });
      while (r.rcode !== 'NOERROR' && Date.now() < end) r = await resolve(agent, { server, name });
      return r.rcode;
    };
    t.equal(await answered(pod1, dns4, 'api.example.com'), 'NOERROR');
    t.equal(await answered(pod2, ADDR.nodePod2.v4, 'tcp.example.com'), 'NOERROR');
    t.ok(await pod1Has('api.example.com'), 'frontend-3 has its element');
    const pod2Has = async () => (await list()).some((e) => e.source === ADDR.pod2.v4 && e.comment === 'tcp.example.com');
    t.ok(await pod2Has(), 'other-1 (now selected) has its element');
    await daemon.stop();
    await api.do({ op: 'delete', resource: 'pods', key: 'shop/frontend-3' });
    daemon = await startDaemon(topo, text);
    await waitFor('first list in', () => daemon.logs.some((l) => l.msg === 'kubernetes: first list in; pod identity active'), 20_000);
    const t0 = Date.now();
    await until("the vanished pod's elements gone", async () => !(await pod1Has()));
    t.pass(`the vanished pod's elements are gone (${Date.now() - t0} ms after the first list)`);
    t.ok(await pod2Has(), 'the live pod kept its element across the restart');
    t.ok((await pod2.connect('198.18.0.40', 80)).ok, 'and connects without asking again');
  });

  t.test('a stalled API server (watches open and silent, then a silent relist): known pods keep being answered; the idle timer reconnects and the change arrives', async (t) => {
    // batch/other-1 is selected (app: batch) since the restart case
    t.equal((await resolve(pod2, { server: ADDR.nodePod2.v4, name: 'tcp.example.com' })).rcode, 'NOERROR');
    const pod2Has = async () => (await list()).some((e) => e.source === ADDR.pod2.v4);
    t.ok(await pod2Has());
    // every watch the daemon opens next stalls (pods, namespaces, node), and so does the next LIST
    for (let i = 0; i < 3; i++) await api.do({ op: 'fault', fault: { on: 'watch', kind: 'stall' } });
    await api.do({ op: 'fault', fault: { on: 'list', kind: 'stall' } });
    await api.do({ op: 'closeWatches' });
    await until('the three re-watches are stalled', async () => (await api.do({ op: 'state' })).faults === 1, 10_000);
    const t0 = Date.now();
    // unselected now (its elements must go), and the history is gone: the re-watch gets 410, the relist stalls too
    await api.do({ op: 'patchLabels', resource: 'pods', key: 'batch/other-1', labels: { app: 'unselected' } });
    await api.do({ op: 'compact' });
    const during = await resolve(pod2, { server: ADDR.nodePod2.v4, name: 'tcp.example.com' });
    t.equal(during.rcode, 'NOERROR', 'answered during the stall (the daemon still knows the pod)');
    await until("the relabelled pod's elements gone", async () => !(await pod2Has()), 60_000);
    const ms = Date.now() - t0;
    t.ok(ms >= IDLE_MS - 500, `the change arrived only after the silent watch was given up (${ms} ms; idle timer ${IDLE_MS} ms)`);
    t.equal((await api.do({ op: 'state' })).faults, 0, 'the stalled relist was given up and retried too');
    const after = await resolve(pod2, { server: ADDR.nodePod2.v4, name: 'evil.example.org' });
    t.equal(after.rcode, 'NOERROR', 'unselected now: answered unfiltered');
  });
}
