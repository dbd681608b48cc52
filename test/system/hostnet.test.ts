// hostNetwork pods end to end: they share the node's addresses, so the daemon knows them by
// their pod cgroup. Real cgroups named as kubelet's cgroupfs driver names them (under a test
// cgroup root, `kubernetes.cgroupRoot`), test processes in them in the daemon's network
// namespace, the test API server listing hostNetwork pods with those UIDs, the real daemon and
// real nft. Judged by DNS answers, connections and the cgroup sets' contents.
import t from 'tap';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { requireCgroups, createCgroupWorld, cgroupConfig, HOST_DNS, type CgroupWorld } from './cgroup-world';
import { requireOrSkip } from '../sandbox/need-root';
import { opensslMissing, makePki, type TestPki } from '../kube/pki';
import { Api, writeKubeconfig } from './kube-api';
import { pod, waitFor } from '../kube/helpers';
import type { Agent } from '../../lib/sandbox/agent';

const ZONE = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 300, data: '198.18.0.10' },
    { name: 'other.example.com', type: 'A', ttl: 300, data: '198.18.0.11' },
    { name: 'evil.example.org', type: 'A', ttl: 300, data: '198.18.6.6' },
  ],
};
const NODE = 'node-1';
const dns = (name: string) => ({ server: HOST_DNS, name, timeoutMs: 4000 });

