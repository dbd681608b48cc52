// The daemon: configuration in, listeners + chain + kernel programmer running. `dnswall serve`
// and the tests drive this class; nothing here parses arguments or touches process signals.
import type { Logger } from 'pino';
import { performance } from 'perf_hooks';
import type { Config } from '../config/types';
import { formatEndpoint } from '../config/addresses';
import { PolicyIndex } from '../policy/index';
import { Upstreams } from '../upstream/upstreams';
import { SetProgrammer, type SetProgrammerOptions } from '../nft/programmer';
import { parseId } from '../nft/expiry';
import { renderRuleset, installRuleset } from '../nft/ruleset';
import { buildChain, type Chain } from '../plugins/chain';
import { standardPlugins } from '../plugins/order';
import { revokeDisallowed } from './revoke';
import { planReload } from './reload-plan';
import { MetricsRegistry } from '../metrics/registry';
import { serveMetrics } from '../metrics/http';
import { registerServerMetrics, type ListenerView } from './metrics';
import { registerProgrammerMetrics } from '../nft/metrics';
import { registerFairnessMetrics } from '../fairness/metrics';
import { registerCgroupMetrics } from '../identity/cgroup/metrics';
import { registerPodMetrics } from '../identity/pod/metrics';
import type { BatchInfo } from '../nft/programmer';
import type { CachePlugin } from '../plugins/cache/cache';
import { SET_DEFINITIONS } from '../nft/ruleset';
import { serveHealth, type ReadyCheck } from '../health/health';
import { rulesetCheck, kernelCheck, upstreamCheck } from '../health/checks';
import * as dnsPacket from 'dns-packet';
import { DropsService, dropFilter } from '../drops/drops';
import { ControlServer } from '../control/server';
import { decodeKey } from '../nft/keys';
import { AnswerGuard } from '../plugins/guard/ranges';
import type http from 'node:http';
import { UdpListener, type UdpFairness } from './udp';
import { TcpListener } from './tcp';
import type { Inherited } from './listen-fds';
import { SourceBudget } from '../fairness/budget';
import { KernelFairnessReader } from '../fairness/kernel';
import { setupCgroups, cgroupResolver, GONE } from './cgroups';
import type { CgroupIdentity } from '../identity/cgroup/identity';
import { startPodIdentity, podsHandler, type PodIdentity } from './pods';

/** Listening on port 0: how many UDP ports to try for one whose TCP twin is free. */
const PORT0_ATTEMPTS = 8;

export interface BoundAddress {
  host: string;
  udpPort: number;
  tcpPort: number;
  /** transports whose socket was inherited, not bound (listen-fds.ts) */
  inherited?: readonly ('udp' | 'tcp')[];
}

export type ReloadResult = 'applied' | 'partial' | 'rejected' | 'failed';

export interface ReloadOutcome {
  result: ReloadResult;
  changed: string[];
  /** keys (with why) not in force after this reload */
  notApplied: string[];
}

/** What the daemon needs of the kernel programmer (SetProgrammer; tests pass a recording fake). */
export type Programmer = Pick<SetProgrammer, 'open' | 'add' | 'remove' | 'drained' | 'close' | 'readLive' | 'stats' | 'setLimits' | 'nameOf' | 'limits' | 'sizes'> &
  Partial<Pick<SetProgrammer, 'revokeFromBook' | 'bookIncomplete' | 'prepare' | 'hold'>>;

/** The daemon's kernel side, injectable so its wiring is tested without root (defaults: the real ones). */
export interface DaemonDeps {
  /** Loads a ruleset script (default: `nft -f -`). */
  installRuleset?: (script: string) => Promise<void>;
  /** Makes the allow-set programmer (default: a SetProgrammer on a netlink socket). */
  programmer?: (opts: SetProgrammerOptions) => Programmer;
  /** dnswall's version, for dnswall_build_info */
  version?: string;
}

/** Keys that size the programmer's book (and the kernel sets). */
const CAP_KEYS = new Set(['limits.maxElements', 'limits.maxElementsPerSource', 'limits.maxAddressesPerName']);

/** The same configuration with the accepting (audit) verdict: sets and counters, no rejection. */
function audited(cfg: Config): Config {
  return { ...cfg, enforce: { ...cfg.enforce, mode: 'audit' } };
}

