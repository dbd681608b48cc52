// A world for the cgroup system tests: the sandbox topology, the zone and web servers in "net",
// and — in the "node" namespace, entered with `nsenter --net=` so the host's /sys (and the
// cgroup v2 mount) stays visible (`ip netns exec` remounts /sys) — the real `dnswall serve` and
// test processes, each placed in its own test cgroup under the v2 mount before it opens a socket.
// Test cgroups are named dnswall-test-<pid>-<random> and removed afterwards.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Test } from 'tap';
import { requireOrSkip } from '../sandbox/need-root';
import { systemMissing, config } from './world';
import { createTopology, ADDR, type Topology } from '../../lib/sandbox/topology';
import { onExitCleanup } from '../../lib/sandbox/cleanup';
import { startZoneServer, startWebServer, type ZoneServerPeer } from '../../lib/sandbox/peers';
import { startDaemon, DNSWALL_BIN, type DaemonPeer } from '../../lib/sandbox/daemon-peer';
import { Agent } from '../../lib/sandbox/agent';
import { runFile } from '../../lib/sandbox/run';
import { findCgroup2Mount } from '../../lib/identity/cgroup/mount';
import type { ZoneFile } from '../../lib/sandbox/zone';
import type { ListedElement } from '../../lib/nft/list';

export { ADDR };

/** Where host processes send their queries: a loopback listen address of the daemon. */
export const HOST_DNS = '127.0.0.1';

export function cgroupMissing(): string | null {
  const sys = systemMissing();
  if (sys) return sys;
  if (!findCgroup2Mount()) return 'needs a cgroup v2 mount (/sys/fs/cgroup or /sys/fs/cgroup/unified)';
  if (spawnOk('nsenter', ['--version'])) return null;
  return 'needs "nsenter" (util-linux)';
}

function spawnOk(cmd: string, args: string[]): boolean {
  try {
    return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

export function requireCgroups(t: Test): boolean {
  return requireOrSkip(t, cgroupMissing());
}

/** The daemon's config: loopback for host processes plus the pods' listen addresses. */
export function cgroupConfig(body: string): string {
  return config(body).replace('listen: [', `listen: ["${HOST_DNS}:53", `);
}

export interface CgroupWorld {
  topo: Topology;
  zone: ZoneServerPeer;
  daemon: DaemonPeer;
  /** the test cgroups' root, relative to the v2 mount: "/dnswall-test-<pid>-<hex>" */
  base: string;
  /** absolute directory of a path relative to the mount */
  dir(rel: string): string;
  /** The cgroup v2 id (inode) of a path relative to the mount. */
  id(rel: string): bigint;
  /** A test process in the node namespace, in cgroup `base + rel` (created if needed). */
  agent(rel: string): Promise<Agent>;
  /** Start (again) the daemon with this config body, in the node namespace via nsenter. */
  startDaemon(body: string): Promise<DaemonPeer>;
  list(): Promise<ListedElement[]>;
  /** `dnswall ARGS` in the node namespace via nsenter; resolves with the result. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  nft(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Remove a test cgroup (its processes must have ended). */
  rmdir(rel: string): Promise<void>;
  destroy(): Promise<void>;
}

export async function createCgroupWorld(prefix: string, zone: ZoneFile, body: string): Promise<CgroupWorld> {
  const mount = findCgroup2Mount()!.path;
  const base = `/dnswall-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  const abs = (rel: string) => path.join(mount, rel);
  const topo = await createTopology({ prefix });
  const removeHook = onExitCleanup(topo);
  const agents: Agent[] = [];
  const children = new Set<ChildProcess>();
  const nsenter = (ns: string, argv: string[], opts: SpawnOptions = {}) => {
    const c = spawn('nsenter', [`--net=/run/netns/${ns}`, ...argv], { stdio: 'pipe', ...opts });
    children.add(c);
    c.once('exit', () => children.delete(c));
    c.on('error', () => children.delete(c));
    return c;
  };
  const nodeSpawner = { spawn: nsenter, ns: topo.ns };
  fs.mkdirSync(abs(base));
  const rmTree = async (rel: string) => {
    // Depth first; a cgroup with processes cannot go: wait for them (bounded).
    const dir = abs(rel);
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) await rmTree(path.join(rel, e.name));
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        fs.rmdirSync(dir);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        if (Date.now() > deadline) throw new Error(`cannot remove test cgroup ${dir}: ${(err as Error).message}`, { cause: err });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  let daemon: DaemonPeer | undefined;
  let zonePeer: ZoneServerPeer | undefined;
  const w: CgroupWorld = {
    topo,
    base,
    get zone() {
      return zonePeer!;
    },
    get daemon() {
      return daemon!;
    },
    set daemon(d: DaemonPeer) {
      daemon = d;
    },
    dir: abs,
    id: (rel) => fs.statSync(abs(rel), { bigint: true }).ino,
    async agent(rel: string) {
      const dir = abs(path.join(base, rel));
      fs.mkdirSync(dir, { recursive: true });
      // The shell moves itself into the cgroup, then becomes the agent: every socket it opens is in it.
      const spawner = {
        spawn: (ns: string, argv: string[], opts?: SpawnOptions) => nsenter(ns, ['sh', '-c', `echo $$ > '${dir}/cgroup.procs' && exec "$@"`, 'sh', ...argv], opts),
      };
      const a = await Agent.start(spawner, topo.ns.node);
      agents.push(a);
      return a;
    },
    async startDaemon(b: string) {
      daemon = await startDaemon(nodeSpawner, cgroupConfig(b));
      return daemon;
    },
    async list() {
      const r = await w.cli('list', '--json', '--table', 'dnswall');
      if (r.code !== 0) throw new Error(`dnswall list failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as ListedElement[];
    },
    cli: (...args: string[]) => runFile('nsenter', [`--net=/run/netns/${topo.ns.node}`, process.execPath, DNSWALL_BIN, ...args], { timeoutMs: 30_000 }),
    nft: (...args: string[]) => runFile('nsenter', [`--net=/run/netns/${topo.ns.node}`, 'nft', ...args]),
    rmdir: (rel: string) => rmTree(path.join(base, rel)),
    async destroy() {
      await Promise.allSettled(agents.map((a) => a.stop()));
      await daemon?.stop().catch(() => undefined);
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await topo.destroy();
      removeHook();
      await rmTree(base);
    },
  };
  try {
    const [z] = await Promise.all([startZoneServer(topo, { zone }), startWebServer(topo, { ports: [80, 443, 853, 8080] })]);
    zonePeer = z;
    await w.startDaemon(body);
    return w;
  } catch (e) {
    await topo.destroy();
    removeHook();
    await rmTree(base).catch(() => undefined);
    throw e;
  }
}