if (requireCgroups(t) && requireOrSkip(t, opensslMissing())) {
  let w: CgroupWorld;
  let api: Api;
  let pki: TestPki;
  let control: string;
  let configFile: string;
  let body: (agentAllow?: string) => string;
  // agent: Burstable (cgroupfs level root+3); metrics: Guaranteed (level root+2); other: not selected
  const uid = { agent: randomUUID(), metrics: randomUUID(), other: randomUUID() };
  const podCgroup = {
    agent: `/kubepods/burstable/pod${uid.agent}`,
    metrics: `/kubepods/pod${uid.metrics}`,
    other: `/kubepods/besteffort/pod${uid.other}`,
  };
  const hostPod = (name: string, u: string, app: string, qosClass: string) =>
    pod(
      'kube-system',
      name,
      NODE,
      '192.0.2.1',
      { app },
      {
        metadata: { name, namespace: 'kube-system', uid: u, labels: { app } },
        spec: { nodeName: NODE, hostNetwork: true },
        status: { phase: 'Running', podIP: '192.0.2.1', podIPs: [{ ip: '192.0.2.1' }], qosClass },
      },
    );
  /** The live elements whose source is this pod's cgroup (dnswall list shows the cgroup's path). */
  const elementsOf = async (which: keyof typeof podCgroup) => (await w.list()).filter((e) => e.source === w.base + podCgroup[which]);

  t.before(async () => {
    pki = makePki();
    w = await createCgroupWorld('dwkh', ZONE, 'policies: []\n');
    await w.daemon.stop();
    const started = await Api.start(w.topo, pki);
    api = started.api;
    await api.do({ op: 'create', resource: 'namespaces', object: { metadata: { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } } } });
    await api.do({ op: 'create', resource: 'nodes', object: { metadata: { name: NODE }, spec: { podCIDRs: ['10.244.1.0/24'] } } });
    await api.do({ op: 'create', resource: 'pods', object: hostPod('node-agent', uid.agent, 'node-agent', 'Burstable') });
    await api.do({ op: 'create', resource: 'pods', object: hostPod('metrics', uid.metrics, 'metrics', 'Guaranteed') });
    await api.do({ op: 'create', resource: 'pods', object: hostPod('other', uid.other, 'other', 'BestEffort') });
    // running pods: kubelet made their cgroups before their containers started
    for (const p of Object.values(podCgroup)) fs.mkdirSync(w.dir(w.base + p), { recursive: true });
    const kc = writeKubeconfig(pki, started.port);
    control = join(pki.dir, 'control.sock');
    configFile = join(pki.dir, 'config.yaml');
    body = (agentAllow = '"api.example.com"') => `
control: ${control}
kubernetes: { kubeconfig: ${kc}, nodeName: ${NODE}, cgroupRoot: ${w.base}, unknownPodHoldMs: 3000 }
policies:
  - name: node-agent
    sources:
      - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: kube-system } }
        podSelector: { matchLabels: { app: node-agent } }
    allow: [${agentAllow}]
  - name: metrics
    sources:
      - podSelector: { matchLabels: { app: metrics } }
    allow: ["other.example.com"]
`;
    fs.writeFileSync(configFile, cgroupConfig(body()));
    await w.startDaemon(body());
    await waitFor('first list in', () => w.daemon.logs.some((l) => l.msg === 'kubernetes: first list in; pod identity active'), 20_000);
  });
  t.teardown(async () => {
    await w?.destroy();
    api?.proc.kill('SIGKILL');
    pki?.cleanup();
  });

  let agent: Agent;
  let metrics: Agent;
  t.test('a selected hostNetwork pod (Burstable) is known by its pod cgroup: resolves, connects, elements keyed by the pod cgroup', async (t) => {
    agent = await w.agent(`${podCgroup.agent}/cri-containerd-1`);
    t.notOk((await agent.connect('198.18.0.10', 443, { timeoutMs: 1000 })).ok, 'managed: blocked before the name is resolved');
    const r = await agent.dns(dns('api.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR', `answered: ${JSON.stringify(r)}`);
    t.ok((await agent.connect('198.18.0.10', 443)).ok, 'connects to the answer');
    t.notOk((await agent.connect('198.18.0.11', 443, { timeoutMs: 1000 })).ok, 'an address never answered for it is rejected');
    const denied = await agent.dns(dns('evil.example.org'));
    t.ok(denied.ok && denied.rcode === 'NXDOMAIN', `a name its policy does not allow is denied: ${JSON.stringify(denied)}`);
    const els = await elementsOf('agent');
    t.same(
      els.map((e) => [e.set, e.destination, e.comment]),
      [['cgroup4', '198.18.0.10', 'api.example.com']],
      'one cgroup4 element, keyed by the pod cgroup (not the container below it)',
    );
  });

  t.test('list and explain name a hostNetwork pod by namespace/name', async (t) => {
    const j = await w.cli('list', '--json', '--table', 'dnswall', '--control', control);
    t.equal(j.code, 0, j.stderr);
    const el = (JSON.parse(j.stdout) as { source: string; pod?: string; comment: string }[]).find((e) => e.comment === 'api.example.com');
    t.same(el && [el.source, el.pod], [w.base + podCgroup.agent, 'kube-system/node-agent'], "the pod cgroup's path and its pod");
    const table = await w.cli('list', '--table', 'dnswall', '--control', control, '--pod', 'kube-system/node-agent');
    t.match(table.stdout, `${w.base + podCgroup.agent} kube-system/node-agent`);
    const e = await w.cli('explain', '-c', configFile, '--control', control, '--pod', 'kube-system/node-agent', 'api.example.com');
    t.equal(e.code, 0, e.stderr);
    t.match(e.stdout, /^allow {2}policy=node-agent/);
    t.match(e.stdout, `(hostNetwork, cgroup ${w.base + podCgroup.agent}): selected by node-agent`);
    const o = await w.cli('explain', '-c', configFile, '--control', control, '--pod', 'kube-system/other', 'evil.example.org');
    t.match(o.stdout, /^unmanaged/);
    t.match(o.stdout, 'judged by its cgroup, as a host process');
  });

  t.test("reload: a hostNetwork pod's elements are decided by its pod's policies (kept while allowed, revoked when not)", async (t) => {
    const apiEls = async () => (await elementsOf('agent')).filter((e) => e.comment === 'api.example.com');
    t.equal((await apiEls()).length, 1);
    const r1 = await w.daemon.reload(cgroupConfig(body('"api.example.com", "x.example.com"')));
    t.equal(r1.msg, 'configuration reloaded', JSON.stringify(r1));
    t.equal((await apiEls()).length, 1, 'still allowed: kept');
    const r2 = await w.daemon.reload(cgroupConfig(body('"x.example.com"')));
    t.equal(r2.msg, 'configuration reloaded', JSON.stringify(r2));
    t.same(await apiEls(), [], 'no longer allowed: revoked');
    t.notOk((await agent.connect('198.18.0.10', 443, { timeoutMs: 1000 })).ok);
    await w.daemon.reload(cgroupConfig(body()));
    const r = await agent.dns(dns('api.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR', 'allowed again after the reload back');
    t.equal((await apiEls()).length, 1);
  });

  t.test('a Guaranteed hostNetwork pod (pod cgroup one level higher) gets its own policy', async (t) => {
    const m = (metrics = await w.agent(`${podCgroup.metrics}/ctr`));
    t.notOk((await m.connect('198.18.0.10', 443, { timeoutMs: 1000 })).ok, "the other pod's answer is not its own");
    const r = await m.dns(dns('other.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR');
    t.ok((await m.connect('198.18.0.11', 443)).ok, 'connects to its answer');
    t.same(
      (await elementsOf('metrics')).map((e) => e.destination),
      ['198.18.0.11'],
    );
    const d = await m.dns(dns('api.example.com'));
    t.ok(d.ok && d.rcode === 'NXDOMAIN', "not its policy's name");
  });

  t.test('an unselected hostNetwork pod is untouched; a host process likewise', async (t) => {
    const o = await w.agent(`${podCgroup.other}/ctr`);
    const r = await o.dns(dns('evil.example.org'));
    t.ok(r.ok && r.rcode === 'NOERROR', 'answered unfiltered');
    t.ok((await o.connect('198.18.9.9', 80, { timeoutMs: 2000 })).ok, 'not filtered');
    t.same(await elementsOf('other'), [], 'nothing programmed');
    const plain = await w.agent('/plain-host-process');
    const pr = await plain.dns(dns('evil.example.org'));
    t.ok(pr.ok && pr.rcode === 'NOERROR', 'a process in no pod cgroup: unmanaged');
  });

  t.test('a pod whose cgroup kubelet makes after the API showed it is managed without asking first', async (t) => {
    const late = randomUUID();
    await api.do({ op: 'create', resource: 'pods', object: hostPod('late', late, 'node-agent', 'Burstable') });
    await new Promise((r) => setTimeout(r, 500));
    const a = await w.agent(`/kubepods/burstable/pod${late}/ctr`);
    const t0 = Date.now();
    let c = await a.connect('198.18.9.9', 80, { timeoutMs: 1000 });
    while (c.ok && Date.now() - t0 < 15_000) c = await a.connect('198.18.9.9', 80, { timeoutMs: 1000 });
    t.notOk(c.ok, `managed ${Date.now() - t0} ms after its cgroup appeared, before any query`);
    const r = await a.dns(dns('api.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR', 'its policy applies');
    t.ok((await a.connect('198.18.0.10', 443)).ok);
    await a.stop();
    // gone again (the next case watches api.example.com elements)
    await api.do({ op: 'delete', resource: 'pods', key: 'kube-system/late' });
    const mine = async () => (await w.list()).filter((e) => e.source === `${w.base}/kubepods/burstable/pod${late}`);
    const end = Date.now() + 20_000;
    while ((await mine()).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    t.same(await mine(), [], 'deleted: its elements are gone');
  });

  t.test('relabelled into another policy: what the new policy does not allow is revoked at once', async (t) => {
    t.ok((await elementsOf('agent')).length > 0);
    const t0 = Date.now();
    await api.do({ op: 'patchLabels', resource: 'pods', key: 'kube-system/node-agent', labels: { app: 'metrics' } });
    // polled with nft (lighter than a dnswall process per poll): only this pod had api.example.com
    const has = async () => (await w.nft('list', 'set', 'inet', 'dnswall', 'cgroup4')).stdout.includes('comment "api.example.com"');
    const end = Date.now() + 20_000;
    while ((await has()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const ms = Date.now() - t0;
    t.same(await elementsOf('agent'), [], `its api.example.com element is gone (${ms} ms after the label change)`);
    t.notOk((await agent.connect('198.18.0.10', 443, { timeoutMs: 1000 })).ok, 'no longer connects');
    const r = await agent.dns(dns('other.example.com'));
    t.ok(r.ok && r.rcode === 'NOERROR', "its new policy's name is answered");
    t.ok((await agent.connect('198.18.0.11', 443)).ok);
  });

  t.test('a deleted hostNetwork pod loses its elements and is no longer managed', async (t) => {
    t.ok((await elementsOf('metrics')).length > 0);
    t.notOk((await metrics.connect('198.18.9.9', 80, { timeoutMs: 1000 })).ok, 'managed while it exists: an unanswered destination is rejected');
    await api.do({ op: 'delete', resource: 'pods', key: 'kube-system/metrics' });
    const end = Date.now() + 20_000;
    while ((await elementsOf('metrics')).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    t.same(await elementsOf('metrics'), [], 'elements gone');
    // (its processes would be gone with it; this one outlives the pod object, so it shows the set)
    const end2 = Date.now() + 10_000;
    let free = await metrics.connect('198.18.9.9', 80, { timeoutMs: 1000 });
    while (!free.ok && Date.now() < end2) free = await metrics.connect('198.18.9.9', 80, { timeoutMs: 1000 });
    t.ok(free.ok, 'its cgroup left the managed set: no longer filtered');
  });
}