export class Daemon {
  private index: PolicyIndex;
  private guard: AnswerGuard;
  private upstreams?: Upstreams;
  private programmer?: Programmer;
  private chain?: Chain;
  /** pod identity from the Kubernetes watch (the `kubernetes:` key with pod selector sources) */
  pods?: PodIdentity;
  private udp: UdpListener[] = [];
  private tcp: TcpListener[] = [];
  private metricsServer?: http.Server;
  private healthServer?: http.Server;
  private control?: ControlServer;
  /** the last nftables batch's outcome, for /readyz */
  private lastBatch: { ok: boolean; at: number; error?: string } | null = null;
  /** Every part registers its own metrics here (served when `metrics:` is set). */
  readonly metrics: MetricsRegistry;
  private readonly onBatchMetrics: (info: BatchInfo) => void;
  /** drops the kernel logged, explained */
  readonly drops: DropsService;
  private budget?: SourceBudget;
  private readonly udpFairness: (UdpFairness & { port: number })[] = [];
  private kernelFairness?: KernelFairnessReader;

  private readonly install: (script: string) => Promise<void>;
  private readonly newProgrammer: (opts: SetProgrammerOptions) => Programmer;
  /** the cgroup identity of local senders; absent while no policy has a cgroup source */
  private cgroups?: CgroupIdentity;

  constructor(
    private cfg: Config,
    private readonly log: Logger,
    deps: DaemonDeps = {},
  ) {
    this.index = PolicyIndex.compile(cfg.policies);
    this.guard = AnswerGuard.fromConfig(cfg);
    this.install = deps.installRuleset ?? ((script) => installRuleset(script));
    this.newProgrammer = deps.programmer ?? ((opts) => new SetProgrammer(opts));
    this.metrics = new MetricsRegistry({ process: true, version: deps.version });
    registerServerMetrics(this.metrics, () => this.listenerViews(), this.reloads);
    this.onBatchMetrics = registerProgrammerMetrics(this.metrics, () => this.programmer);
    registerFairnessMetrics(
      this.metrics,
      () => this.budget,
      () => this.kernelFairness,
    );
    registerPodMetrics(this.metrics, () => this.pods);
    this.drops = new DropsService({
      group: cfg.drops.logGroup,
      index: () => this.index,
      log: this.log.child({ part: 'drops' }),
      metrics: this.metrics,
      pod: (address, index) => {
        const o = this.pods?.podOf(address);
        return o && { name: `${o.namespace}/${o.name}`, selection: this.pods!.podSelection(address, index) };
      },
      cgroup: async (p) => {
        const cg = this.cgroups;
        if (!cg || p.sport === undefined || p.port === undefined || (p.proto !== 'tcp' && p.proto !== 'udp')) return undefined;
        // The sender's own socket: its end is the packet's source, the other end its destination.
        const r = await cg.diag.lookup({ transport: p.proto, family: p.family, peer: { address: p.source, port: p.sport }, local: { address: p.destination, port: p.port } });
        return 'id' in r ? { id: r.id, path: cg.pathOf(r.id) } : undefined;
      },
    });
  }

  private listenerViews(): ListenerView[] {
    return [
      ...this.udp.map((u, i) => ({ transport: 'udp' as const, listen: formatEndpoint(this.cfg.listen[i]), stats: u.stats })),
      ...this.tcp.map((t, i) => ({ transport: 'tcp' as const, listen: formatEndpoint(this.cfg.listen[i]), stats: t.stats })),
    ];
  }

  /** The kernel programmer's options, with the daemon's hooks: metrics, /readyz, evictions for drops. */
  private programmerOptions(cfg: Config): SetProgrammerOptions {
    return {
      table: cfg.nftables.table,
      log: this.log.child({ part: 'nft' }),
      adopt: 'background',
      limits: cfg.limits,
      stateFile: cfg.nftables.stateFile ?? null,
      // the client's TTL plus half the grace must be left; then the answer needs no kernel round trip
      refreshSlackMs: cfg.ttl.grace * 500,
      onEvict: (list) => {
        for (const ev of list) {
          const { set, key } = parseId(ev.id);
          const k = decodeKey(set, key);
          if (k) this.drops.evicted(k.source, k.destination, ev.cap);
        }
      },
      onBatch: (info) => {
        this.onBatchMetrics(info);
        this.lastBatch = { ok: !info.error, at: Date.now(), error: info.error?.message };
      },
    };
  }

