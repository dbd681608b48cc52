// The four resolvers the bench compares, each started fresh for one workload and stopped
// after it, all but "direct" on the node's pod-side address, so dnsperf's command is the same.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Topology } from '../lib/sandbox/topology';
import { ADDR } from '../lib/sandbox/topology';
import { startDnsmasq } from '../lib/sandbox/dnsmasq-peer';
import { startDaemon } from '../lib/sandbox/daemon-peer';
import { DOMAIN } from './names';

export type TargetName = 'direct' | 'dnsmasq' | 'dnsmasq-nftset' | 'dnswall' | 'dnswall-cache';
export const ALL_TARGETS: TargetName[] = ['direct', 'dnsmasq', 'dnsmasq-nftset', 'dnswall', 'dnswall-cache'];
/** dnswall-cache is the default configuration (answer cache on): what users run. */
export const TARGETS: TargetName[] = ALL_TARGETS;

export interface Running {
  server: string;
  /** pid of the forwarder under test (none for direct) */
  pid?: number;
  /** of these answered addresses, how many are in the set this target programs (none for the plain forwarders) */
  probe?(addresses: string[]): Promise<{ checked: number; found: number; missing: string[] }>;
  stop(): Promise<void>;
}

export const BENCH_NFT = `table inet bench {
  set set4 { type ipv4_addr; flags timeout; timeout 60s; }
}
`;

/**
 * dnswall as the peers run: no answer cache (they run --cache-size=0), and a per-source cap
 * above what one run inserts (one pod asks up to 300k names; the default 10,000 per source would
 * turn the insert path into insert + evict). `cache: true` is the dnswall-cache target. The
 * per-source rate limit is off by default: dnsperf in one pod is one source asking far more than
 * a pod should (bench/flood.ts turns it on).
 */
export function dnswallConfig(opts: { cache?: boolean; sourceQueriesPerSecond?: number } = {}): string {
  const a = ADDR;
  return daemonConfig({ listen: `${a.nodePod1.v4}:53`, upstream: `${a.net.v4}:53`, table: 'dnswall', sources: [`${a.pod1.v4}/32`, `${a.pod2.v4}/32`], ...opts });
}

/** The bench's dnswall configuration on any addresses (dnswallConfig; bench/cpu.ts and chain-micro.ts on loopback). */
export function daemonConfig(o: {
  listen: string;
  upstream: string;
  table: string;
  sources: string[];
  mode?: 'enforce' | 'audit';
  cache?: boolean;
  sourceQueriesPerSecond?: number;
}): string {
  return `listen: ["${o.listen}"]
upstreams: ["${o.upstream}"]
ttl: { min: 10, max: 86400, grace: 10 }
enforce: { mode: ${o.mode ?? 'enforce'}, action: reject }
nftables: { table: ${o.table} }
limits: { maxElementsPerSource: 1000000, maxElements: 1000000, sourceQueriesPerSecond: ${o.sourceQueriesPerSecond ?? 0} }
cache: { enabled: ${o.cache ? 'true' : 'false'} }
policies:
  - name: bench
    sources: [${o.sources.map((x) => `"${x}"`).join(', ')}]
    allow: ["**.${DOMAIN}"]
`;
}

/**
 * kB fields of /proc/PID/status, in MiB (NaN for a field the kernel does not show); throws when
 * the process is gone. The pid is the same inside and out of the netns.
 */
export function statusMiB<K extends string>(pid: number, names: readonly K[]): Record<K, number> {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const out = {} as Record<K, number>;
  for (const k of names) out[k] = Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
  return out;
}

/** VmRSS and VmHWM of pid in MiB, from /proc; null when the process is gone. */
export function rssMiB(pid: number): { rss: number; hwm: number } | null {
  try {
    const m = statusMiB(pid, ['VmRSS', 'VmHWM']);
    return { rss: m.VmRSS, hwm: m.VmHWM };
  } catch {
    return null;
  }
}

async function nft(topo: Topology, args: string[], input?: string): Promise<void> {
  const r = await topo.exec(topo.ns.node, ['nft', ...args], { input, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`nft ${args.join(' ')} in ${topo.ns.node}: ${r.stderr.trim()}`);
}

/** How many of keys (hex) are in `set inet table set`, by single-key lookups (probe-main.js). */
async function probeKeys(topo: Topology, table: string, set: string, keys: string[]): Promise<{ checked: number; found: number; missing: string[] }> {
  const r = await topo.exec(topo.ns.node, [process.execPath, path.join(__dirname, 'probe-main.js'), table, set, ...keys], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`probe of ${table} ${set}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as { checked: number; found: number; missing: string[] };
}

const hexIp = (a: string) => Buffer.from(a.split('.').map(Number)).toString('hex');

/** Deletes table inet T in node if it exists (the next target starts with empty sets). */
async function dropTable(topo: Topology, table: string): Promise<void> {
  await topo.exec(topo.ns.node, ['nft', 'delete', 'table', 'inet', table], { timeoutMs: 30_000 }).catch(() => undefined);
}

export interface StartOptions {
  /** node flags for the dnswall daemon, e.g. --cpu-prof (NODE_OPTIONS refuses that one) */
  dnswallNodeArgs?: string[];
  /** limits.sourceQueriesPerSecond for dnswall (default 0: off, see dnswallConfig) */
  sourceQueriesPerSecond?: number;
}

export async function startTarget(topo: Topology, name: TargetName, o: StartOptions = {}): Promise<Running> {
  const node = topo.ns.node;
  const listen = ADDR.nodePod1.v4;
  switch (name) {
    case 'direct':
      return { server: ADDR.net.v4, stop: () => Promise.resolve() };
    case 'dnsmasq': {
      const p = await startDnsmasq(topo, { ns: node, listen, server: ADDR.net.v4, cacheSize: 0 });
      return { server: listen, pid: p.proc.pid, stop: () => p.stop() };
    }
    case 'dnsmasq-nftset': {
      await dropTable(topo, 'bench');
      await nft(topo, ['-f', '-'], BENCH_NFT);
      const p = await startDnsmasq(topo, { ns: node, listen, server: ADDR.net.v4, cacheSize: 0, nftset: [`/${DOMAIN}/4#inet#bench#set4`] });
      return {
        server: listen,
        pid: p.proc.pid,
        probe: (as) => probeKeys(topo, 'bench', 'set4', as.map(hexIp)),
        stop: async () => {
          await p.stop();
          await dropTable(topo, 'bench');
        },
      };
    }
    case 'dnswall':
    case 'dnswall-cache': {
      await dropTable(topo, 'dnswall');
      // the node flags dnswall ships with, then --dnswall-node-args (a later flag wins)
      const d = await startDaemon(topo, dnswallConfig({ cache: name === 'dnswall-cache', sourceQueriesPerSecond: o.sourceQueriesPerSecond }), {
        logLevel: 'info',
        nodeArgs: o.dnswallNodeArgs,
      });
      return {
        server: listen,
        pid: d.proc.pid,
        probe: (as) =>
          probeKeys(
            topo,
            'dnswall',
            'allow4',
            as.map((a) => hexIp(ADDR.pod1.v4) + hexIp(a)),
          ),
        stop: async () => {
          await d.stop();
          await dropTable(topo, 'dnswall');
        },
      };
    }
  }
}
