// A real forwarder on loopback: listeners + the standard chain + Upstreams, in front of the
// sandbox's zone server (dns2) on 127.0.0.1:0. The kernel programmer is a recording fake here;
// the real one is exercised by test/system.
import pino, { type Logger } from 'pino';
import { parseConfig } from '../../lib/config/load';
import type { Config } from '../../lib/config/types';
import { PolicyIndex } from '../../lib/policy/index';
import { Upstreams } from '../../lib/upstream/upstreams';
import { buildChain, type Chain } from '../../lib/plugins/chain';
import { standardPlugins } from '../../lib/plugins/order';
import { UdpListener } from '../../lib/server/udp';
import { TcpListener } from '../../lib/server/tcp';
import { ZoneServer, type QueryLogLine } from '../../lib/sandbox/zone-server';
import { loadZone, type ZoneFile } from '../../lib/sandbox/zone';
import type { Element } from '../../lib/nft/programmer';

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

export class FakeProgrammer {
  calls: Element[][] = [];
  /** resolve add() after this many ms */
  delayMs = 0;
  fail: Error | null = null;
  committedAt: number[] = [];

  async add(elements: Element[]): Promise<void> {
    this.calls.push(elements);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.fail) throw this.fail;
    this.committedAt.push(Date.now());
  }

  get elements(): Element[] {
    return this.calls.flat();
  }
}

export interface Forwarder {
  port: number;
  cfg: Config;
  programmer: FakeProgrammer;
  upstreamQueries: QueryLogLine[];
  chain: Chain;
  udp: UdpListener;
  tcp: TcpListener;
  /** Swap the policy index, as a reload does (the yaml's policies only). */
  setPolicies(yaml: string): void;
  close(): Promise<void>;
}

/** yamlBody: the config without listen/upstreams (filled in with the loopback ports). */
/** opts.log: a logger of the test's own (e.g. writing to a stream it reads); default silent. */
export async function startForwarder(yamlBody: string, opts: { extraUpstreamFirst?: string; log?: Logger } = {}): Promise<Forwarder> {
  // Parse first (with placeholder ports: the validator wants 1..65535), then point at the real ones.
  const ups = [...(opts.extraUpstreamFirst ? [opts.extraUpstreamFirst] : []), '127.0.0.1:53'];
  const cfg = parseConfig(`listen: ["127.0.0.1:53"]\nupstreams: ${JSON.stringify(ups)}\n${yamlBody}`, 'test.yaml');
  const upstreamQueries: QueryLogLine[] = [];
  const zone = new ZoneServer(loadZone(ZONE), { log: (l) => upstreamQueries.push(l) });
  const [bound] = await zone.listen([{ host: '127.0.0.1', port: 0 }]);
  cfg.upstreams[cfg.upstreams.length - 1].port = bound.port;
  cfg.listen[0].port = 0;
  const log = opts.log ?? pino({ level: process.env.DW_TEST_LOG ?? 'silent' });
  let index = PolicyIndex.compile(cfg.policies);
  const upstreams = new Upstreams({ servers: cfg.upstreams, timeoutMs: cfg.limits.upstreamTimeoutMs, log });
  await upstreams.start();
  const programmer = new FakeProgrammer();
  const chain = buildChain(standardPlugins(cfg, { index: () => index, upstreams, programmer }), log);
  const setPolicies = (yaml: string) => { index = PolicyIndex.compile(parseConfig(yaml, 'reload.yaml').policies); };
  const udp = new UdpListener(cfg.listen[0], () => chain.handle, cfg.limits.maxPendingQueries, log);
  const port = await udp.listen();
  const tcp = new TcpListener({ ...cfg.listen[0], port }, () => chain.handle, { idleTimeoutMs: cfg.limits.tcpIdleTimeoutMs, maxConnections: cfg.limits.tcpMaxConnections }, log);
  await tcp.listen();
  return {
    port, cfg, programmer, upstreamQueries, chain, udp, tcp, setPolicies,
    async close() {
      await udp.close(200);
      await tcp.close(200);
      await chain.close();
      await upstreams.close();
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