  /** The request chain (after start()). */
  get requestChain(): Chain | undefined {
    return this.chain;
  }

  /** The listeners, one UDP and one TCP per listen entry (after start()). */
  get listeners(): { udp: readonly UdpListener[]; tcp: readonly TcpListener[] } {
    return { udp: this.udp, tcp: this.tcp };
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
    const cgroups = setupCgroups(cfg, this.index, this.log); // throws (exit 1) without a cgroup v2 mount
    if (this.enforcing) {
      const programmer = this.newProgrammer(this.programmerOptions(cfg));
      // The state file is proven by the nf_tables generation *before* our own install (itself a
      // transaction): prepare() opens the change watch and reads both (lib/nft/restore.ts).
      await programmer.prepare?.();
      try {
        await this.install(renderRuleset(cfg, this.index));
      } catch (e) {
        await programmer.close().catch(() => undefined);
        throw e;
      }
      // Serve at once; the live elements (a previous daemon's) are learned meanwhile (or were, from the state file).
      this.programmer = programmer;
      await this.programmer.open();
    } else {
      this.log.warn('audit mode: nothing is programmed and nothing is dropped; would-be denials are logged');
    }
    if (cgroups) {
      await cgroups.start(); // the managed cgroup ids are in the kernel before the first answer
      this.cgroups = cgroups;
      registerCgroupMetrics(this.metrics, cgroups);
    }
    this.upstreams = new Upstreams({ servers: cfg.upstreams, timeoutMs: cfg.limits.upstreamTimeoutMs, log: this.log.child({ part: 'upstream' }), metrics: this.metrics });
    await this.upstreams.start();
    this.pods = startPodIdentity(cfg, () => this.index, this.programmer, this.log.child({ part: 'kubernetes' }), this.cgroups);
    this.chain = this.newChain(cfg);
    await this.drops.start();
    const handle = () => this.chain!.handle;
    const bound: BoundAddress[] = [];
    const budget = this.startFairness();
    const tcpOpts = { idleTimeoutMs: cfg.limits.tcpIdleTimeoutMs, maxConnections: cfg.limits.tcpMaxConnections, budget };
    for (const [i, ep] of cfg.listen.entries()) {
      // UDP rate: the kernel meters it when the ruleset is installed (not for port 0, tests)
      const fair = { budget, meter: !this.enforcing || ep.port === 0, port: ep.port };
      this.udpFairness.push(fair);
      let udpPort: number;
      let tcpPort: number;
      for (let attempt = 1; ; attempt++) {
        const u = new UdpListener(ep, handle, cfg.limits.maxPendingQueries, this.log.child({ part: 'udp' }), fair);
        this.udp.push(u);
        udpPort = await u.listen(inherited?.udp.get(i));
        // Port 0 (tests): TCP on the port UDP got, as on a real resolver address.
        const t = new TcpListener({ ...ep, port: udpPort }, handle, tcpOpts, this.log.child({ part: 'tcp' }));
        try {
          tcpPort = await t.listen(inherited?.tcp.get(i));
          this.tcp.push(t);
          break;
        } catch (e) {
          // The port the kernel chose for UDP is taken for TCP (another process's listener or
          // connection): with port 0 the daemon may choose again; a configured port is an error.
          if (ep.port !== 0 || inherited || (e as { code?: string }).code !== 'EADDRINUSE' || attempt >= PORT0_ATTEMPTS) throw e;
          this.udp.pop();
          await u.close();
        }
      }
      const kept = (['udp', 'tcp'] as const).filter((tr) => inherited?.[tr].has(i));
      bound.push({ host: ep.host, udpPort, tcpPort, ...(kept.length ? { inherited: kept } : {}) });
    }
    if (cfg.metrics) await this.startMetrics(cfg.metrics);
    if (cfg.control) await this.startControl(cfg.control);
    if (cfg.health) {
      this.healthServer = await serveHealth(cfg.health, () => this.readyChecks());
      this.log.info({ health: `http://${formatEndpoint(cfg.health)}/healthz`, ready: `http://${formatEndpoint(cfg.health)}/readyz` }, 'health');
    }
    this.log.info({ listen: bound, upstreams: cfg.upstreams.map((u) => `${u.host}:${u.port}`), mode: cfg.enforce.mode }, 'serving');
    return bound;
  }

