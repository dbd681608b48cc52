// The daemon: configuration in, listeners + chain + kernel programmer running. `dnswall serve`
// and the tests drive this class; nothing here parses arguments or touches process signals.
import type { Logger } from 'pino';
import type { Config } from '../config/types';
import { PolicyIndex } from '../policy/index';
import { Upstreams } from '../upstream/upstreams';
import { SetProgrammer } from '../nft/programmer';
import { renderRuleset, installRuleset } from '../nft/ruleset';
import { buildChain, type Chain } from '../plugins/chain';
import { standardPlugins } from '../plugins/order';
import { UdpListener } from './udp';
import { TcpListener } from './tcp';

export interface BoundAddress {
  host: string;
  udpPort: number;
  tcpPort: number;
}

export class Daemon {
  private index: PolicyIndex;
  private upstreams?: Upstreams;
  private programmer?: SetProgrammer;
  private chain?: Chain;
  private udp: UdpListener[] = [];
  private tcp: TcpListener[] = [];

  constructor(private cfg: Config, private readonly log: Logger) {
    this.index = PolicyIndex.compile(cfg.policies);
  }

  get enforcing(): boolean {
    return this.cfg.enforce.mode === 'enforce';
  }

  get plugins() {
    return this.chain?.plugins ?? [];
  }

  /** Install the ruleset (enforce mode), open the kernel programmer, then listen. */
  async start(): Promise<BoundAddress[]> {
    const cfg = this.cfg;
    if (this.enforcing) {
      await installRuleset(renderRuleset(cfg, this.index));
      this.programmer = new SetProgrammer({ table: cfg.nftables.table, log: this.log.child({ part: 'nft' }) });
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
    for (const ep of cfg.listen) {
      const u = new UdpListener(ep, handle, cfg.limits.maxPendingQueries, this.log.child({ part: 'udp' }));
      this.udp.push(u);
      const udpPort = await u.listen();
      // Port 0 (tests): TCP on the port UDP got, as on a real resolver address.
      const t = new TcpListener({ ...ep, port: udpPort }, handle, tcpOpts, this.log.child({ part: 'tcp' }));
      this.tcp.push(t);
      const tcpPort = await t.listen();
      bound.push({ host: ep.host, udpPort, tcpPort });
    }
    this.log.info({ listen: bound, upstreams: cfg.upstreams.map((u) => `${u.host}:${u.port}`), mode: cfg.enforce.mode }, 'serving');
    return bound;
  }

  /**
   * Swap in a new, already validated configuration: policy index at once, the ruleset's
   * managed-source and static sets in one nft transaction. Listen addresses and upstreams need a restart.
   */
  async reload(cfg: Config): Promise<void> {
    const index = PolicyIndex.compile(cfg.policies);
    if (this.enforcing) await installRuleset(renderRuleset(cfg, index));
    this.index = index;
    this.cfg = cfg;
    this.log.info({ policies: cfg.policies.length }, 'configuration reloaded');
  }

  /** Stop listening, finish held answers, leave the kernel state in place. */
  async stop(): Promise<void> {
    await Promise.all([...this.udp, ...this.tcp].map((l) => l.close()));
    await this.chain?.close();
    await this.upstreams?.close();
    await this.programmer?.close();
  }
}
