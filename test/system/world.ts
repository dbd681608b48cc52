// A whole world for system tests: the sandbox topology, the zone server and web servers in
// "net", the real `dnswall serve` in "node", and agents in both pods.
import { spawnSync } from 'node:child_process';
import type { Test } from 'tap';
import { requireOrSkip } from '../sandbox/need-root';
import { createTopology, ADDR, type Topology } from '../../lib/sandbox/topology';
import { onExitCleanup } from '../../lib/sandbox/cleanup';
import { startZoneServer, startWebServer, type ZoneServerPeer } from '../../lib/sandbox/peers';
import { startDaemon, DNSWALL_BIN, type DaemonPeer } from '../../lib/sandbox/daemon-peer';
import { Agent, type DnsOk } from '../../lib/sandbox/agent';
import type { ZoneFile } from '../../lib/sandbox/zone';
import type { ListedElement } from '../../lib/nft/list';

export { ADDR };

/** Why this machine cannot run system tests, or null. */
export function systemMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables)';
  for (const [cmd, arg] of [
    ['ip', '-V'],
    ['nft', '--version'],
  ]) {
    const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return `needs "${cmd}" (${r.error?.message ?? r.stderr.trim()})`;
  }
  return null;
}

/** true when the test may go on; in CI a missing prerequisite is a failure, never a skip. */
export function requireSystem(t: Test): boolean {
  return requireOrSkip(t, systemMissing());
}

export interface World {
  topo: Topology;
  zone: ZoneServerPeer;
  daemon: DaemonPeer;
  pod1: Agent;
  pod2: Agent;
  /** `dnswall list --json` inside the node namespace */
  list(): Promise<ListedElement[]>;
  /** `nft ...` inside the node namespace */
  nft(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  destroy(): Promise<void>;
}

/** The listen addresses the pods use: the node's side of each pod link, v4 and v6. */
export const LISTEN = [ADDR.nodePod1.v4, ADDR.nodePod2.v4, `[${ADDR.nodePod1.v6}]`, `[${ADDR.nodePod2.v6}]`].map((h) => `"${h}:53"`).join(', ');

export function config(body: string): string {
  return `listen: [${LISTEN}]\nupstreams: ["${ADDR.net.v4}:53"]\n${body}`;
}

export async function createWorld(prefix: string, zone: ZoneFile, configBody: string, opts: { logLevel?: string } = {}): Promise<World> {
  const topo = await createTopology({ prefix });
  const removeHook = onExitCleanup(topo);
  try {
    const [z] = await Promise.all([startZoneServer(topo, { zone }), startWebServer(topo, { ports: [80, 443, 853, 8080] })]);
    const daemon = await startDaemon(topo, config(configBody), { logLevel: opts.logLevel });
    const [pod1, pod2] = await Promise.all([Agent.start(topo, topo.ns.pod1), Agent.start(topo, topo.ns.pod2)]);
    return {
      topo,
      zone: z,
      daemon,
      pod1,
      pod2,
      async list() {
        const r = await topo.exec(topo.ns.node, [process.execPath, DNSWALL_BIN, 'list', '--json', '--table', 'dnswall']);
        if (r.code !== 0) throw new Error(`dnswall list failed: ${r.stderr}`);
        return JSON.parse(r.stdout) as ListedElement[];
      },
      nft: (...args: string[]) => topo.exec(topo.ns.node, ['nft', ...args]),
      async destroy() {
        await Promise.allSettled([pod1.stop(), pod2.stop()]);
        await daemon.stop().catch(() => undefined);
        await topo.destroy();
        removeHook();
      },
    };
  } catch (e) {
    await topo.destroy();
    removeHook();
    throw e;
  }
}

/** A DNS answer or a thrown error naming what went wrong. */
export async function resolve(agent: Agent, req: Parameters<Agent['dns']>[0]): Promise<DnsOk> {
  const r = await agent.dns({ timeoutMs: 3000, ...req });
  if (!r.ok) throw new Error(`dns ${req.name} via ${req.server}: ${r.error} ${r.message ?? ''}`);
  return r;
}