  /** The request chain for `cfg` (start and every reload build it here). */
  private newChain(cfg: Config, cache?: CachePlugin): Chain {
    const drops = this.drops;
    return buildChain(
      standardPlugins(cfg, {
        index: () => this.index,
        upstreams: this.upstreams!,
        programmer: this.programmer,
        // the answers the kernel took, remembered to explain later drops (lib/drops)
        committed: (els) => drops.answered(els),
        cache,
        guard: () => this.guard,
        resolvers: [cgroupResolver(() => this.cgroups), ...(this.pods ? [this.pods] : [])],
      }),
      this.log,
      this.metrics,
    );
  }

  /** What /readyz checks: the ruleset (enforce mode), the last kernel batch, an upstream. */
  private readyChecks(): ReadyCheck[] {
    const checks: ReadyCheck[] = [];
    if (this.enforcing) {
      checks.push(
        rulesetCheck(
          this.cfg.nftables.table,
          SET_DEFINITIONS.map(([name]) => name),
        ),
      );
      checks.push(kernelCheck(() => this.lastBatch));
    }
    const up = this.upstreams;
    if (up) {
      checks.push(
        upstreamCheck(
          () => up.perServer,
          async () => {
            const id = Math.floor(Math.random() * 65536);
            const wire = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'NS', name: '.' }] });
            await up.exchange(wire, { name: '', qtype: 2, qclass: 1, id });
          },
        ),
      );
    }
    return checks;
  }

  /** `dnswall drops` asks through this; failing to listen costs only the CLI view. */
  private async startControl(socketPath: string): Promise<void> {
    const control = new ControlServer(socketPath, this.log.child({ part: 'control' }));
    control.handle('drops', (req, reply) => {
      const f = (req.filter ?? {}) as { source?: string; pod?: string; cgroup?: string };
      if (f.pod && !this.pods) return reply.error('pod identity is off (no `kubernetes:` key with pod selector sources): no drop has a pod');
      if (f.cgroup && !this.cgroups) return reply.error('no policy has cgroup sources: no drop has a cgroup');
      const match = dropFilter(f);
      for (const d of this.drops.list(match)) reply.item(d);
      if (!req.follow) return reply.end();
      const stop = this.drops.follow((d) => {
        if (match(d)) reply.item(d);
      });
      reply.onClose(stop);
    });
    control.handle(
      'pods',
      podsHandler(() => this.pods),
    );
    try {
      await control.listen();
      this.control = control;
      this.log.info({ control: socketPath }, 'control socket');
    } catch (err) {
      this.log.warn({ err: (err as Error).message, control: socketPath }, 'control socket not available: `dnswall drops` cannot reach this daemon');
    }
  }

  /** The per-source budget every listener shares, and the reader of the kernel meter's counters. */
  private startFairness(): SourceBudget {
    this.budget = new SourceBudget(this.cfg.limits, this.log.child({ part: 'fairness' }));
    if (this.enforcing) this.kernelFairness = new KernelFairnessReader(this.cfg.nftables.table);
    return this.budget;
  }

  private async startMetrics(ep: NonNullable<Config['metrics']>): Promise<void> {
    this.metricsServer = await serveMetrics(ep, this.metrics);
    this.log.info({ metrics: `http://${formatEndpoint(ep)}/metrics` }, 'metrics');
  }

  /**
   * Swap in a new, already validated configuration, every key that can change live (see
   * reload-plan.ts), in an order that never rejects a managed source's allowed traffic meanwhile:
   * the kernel first where it widens (the programmer exists before an enforcing ruleset, and an
   * audit ruleset replaces an enforcing one before the chain stops programming), then the caps,
   * the upstreams and a new request chain (the listeners take it for the next query), then the
   * enforcing ruleset, then every live element the new policy no longer allows is deleted — all
   * before this resolves. Keys that need a restart keep their running value and are named.
   * Throws (nothing changed) when the kernel refuses the new ruleset.
   */
  async reload(next: Config, meta: { why?: string; configHash?: string } = {}): Promise<ReloadOutcome> {
    const t0 = performance.now();
    const plan = planReload(this.cfg, next);
    const cfg = plan.effective;
    const old = this.cfg;
    const index = PolicyIndex.compile(cfg.policies);
    // New cgroup sources need a cgroup v2 mount: checked before anything changes.
    const fresh = this.cgroups ? undefined : setupCgroups(cfg, index, this.log);
    const wasEnforcing = old.enforce.mode === 'enforce';
    const willEnforce = cfg.enforce.mode === 'enforce';
    const notInForce: string[] = [];
    const info: Record<string, unknown> = { ...meta, policies: cfg.policies.length, changed: plan.changed };
    let programmer = this.programmer;

    // 0. Lowered caps: the programmer's book evicts down to them before the kernel sets shrink.
    const capsChange = !!programmer && willEnforce && wasEnforcing && plan.live.some((k) => CAP_KEYS.has(k));
    const lowering = cfg.limits.maxElements < old.limits.maxElements;
    const applyCaps = async () => {
      try {
        info.evicted = await programmer!.setLimits(cfg.limits);
      } catch (err) {
        notInForce.push(`limits (${(err as Error).message})`);
      }
    };
    if (capsChange && lowering) await applyCaps();

    // 1. Kernel, widening first. Any failure here leaves the running configuration untouched.
    try {
      if (willEnforce && !wasEnforcing) {
        // The sets (and a counting, accepting ruleset) first; the programmer on them; the
        // enforcing verdict only once the new chain programs every answer (step 5).
        await this.install(renderRuleset(audited(cfg), index));
        programmer = this.newProgrammer(this.programmerOptions(cfg));
        await programmer.open();
      } else {
        // enforce→audit: the accepting verdict replaces the rejecting one before anything else.
        // audit→audit: the table exists only if an enforcing daemon made it; leave it alone.
        if (wasEnforcing) await this.install(renderRuleset(cfg, index));
      }
    } catch (err) {
      if (programmer !== this.programmer) await programmer?.close().catch(() => undefined);
      this.countReload('failed');
      throw err;
    }

    // 1b. The managed cgroups of the new configuration (ids and static destinations).
    try {
      if (this.cgroups) await this.cgroups.reconfigure(cfg, index);
      else if (fresh) {
        await fresh.start();
        this.cgroups = fresh;
        registerCgroupMetrics(this.metrics, fresh);
      }
    } catch (err) {
      notInForce.push(`cgroup sources (${(err as Error).message})`);
    }

    // 2. Caps (raised): after the kernel sets grew; lowered caps went first (step 0).
    if (capsChange && !lowering) await applyCaps();

    // 3. Upstreams: a new pool when its servers or timeout changed; the old one serves the
    //    queries already on it, then closes.
    const oldUpstreams = this.upstreams;
    let newUpstreams: Upstreams | undefined;
    if (plan.live.includes('upstreams') || plan.live.includes('limits.upstreamTimeoutMs')) {
      newUpstreams = new Upstreams({ servers: cfg.upstreams, timeoutMs: cfg.limits.upstreamTimeoutMs, log: this.log.child({ part: 'upstream' }), metrics: this.metrics });
      await newUpstreams.start();
      this.upstreams = newUpstreams;
    }

    // 4. A new chain with the new configuration. The cache keeps its entries only when nothing
    //    it depends on changed (its own keys, the TTL caps it stored under, the upstreams).
    const oldChain = this.chain;
    const oldCache = oldChain?.plugins.find((p) => p.name === 'cache') as CachePlugin | undefined;
    const keepCache = oldCache && !plan.changed.some((k) => k.startsWith('cache.') || k.startsWith('ttl.') || k === 'upstreams');
    if (oldCache && !keepCache) info.cacheCleared = true;
    this.index = index;
    this.guard = AnswerGuard.fromConfig(cfg);
    // same tick as the index: pod selections are policy indexes of this configuration
    this.pods?.setPolicies(cfg.policies);
    this.cfg = cfg;
    this.drops.reloaded();
    this.programmer = willEnforce ? programmer : undefined;
    this.chain = this.newChain(cfg, keepCache ? oldCache : undefined);

    // 5. audit→enforce: every answer from now on is programmed; now the verdict may reject.
    if (willEnforce && !wasEnforcing) {
      try {
        await this.install(renderRuleset(cfg, index));
      } catch (err) {
        notInForce.push(`enforce.mode (the enforcing ruleset was not installed: ${(err as Error).message})`);
      }
    }

    // 6. Listener bounds, for the next query or connection.
    for (const u of this.udp) u.setMaxPending(cfg.limits.maxPendingQueries);
    for (const t of this.tcp) t.setOptions({ idleTimeoutMs: cfg.limits.tcpIdleTimeoutMs, maxConnections: cfg.limits.tcpMaxConnections });
    this.budget?.configure(cfg.limits);
    // UDP is charged to the daemon's rate buckets only where no kernel meter drops (audit mode)
    for (const f of this.udpFairness) f.meter = !willEnforce || f.port === 0;
    if (willEnforce && !this.kernelFairness) this.kernelFairness = new KernelFairnessReader(cfg.nftables.table);

    // 7. The metrics endpoint.
    if (plan.live.includes('metrics')) {
      try {
        await this.restartMetrics(cfg.metrics);
      } catch (err) {
        notInForce.push(`metrics (${(err as Error).message})`);
      }
    }

    // 8. Revocation: answers already queued under the old policy are committed first (bounded
    //    wait); those still upstream are decided again by nftset.
    if (this.programmer) {
      await Promise.race([this.programmer.drained(), delay(cfg.limits.commitTimeoutMs)]);
      try {
        // A cgroup element's id → its path; a removed cgroup (null) is selected by no policy: revoked.
        Object.assign(
          info,
          await revokeDisallowed(this.programmer, index, {
            cgroupPath: (id) => this.cgroups?.pathOf(id) ?? GONE,
            guard: this.guard,
            selectionOf: this.pods ? (a, i) => this.pods!.podSelection(a, i) : undefined,
          }),
        );
      } catch (err) {
        info.revokeError = (err as Error).message;
        notInForce.push('policies (elements the new policy no longer allows could not be revoked; they expire on their own)');
      }
    }

    // 9. Retire the old chain, pool and (enforce→audit) programmer once their work is done.
    void this.retire(oldChain, keepCache ? oldCache : undefined, newUpstreams ? oldUpstreams : undefined, programmer !== this.programmer ? programmer : undefined, old);

    info.reloadMs = Math.round(performance.now() - t0);
    const exceptions = [...plan.restart.map((k) => `${k} (needs a restart)`), ...notInForce];
    const result: ReloadResult = exceptions.length === 0 ? 'applied' : 'partial';
    this.countReload(result);
    if (result === 'applied') this.log.info(info, 'configuration reloaded');
    else this.log.warn({ ...info, notApplied: exceptions }, `configuration reloaded except: ${exceptions.join('; ')}`);
    return { result, changed: plan.changed, notApplied: exceptions };
  }

  /** Reload results by kind (the dnswall_reloads_total metric); `serve` counts rejected files. */
  readonly reloads: Record<ReloadResult, number> = { applied: 0, partial: 0, rejected: 0, failed: 0 };

  countReload(result: ReloadResult): void {
    this.reloads[result]++;
  }

  private async retire(
    chain: Chain | undefined,
    keptCache: CachePlugin | undefined,
    upstreams: Upstreams | undefined,
    programmer: Programmer | undefined,
    old: Config,
  ): Promise<void> {
    // Queries on the old chain finish within an upstream try per server plus the commit bound.
    const settle = old.limits.upstreamTimeoutMs * (old.upstreams.length + 1) + old.limits.commitTimeoutMs;
    try {
      if (chain) {
        for (const p of chain.plugins) if (p !== keptCache && p.close) await p.close();
      }
      if (upstreams) {
        await delay(settle);
        await upstreams.close();
      }
      if (programmer) {
        await Promise.race([programmer.drained(), delay(old.limits.commitTimeoutMs)]);
        await programmer.close();
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "closing the previous configuration's parts failed");
    }
  }

  private async restartMetrics(ep: Config['metrics']): Promise<void> {
    const server = this.metricsServer;
    this.metricsServer = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    if (ep) await this.startMetrics(ep);
  }

  /** Stop listening, finish held answers, leave the kernel state in place. */
  async stop(): Promise<void> {
    this.metricsServer?.close();
    this.healthServer?.close();
    this.control?.close();
    this.drops.close();
    await Promise.all([...this.udp, ...this.tcp].map((l) => l.close()));
    await this.chain?.close();
    await this.upstreams?.close();
    await this.pods?.stop();
    // A clean stop: the book goes to the state file once everything is committed (nftables.stateFile).
    await this.programmer?.close({ save: true });
    this.budget?.close();
    this.cgroups?.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
