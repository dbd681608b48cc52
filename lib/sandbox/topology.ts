// A throw-away network of four namespaces: two pods, the node between them and an "internet".
//
//   pod1 eth0 ──── node veth-pod1          node veth-net ──── eth0 net (holds 198.18.0.0/15
//   pod2 eth0 ──── node veth-pod2                                    and 2001:db8:ff::/48)
//
// Every address is from a documentation range, so nothing here can reach a real host.
// Node cannot enter a namespace itself: every process inside one is `ip netns exec NS ...`.

import { spawn as spawnChild, ChildProcess, SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { runFile, runFileSync, RunResult } from './run';

export type NsRole = 'node' | 'pod1' | 'pod2' | 'net';
export interface AddrPair {
  v4: string;
  v6: string;
}

export interface ExecOptions {
  /** Kill the command and reject after this long (default 10 s). */
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
}

export interface Topology {
  /** The netns names, `${prefix}-${shortid}-${role}`. */
  ns: Record<NsRole, string>;
  addr: {
    pod1: AddrPair;
    pod2: AddrPair;
    nodePod1: AddrPair;
    nodePod2: AddrPair;
    nodeNet: AddrPair;
    net: AddrPair;
  };
  /** Interface names inside each namespace (for nft `iifname` rules). */
  links: { pod1: string; pod2: string; net: string; node: { pod1: string; pod2: string; net: string } };
  /** Run argv inside the namespace (no shell). Rejects on timeout or when argv cannot start. */
  exec(ns: string, argv: string[], opts?: ExecOptions): Promise<RunResult>;
  /** Start a long-lived process inside the namespace (stdio piped: read its stdout, or pass stdio); destroy() kills it. */
  spawn(ns: string, argv: string[], opts?: SpawnOptions): ChildProcess;
  /** Kill what was spawned and delete the four namespaces. Idempotent. */
  destroy(): Promise<void>;
  /** The same, synchronously, for process 'exit' handlers. */
  destroySync(): void;
}

export const ADDR: Topology['addr'] = {
  pod1: { v4: '192.0.2.10', v6: '2001:db8:1::10' },
  nodePod1: { v4: '192.0.2.1', v6: '2001:db8:1::1' },
  pod2: { v4: '198.51.100.10', v6: '2001:db8:2::10' },
  nodePod2: { v4: '198.51.100.1', v6: '2001:db8:2::1' },
  nodeNet: { v4: '203.0.113.1', v6: '2001:db8:3::1' },
  net: { v4: '203.0.113.2', v6: '2001:db8:3::2' },
};

/** The "internet": any address in these is a live host in net. */
export const INTERNET = { v4: '198.18.0.0/15', v6: '2001:db8:ff::/48' };

const LINKS: Topology['links'] = {
  pod1: 'eth0',
  pod2: 'eth0',
  net: 'eth0',
  node: { pod1: 'veth-pod1', pod2: 'veth-pod2', net: 'veth-net' },
};
const ROLES: NsRole[] = ['node', 'pod1', 'pod2', 'net'];
const NAME_RE = /^[a-z][a-z0-9]{0,15}$/;

/** pid in base 36 plus random bytes: parallel runs never collide, and a stale one names its pid. */
function shortId(): string {
  return `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
}

function ipBatch(lines: string[]): string {
  return lines.join('\n') + '\n';
}

/** Per-namespace `ip -batch` scripts: addresses (nodad: usable at once), links up, routes. */
function scripts(): Record<NsRole, string[]> {
  const a = ADDR,
    L = LINKS;
  const pod = (dev: string, me: AddrPair, gw: AddrPair) => [
    'link set lo up',
    `addr add ${me.v4}/24 dev ${dev}`,
    `addr add ${me.v6}/64 dev ${dev} nodad`,
    `link set ${dev} up`,
    `route add default via ${gw.v4} dev ${dev}`,
    `route add ::/0 via ${gw.v6} dev ${dev}`,
  ];
  return {
    pod1: pod(L.pod1, a.pod1, a.nodePod1),
    pod2: pod(L.pod2, a.pod2, a.nodePod2),
    node: [
      'link set lo up',
      ...(
        [
          ['pod1', a.nodePod1, 24],
          ['pod2', a.nodePod2, 24],
          ['net', a.nodeNet, 24],
        ] as const
      ).flatMap(([k, me]) => [`addr add ${me.v4}/24 dev ${L.node[k]}`, `addr add ${me.v6}/64 dev ${L.node[k]} nodad`, `link set ${L.node[k]} up`]),
      `route add ${INTERNET.v4} via ${a.net.v4} dev ${L.node.net}`,
      `route add ${INTERNET.v6} via ${a.net.v6} dev ${L.node.net}`,
    ],
    net: [
      'link set lo up',
      `addr add ${a.net.v4}/24 dev ${L.net}`,
      `addr add ${a.net.v6}/64 dev ${L.net} nodad`,
      `link set ${L.net} up`,
      `route add local ${INTERNET.v4} dev lo`,
      `route add local ${INTERNET.v6} dev lo`,
      `route add 192.0.2.0/24 via ${a.nodeNet.v4} dev ${L.net}`,
      `route add 198.51.100.0/24 via ${a.nodeNet.v4} dev ${L.net}`,
      `route add 2001:db8:1::/64 via ${a.nodeNet.v6} dev ${L.net}`,
      `route add 2001:db8:2::/64 via ${a.nodeNet.v6} dev ${L.net}`,
    ],
  };
}

/** sysctls per namespace, set before links go up: no DAD on any interface (link-local too). */
function sysctls(role: NsRole): string[] {
  const devs = role === 'node' ? Object.values(LINKS.node) : [LINKS[role]];
  const out = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', ...devs.map((d) => `net.ipv6.conf.${d}.accept_dad=0`)];
  if (role === 'node') out.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
  return out;
}

// A wildcard-bound UDP socket in net would answer from 203.0.113.2 (Node has no IP_PKTINFO),
// so the pod's connected socket would ignore the echo. DNAT the internet ranges to net's own
// address for UDP only: conntrack then rewrites the reply's source back to the address asked.
const NET_NFT = `table inet dwsandbox {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    meta l4proto udp ip daddr ${INTERNET.v4} dnat ip to ${ADDR.net.v4}
    meta l4proto udp ip6 daddr ${INTERNET.v6} dnat ip6 to ${ADDR.net.v6}
  }
}
`;

function check(r: RunResult, what: string): void {
  if (r.code !== 0) throw new Error(`sandbox: ${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
}

export async function createTopology(opts: { prefix?: string } = {}): Promise<Topology> {
  const prefix = opts.prefix ?? 'dw';
  if (!NAME_RE.test(prefix)) throw new Error(`sandbox: prefix "${prefix}" must match ${NAME_RE}`);
  const id = shortId();
  const ns = Object.fromEntries(ROLES.map((r) => [r, `${prefix}-${id}-${r}`])) as Record<NsRole, string>;
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const topo: Topology = {
    ns,
    addr: ADDR,
    links: LINKS,
    exec(name, argv, eopts = {}) {
      return runFile('ip', ['netns', 'exec', ownNs(name), ...argv], eopts);
    },
    spawn(name, argv, sopts = {}) {
      if (destroyed) throw new Error('sandbox: topology already destroyed');
      const child = spawnChild('ip', ['netns', 'exec', ownNs(name), ...argv], { stdio: 'pipe', ...sopts });
      children.add(child);
      child.once('exit', () => children.delete(child));
      child.on('error', () => children.delete(child)); // reported to the caller's own listener
      return child;
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await killAll(children, ns);
      await runFile('ip', ['-force', '-batch', '-'], { input: ipBatch(ROLES.map((r) => `netns del ${ns[r]}`)) });
    },
    destroySync() {
      if (destroyed) return;
      destroyed = true;
      killAllSync(children, ns);
      runFileSync('ip', ['-force', '-batch', '-'], ipBatch(ROLES.map((r) => `netns del ${ns[r]}`)));
    },
  };
  function ownNs(name: string): string {
    if (!Object.values(ns).includes(name)) throw new Error(`sandbox: "${name}" is not a namespace of this topology`);
    return name;
  }

  try {
    // 1. namespaces and veth pairs, each end created directly inside its namespace
    const L = LINKS;
    check(
      await runFile('ip', ['-batch', '-'], {
        input: ipBatch([
          ...ROLES.map((r) => `netns add ${ns[r]}`),
          `link add ${L.node.pod1} netns ${ns.node} type veth peer name ${L.pod1} netns ${ns.pod1}`,
          `link add ${L.node.pod2} netns ${ns.node} type veth peer name ${L.pod2} netns ${ns.pod2}`,
          `link add ${L.node.net} netns ${ns.node} type veth peer name ${L.net} netns ${ns.net}`,
        ]),
      }),
      'creating namespaces',
    );
    // 2. sysctls, then 3. addresses and routes, all four namespaces in parallel
    const sc = scripts();
    await Promise.all(
      ROLES.map(async (r) => {
        check(await runFile('ip', ['netns', 'exec', ns[r], 'sysctl', '-q', '-w', ...sysctls(r)]), `sysctl in ${ns[r]}`);
        check(await runFile('ip', ['-n', ns[r], '-batch', '-'], { input: ipBatch(sc[r]) }), `addresses in ${ns[r]}`);
        if (r === 'net') check(await runFile('ip', ['netns', 'exec', ns[r], 'nft', '-f', '-'], { input: NET_NFT }), `nft in ${ns[r]}`);
      }),
    );
    await untilNoTentative(Object.values(ns));
  } catch (err) {
    await topo.destroy();
    throw err;
  }
  return topo;
}

/** A tentative IPv6 address drops what is sent from it; DAD is off, so this is a bounded check. */
async function untilNoTentative(names: string[]): Promise<void> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const outs = await Promise.all(names.map((n) => runFile('ip', ['-n', n, '-6', 'addr', 'show', 'tentative'])));
    const busy = outs.filter((r) => r.stdout.trim() !== '');
    if (busy.length === 0) return;
    if (Date.now() > deadline) throw new Error(`sandbox: IPv6 addresses still tentative after 3 s: ${busy[0].stdout.trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function nsPids(name: string): Promise<number[]> {
  const r = await runFile('ip', ['netns', 'pids', name]).catch(() => null);
  return r && r.code === 0 ? parsePids(r.stdout) : [];
}
function parsePids(s: string): number[] {
  return s
    .split(/\s+/)
    .filter((x) => /^\d+$/.test(x))
    .map(Number)
    .filter((p) => p > 1 && p !== process.pid);
}
function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** SIGTERM what we spawned, then SIGKILL whatever still lives in our namespaces (only those). */
async function killAll(children: Set<ChildProcess>, ns: Record<NsRole, string>): Promise<void> {
  const live = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of live) c.kill('SIGTERM');
  await Promise.race([
    Promise.all(live.map((c) => new Promise((res) => (c.exitCode !== null || c.signalCode !== null ? res(0) : c.once('exit', res))))),
    new Promise((res) => setTimeout(res, 1000).unref()),
  ]);
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  const pids = (await Promise.all(Object.values(ns).map(nsPids))).flat();
  for (const p of pids) kill(p, 'SIGKILL');
}

function killAllSync(children: Set<ChildProcess>, ns: Record<NsRole, string>): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const name of Object.values(ns)) {
    const r = runFileSync('ip', ['netns', 'pids', name], '');
    if (r.code === 0) for (const p of parsePids(r.stdout)) kill(p, 'SIGKILL');
  }
}
