// A real forwarder on loopback: the real Daemon (listeners, standard chain, Upstreams) in front
// of the sandbox's zone server (dns2) on 127.0.0.1:0. Its kernel side is injected: the ruleset
// installer and the programmer are recording fakes here; the real ones are exercised by
// test/nft and test/system.
import pino, { type Logger } from 'pino';
import { parseConfig } from '../../lib/config/load';
import type { Config } from '../../lib/config/types';
import type { Chain } from '../../lib/plugins/chain';
import { Daemon, type Programmer } from '../../lib/server/daemon';
import type { SetProgrammerOptions } from '../../lib/nft/programmer';
import type { UdpListener } from '../../lib/server/udp';
import type { TcpListener } from '../../lib/server/tcp';
import { ZoneServer, type QueryLogLine } from '../../lib/sandbox/zone-server';
import { loadZone, type ZoneFile } from '../../lib/sandbox/zone';
import { encodeKey, type AllowSet, type Element, type KeyFields } from '../../lib/nft/keys';
import type { DecodedElement } from '../../lib/nft/netlink/setelem';

export const ZONE: ZoneFile = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 30, data: '198.18.0.10' },
    { name: 'api.example.com', type: 'AAAA', ttl: 30, data: '2001:db8:ff::10' },
    { name: 'www.example.com', type: 'CNAME', ttl: 300, data: 'edge.cdn.example.net' },
    { name: 'edge.cdn.example.net', type: 'A', ttl: 20, data: '198.18.0.20' },
    { name: 'edge.cdn.example.net', type: 'A', ttl: 20, data: '198.18.0.21' },
    { name: 'long.example.com', type: 'A', ttl: 7200, data: '198.18.0.30' },
    { name: 'zero.example.com', type: 'A', ttl: 0, data: '198.18.0.31' },
    { name: 'evil.example.org', type: 'A', ttl: 30, data: '198.18.6.6' },
    { name: 'slow.example.com', type: 'A', ttl: 30, data: '198.18.0.32' },
    { name: 'svc.example.com', type: 'HTTPS', ttl: 60, priority: 1, target: '.', ipv4hint: ['198.18.0.40'], ipv6hint: ['2001:db8:ff::40'] },
    ...Array.from({ length: 60 }, (_, i) => ({ name: 'big.example.com', type: 'A', ttl: 30, data: `198.18.1.${i + 1}` })),
  ],
  behaviours: {
    'big.example.com': { truncate: true },
    'slow.example.com': { delayMs: 3000 },
    'badid.example.com': { wrongId: true },
    'badq.example.com': { wrongQuestion: true },
  },
};

/** The daemon's programmer as a recording fake: add() records, waits delayMs, fails with `fail`. */
export class FakeProgrammer {
  calls: Element[][] = [];
  /** resolve add() after this many ms */
  delayMs = 0;
  /** while set, add() waits for it too (a commit that finishes only when the test says so) */
  gate: Promise<void> | null = null;
  fail: Error | null = null;
  committedAt: number[] = [];
  /** keys remove() was asked to delete (reload revocation) */
  removed: KeyFields[] = [];
  readonly stats = { batches: 0, messages: 0, elements: 0, failedBatches: 0, deleted: 0, skipped: 0, watchBehind: 0, evictions: { perName: 0, perSource: 0, total: 0 } };
  opened = false;
  closed = false;
  readonly limits = { maxElements: 1_000_000, maxElementsPerSource: Infinity, maxAddressesPerName: Infinity };

  sizes(): { book: number; elements: number; sources: number; names: number; queued: number } {
    const live = new Set(this.calls.flat().map((e) => e.set + encodeKey(e).toString('hex')));
    return { book: live.size, elements: live.size, sources: new Set(this.calls.flat().map((e) => e.source)).size, names: 0, queued: 0 };
  }

  async open(): Promise<void> {
    this.opened = true;
  }

