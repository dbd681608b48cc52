// The cost of the identity step, two numbers:
// 1. the sock_diag lookup per local query, µs: a UDP "resolver" socket and a connected client
//    socket placed in a test cgroup, inside a private network namespace; N exact lookups one at a
//    time and 64 in flight. Run as: ip netns add X; nsenter --net=/run/netns/X node dist/bench/identity.js lookup
// 2. the pod path with and without cgroup sources: the identity and policy plugins over
//    pod-address queries (not local: one Set lookup says so), queries/s of the chain in process,
//    interleaved rounds. `node dist/bench/identity.js pods`
// 3. the query path with and without `kubernetes:`: the same chain over pod-address queries, the
//    sources selected by a CIDR (IP identity) or by a pod selector (pod identity fed by the real
//    watch from the in-process test API server, 1000 pods), interleaved rounds.
//    `node dist/bench/identity.js kube`
// Under the shared lock: flock /work/notes/bench.lock ...
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { SockDiag } from '../lib/identity/cgroup/sockdiag';
import { findCgroup2Mount } from '../lib/identity/cgroup/mount';
import { IdentityPlugin } from '../lib/plugins/identity/identity';
import { PolicyPlugin } from '../lib/plugins/policy/policy';
import { buildChain } from '../lib/plugins/chain';
import { PolicyIndex } from '../lib/policy/index';
import { parseConfig } from '../lib/config/load';
import { CgroupResolver } from '../lib/identity/cgroup/resolver';
import { CgroupTree } from '../lib/identity/cgroup/tree';
import { LocalAddresses } from '../lib/identity/cgroup/local';
import { parseQuery } from '../lib/dns/query';
import type { Request } from '../lib/plugins/types';
import * as dnsPacket from 'dns-packet';
import type { Resolver } from '../lib/identity/resolver';
import { PodIdentity } from '../lib/identity/pod/resolver';
import { startEnv, pod } from '../test/kube/helpers';

