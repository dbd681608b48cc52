// The daemon: configuration in, listeners + chain + kernel programmer running. `dnswall serve`
// and the tests drive this class; nothing here parses arguments or touches process signals.
import type { Logger } from 'pino';
import { performance } from 'perf_hooks';
import type { Config } from '../config/types';
import { formatEndpoint } from '../config/addresses';
import { PolicyIndex } from '../policy/index';
import { Upstreams } from '../upstream/upstreams';
import { SetProgrammer } from '../nft/programmer';
import { renderRuleset, installRuleset } from '../nft/ruleset';
import { buildChain, type Chain } from '../plugins/chain';
import { standardPlugins } from '../plugins/order';
import { revokeDisallowed } from './revoke';
import { createRegistry, serveMetrics } from '../metrics/metrics';
import type { PolicyPlugin } from '../plugins/policy/policy';
import type { NftsetPlugin } from '../plugins/nftset/nftset';
import type { CachePlugin } from '../plugins/cache/cache';
import type http from 'node:http';
import { UdpListener } from './udp';
import { TcpListener } from './tcp';
import type { Inherited } from './listen-fds';

export interface BoundAddress {
  host: string;
  udpPort: number;
  tcpPort: number;
  /** transports whose socket was inherited, not bound (listen-fds.ts) */
  inherited?: readonly ('udp' | 'tcp')[];
}

export class Daemon {
  private index: PolicyIndex;
  private upstreams?: Upstreams;
  private programmer?: SetProgrammer;
  private chain?: Chain;
  private udp: UdpListener[] = [];
  private tcp: TcpListener[] = [];
  private metricsServer?: http.Server;

  constructor(private cfg: Config, private readonly log: Logger) {
    this.index = PolicyIndex.compile(cfg.policies);
  }

  get enforcing(): boolean {
    return this.cfg.enforce.mode === 'enforce';
  }

  get plugins() {
    return this.chain?.plugins ?? [];
  }

  /**
   * Install the ruleset (enforce mode), open the kernel programmer, then listen: on the
   * inherited socket of a listen entry where there is one (listen-fds.ts), else bind.
   */
  async start(inherited?: Inherited): Promise<BoundAddress[]> {
    const cfg = this.cfg;
    if (this.index.cgroups.length > 0) {
      this.log.warn({ cgroups: this.index.cgroups.map((c) => c.path) }, 'cgroup sources are not enforced yet: host processes in them are neither filtered nor restricted');
    }
    if (this.enforcing) {
      await installRuleset(renderRuleset(cfg, this.index));
      // Serve at once; the live elements (a previous daemon's) are learned meanwhile.
      this.programmer = new SetProgrammer({ table: cfg.nftables.table, log: this.log.child({ part: 'nft' }), adopt: 'background', limits: cfg.limits });
      await this.programmer.open();
    } else {
      this.log.warn('audit mode: nothing is programmed and nothing is dropped; would-be denials are logged');
    }
    this.upstreams = new Upstreams({ servers: cfg.upstreams, timeoutMs: cfg.limits.upstreamTimeoutMs, log: this.log.child({ part: 'upstream' }) });
    await this.upstreams.start();
    this.chain = buildChain(standardPlugins(cfg, { index: () => this.index, upstreams: this.upstreams, programmer: this.programmer }), this.log);
    const handle = () => this.chain!.handle;
    const bound: BoundAddress[] = [];
    const tcpOpts = { idleTimeoutMs: cfg.limits.tcpIdleTimeoutMs, maxConnections: cfg.limits.tcpMaxConnections };
    for (const [i, ep] of cfg.listen.entries()) {
      const u = new UdpListener(ep, handle, cfg.limits.maxPendingQueries, this.log.child({ part: 'udp' }));
      this.udp.push(u);
      const udpPort = await u.listen(inherited?.udp.get(i));
      // Port 0 (tests): TCP on the port UDP got, as on a real resolver address.
      const t = new TcpListener({ ...ep, port: udpPort }, handle, tcpOpts, this.log.child({ part: 'tcp' }));
      this.tcp.push(t);
      const tcpPort = await t.listen(inherited?.tcp.get(i));
      const kept = (['udp', 'tcp'] as const).filter((tr) => inherited?.[tr].has(i));
      bound.push({ host: ep.host, udpPort, tcpPort, ...(kept.length ? { inherited: kept } : {}) });
    }
    if (cfg.metrics) await this.startMetrics(cfg.metrics);
    this.log.info({ listen: bound, upstreams: cfg.upstreams.map((u) => `${u.host}:${u.port}`), mode: cfg.enforce.mode }, 'serving');
    return bound;
  }

  private async startMetrics(ep: NonNullable<Config['metrics']>): Promise<void> {
    const plugin = <T>(name: string) => this.plugins.find((p) => p.name === name) as T | undefined;
    const reg = createRegistry({
      listeners: () => [
        ...this.udp.map((u, i) => ({ transport: 'udp' as const, listen: formatEndpoint(this.cfg.listen[i]), stats: u.stats })),
        ...this.tcp.map((t, i) => ({ transport: 'tcp' as const, listen: formatEndpoint(this.cfg.listen[i]), stats: t.stats })),
      ],
      policy: () => plugin<PolicyPlugin>('policy')?.stats,
      nftset: () => plugin<NftsetPlugin>('nftset')?.stats,
      upstream: () => this.upstreams?.stats,
      cache: () => plugin<CachePlugin>('cache')?.store,
      programmer: () => this.programmer?.stats,
    });
    this.metricsServer = await serveMetrics(ep, reg);
    this.log.info({ metrics: `http://${formatEndpoint(ep)}/metrics` }, 'metrics');
  }

  /**
   * Swap in a new, already validated configuration: the ruleset's managed-source and static sets
   * in one nft transaction, then the policy index, then every live element the new policy no
   * longer allows for its source is deleted — all before this resolves. Listen addresses and
   * upstreams need a restart.
   */
  async reload(cfg: Config): Promise<void> {
    const t0 = performance.now();
    const index = PolicyIndex.compile(cfg.policies);
    if (this.enforcing) await installRuleset(renderRuleset(cfg, index));
    this.index = index;
    this.cfg = cfg;
    const info: Record<string, unknown> = { policies: cfg.policies.length };
    if (this.programmer) {
      // Answers decided under the old policy: those already queued are committed before the
      // sets are read (bounded wait); those still upstream are decided again by nftset.
      await Promise.race([this.programmer.drained(), delay(cfg.limits.commitTimeoutMs)]);
      try {
        Object.assign(info, await revokeDisallowed(cfg.nftables.table, index, this.programmer));
      } catch (err) {
        // The new policy is in force for new answers; older elements expire on their own.
        info.revokeError = (err as Error).message;
        this.log.error({ err: (err as Error).message }, 'revoking elements the new policy no longer allows failed');
      }
    }
    info.reloadMs = Math.round(performance.now() - t0);
    this.log.info(info, 'configuration reloaded');
  }

  /** Stop listening, finish held answers, leave the kernel state in place. */
  async stop(): Promise<void> {
    this.metricsServer?.close();
    await Promise.all([...this.udp, ...this.tcp].map((l) => l.close()));
    await this.chain?.close();
    await this.upstreams?.close();
    await this.programmer?.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