  async add(elements: Element[]): Promise<void> {
    this.calls.push(elements);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.gate) await this.gate;
    if (this.fail) throw this.fail;
    this.committedAt.push(Date.now());
    this.stats.batches++;
    this.stats.elements += elements.length;
  }

  /** The committed elements, as a kernel dump would give them (the last add of a key wins). */
  async readLive(each: (set: AllowSet, el: DecodedElement) => void): Promise<void> {
    const live = new Map<string, Element>();
    for (const e of this.calls.flat()) live.set(e.set + encodeKey(e).toString('hex'), e);
    for (const k of this.removed) live.delete(k.set + encodeKey(k).toString('hex'));
    for (const e of live.values()) each(e.set, { key: encodeKey(e), timeoutMs: e.timeoutMs, expirationMs: e.timeoutMs, comment: e.comment });
  }

  async remove(keys: KeyFields[]): Promise<void> {
    this.removed.push(...keys);
  }

  async drained(): Promise<void> {}

  /** The name of the last add() of this element (as the book keeps it). */
  nameOf(set: AllowSet, key: Buffer): string | null {
    let name: string | null = null;
    for (const e of this.calls.flat()) if (e.set === set && encodeKey(e).equals(key)) name = e.comment.toLowerCase();
    return name;
  }

  /** The caps change; nothing to evict in a fake. */
  async setLimits(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  get elements(): Element[] {
    return this.calls.flat();
  }
}

export interface Forwarder {
  port: number;
  cfg: Config;
  daemon: Daemon;
  programmer: FakeProgrammer;
  /** ruleset scripts the daemon installed (start, reloads) */
  rulesets: string[];
  upstreamQueries: QueryLogLine[];
  chain: Chain;
  udp: UdpListener;
  tcp: TcpListener;
  /** Reload with the yaml's policies (the rest of the config unchanged); the index is swapped at once. */
  setPolicies(yaml: string): Promise<unknown>;
  close(): Promise<void>;
}

/** yamlBody: the config without listen/upstreams (filled in with the loopback ports). */
/** opts.log: a logger of the test's own (e.g. writing to a stream it reads); default silent. */
/** opts.programmer: the daemon's programmer instead of the recording fake (e.g. a SetProgrammer on test/nft's fake kernel). */
export async function startForwarder(
  yamlBody: string,
  opts: { extraUpstreamFirst?: string; log?: Logger; programmer?: (o: SetProgrammerOptions) => Programmer } = {},
): Promise<Forwarder> {
  // Parse first (with placeholder ports: the validator wants 1..65535), then point at the real ones.
  const ups = [...(opts.extraUpstreamFirst ? [opts.extraUpstreamFirst] : []), '127.0.0.1:53'];
  const cfg = parseConfig(`listen: ["127.0.0.1:53"]\nupstreams: ${JSON.stringify(ups)}\n${yamlBody}`, 'test.yaml');
  const upstreamQueries: QueryLogLine[] = [];
  const zone = new ZoneServer(loadZone(ZONE), { log: (l) => upstreamQueries.push(l) });
  const [bound] = await zone.listen([{ host: '127.0.0.1', port: 0 }]);
  cfg.upstreams[cfg.upstreams.length - 1].port = bound.port;
  cfg.listen[0].port = 0;
  const log = opts.log ?? pino({ level: process.env.DW_TEST_LOG ?? 'silent' });
  const programmer = new FakeProgrammer();
  const rulesets: string[] = [];
  const daemon = new Daemon(cfg, log, {
    installRuleset: async (script) => {
      rulesets.push(script);
    },
    programmer: opts.programmer ?? (() => programmer),
  });
  let port: number;
  try {
    [{ udpPort: port }] = await daemon.start();
  } catch (e) {
    // What the failed start opened (a bound UDP listener, timers) would keep the test process alive.
    await daemon.stop().catch(() => undefined);
    await zone.close();
    throw e;
  }
  let current = cfg;
  const setPolicies = (yaml: string) => {
    current = { ...current, policies: parseConfig(yaml, 'reload.yaml').policies };
    return daemon.reload(current);
  };
  return {
    port,
    cfg,
    daemon,
    programmer,
    rulesets,
    upstreamQueries,
    setPolicies,
    // a reload builds a new chain
    get chain() {
      return daemon.requestChain!;
    },
    udp: daemon.listeners.udp[0],
    tcp: daemon.listeners.tcp[0],
    async close() {
      await daemon.stop();
      await zone.close();
    },
  };
}

export const POLICY = `
ttl: { min: 10, max: 3600, grace: 5 }
limits: { upstreamTimeoutMs: 300, commitTimeoutMs: 300 }
policies:
  - name: loop
    sources: ["127.0.0.1/32"]
    allow:
      - api.example.com
      - www.example.com
      - long.example.com
      - zero.example.com
      - svc.example.com
      - big.example.com
      - slow.example.com
      - badid.example.com
      - badq.example.com
      - name: "**.ports.example.com"
        ports: ["tcp/443", "udp/53"]
`;