async function lookup(n: number): Promise<void> {
  const mount = findCgroup2Mount();
  if (!mount) throw new Error('no cgroup v2 mount');
  const cg = path.join(mount.path, `dnswall-bench-${process.pid}`);
  fs.mkdirSync(cg);
  try {
    const srv = dgram.createSocket('udp4');
    await new Promise<void>((r) => srv.bind(5353, '127.0.0.1', () => r()));
    fs.writeFileSync(path.join(cg, 'cgroup.procs'), String(process.pid));
    const cli = dgram.createSocket('udp4');
    await new Promise<void>((r) => cli.bind(0, () => r()));
    cli.connect(5353, '127.0.0.1');
    await new Promise((r) => cli.once('connect', r));
    fs.writeFileSync(path.join(mount.path, 'cgroup.procs'), String(process.pid)); // back out, so cg can go
    const port = (cli.address() as { port: number }).port;
    const q = { transport: 'udp' as const, family: 4 as const, peer: { address: '127.0.0.1', port }, local: { address: '127.0.0.1', port: 5353 } };
    const d = new SockDiag();
    const want = fs.statSync(cg, { bigint: true }).ino;
    for (let i = 0; i < 2000; i++) await d.lookup(q); // warm-up (JIT)
    const rounds: string[] = [];
    for (let round = 0; round < 3; round++) {
      let t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const r = await d.lookup(q);
        if (!('id' in r) || r.id !== want) throw new Error(`wrong lookup result ${JSON.stringify(r, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
      const seq = Number(process.hrtime.bigint() - t0) / n / 1000;
      t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i += 64) await Promise.all(Array.from({ length: 64 }, () => d.lookup(q)));
      const par = Number(process.hrtime.bigint() - t0) / n / 1000;
      rounds.push(`round ${round + 1}: ${seq.toFixed(1)} µs/lookup one at a time, ${par.toFixed(1)} µs/lookup with 64 in flight`);
    }
    console.log(`sock_diag exact lookup, ${n} per round, connected UDP client in ${cg}:\n  ${rounds.join('\n  ')}`);
    d.close();
    cli.close();
    srv.close();
  } finally {
    fs.rmdirSync(cg);
  }
}

async function pods(n: number): Promise<void> {
  const log = pino({ level: 'silent' });
  const withCg = PolicyIndex.compile(
    parseConfig(
      `policies:
  - name: pods
    sources: ["10.244.0.0/16"]
    allow: ["*.example.com"]
  - name: host
    sources: ["cgroup:/system.slice/backup.service"]
    allow: ["*.backup.example.com"]
`,
      'b.yaml',
    ).policies,
  );
  const mount = findCgroup2Mount()?.path ?? '/sys/fs/cgroup';
  const resolver = new CgroupResolver(
    new CgroupTree(mount, ['/system.slice/backup.service']),
    { lookup: () => Promise.resolve({ error: 'unused' }) },
    new LocalAddresses(['169.254.20.10']),
  );
  const bottom = () => Promise.resolve({ wire: Buffer.alloc(0), rcode: 0, origin: 'upstream' as const });
  const wire = dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'api.example.com', type: 'A' }] });
  const query = parseQuery(wire);
  const req = (i: number): Request => ({
    wire,
    query,
    peer: { address: `10.244.${(i >> 8) & 255}.${i & 255}`, family: 4, port: 40000 },
    local: { address: '169.254.20.10', port: 53 },
    transport: 'udp',
    maxReplySize: 512,
    received: 0n,
    timings: {},
  });
  // the chain's bottom is "no next plugin" (SERVFAIL synthesis): replace by a trivial handler
  const handle = (which: 'before' | 'after') => {
    const c = buildChain(
      [
        which === 'before' ? new IdentityPlugin({ index: () => withCg }) : new IdentityPlugin({ index: () => withCg, resolvers: [resolver] }),
        new PolicyPlugin({ index: () => withCg, mode: 'enforce', denyResponse: 'nxdomain' }),
        { name: 'stop', setup: () => ({ down: bottom }) },
      ],
      log,
      undefined,
      false,
    );
    return c.handle;
  };
  const h = { before: handle('before'), after: handle('after') };
  for (let i = 0; i < 50_000; i++) {
    await h.before(req(i));
    await h.after(req(i));
  }
  const out: Record<string, number[]> = { before: [], after: [] };
  for (let round = 0; round < 5; round++) {
    for (const which of ['before', 'after'] as const) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await h[which](req(i));
      out[which].push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
  }
  const fmt = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} q/s (median ${Math.round([...xs].sort((a, b) => a - b)[2])})`;
  console.log(
    `pod path, identity + policy chain in process, ${n} queries per round, 5 interleaved rounds:\n  before (no cgroup resolver): ${fmt(out.before)}\n  after (cgroup sources configured, resolver asked first): ${fmt(out.after)}`,
  );
}

async function kube(n: number): Promise<void> {
  const log = pino({ level: 'silent' });
  const env = await startEnv();
  try {
    env.server.create('namespaces', { metadata: { name: 'shop' } });
    env.server.create('nodes', { metadata: { name: 'n1' } });
    for (let i = 0; i < 1000; i++) env.server.create('pods', pod('shop', `web-${i}`, 'n1', `10.244.${Math.floor(i / 250)}.${(i % 250) + 1}`, { app: 'web' }));
    const byCidr = PolicyIndex.compile(parseConfig('policies:\n  - name: web\n    sources: ["10.244.0.0/16"]\n    allow: ["*.example.com"]\n', 'a.yaml').policies);
    const cfg = parseConfig(
      'kubernetes: { podCIDRs: ["10.244.0.0/16"] }\npolicies:\n  - name: web\n    sources: [{ podSelector: { matchLabels: { app: web } } }]\n    allow: ["*.example.com"]\n',
      'b.yaml',
    );
    const byPod = PolicyIndex.compile(cfg.policies);
    const ids = new PodIdentity(cfg.kubernetes!, env.client, 'n1', cfg.policies, () => byPod, null, log);
    ids.start();
    while (!ids.ready || ids.stats.selectedPods < 1000) await new Promise((r) => setTimeout(r, 20));
    const bottom = () => Promise.resolve({ wire: Buffer.alloc(0), rcode: 0, origin: 'upstream' as const });
    const wire = dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'api.example.com', type: 'A' }] });
    const query = parseQuery(wire);
    const req = (i: number): Request => ({
      wire,
      query,
      peer: { address: `10.244.${Math.floor((i % 1000) / 250)}.${(i % 250) + 1}`, family: 4, port: 40000 },
      local: { address: '169.254.20.10', port: 53 },
      transport: 'udp',
      maxReplySize: 512,
      received: 0n,
      timings: {},
    });
    const chain = (index: PolicyIndex, resolvers: Resolver[]) =>
      buildChain(
        [
          new IdentityPlugin({ index: () => index, resolvers }),
          new PolicyPlugin({ index: () => index, mode: 'enforce', denyResponse: 'nxdomain' }),
          { name: 'stop', setup: () => ({ down: bottom }) },
        ],
        log,
        undefined,
        false,
      ).handle;
    const h = { cidr: chain(byCidr, []), pods: chain(byPod, [ids]) };
    const probe = await h.pods(req(0));
    if (probe.rcode !== 0) throw new Error('the pod path did not allow the name: not measuring a denial');
    for (let i = 0; i < 50_000; i++) {
      await h.cidr(req(i));
      await h.pods(req(i));
    }
    const out: Record<string, number[]> = { cidr: [], pods: [] };
    for (let round = 0; round < 5; round++) {
      for (const which of ['cidr', 'pods'] as const) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) await h[which](req(i));
        out[which].push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
      }
    }
    const fmt = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} q/s (median ${Math.round([...xs].sort((a, b) => a - b)[2])})`;
    console.log(
      `identity + policy chain in process, 1000 pods, ${n} queries per round, 5 interleaved rounds:\n  without kubernetes: (CIDR source): ${fmt(out.cidr)}\n  with kubernetes: (pod selector, pod identity): ${fmt(out.pods)}`,
    );
    await ids.stop();
  } finally {
    await env.close();
  }
}

const mode = process.argv[2];
const n = Number(process.argv[3] ?? (mode === 'pods' ? 200_000 : 20_000));
(mode === 'lookup' ? lookup(n) : mode === 'pods' ? pods(n) : mode === 'kube' ? kube(n) : Promise.reject(new Error('usage: identity.js lookup|pods|kube [N]'))).then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
