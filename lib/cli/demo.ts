// dnswall demo: a throw-away sandbox (two pods, the node, an "internet"), the real daemon in
// it, real queries and connections, the programmed set; everything removed on exit or Ctrl-C.
import type { Logger } from 'pino';
import { createTopology, type Topology } from '../sandbox/topology';
import { onExitCleanup } from '../sandbox/cleanup';
import { startZoneServer, startWebServer } from '../sandbox/peers';
import { startDaemon, DNSWALL_BIN } from '../sandbox/daemon-peer';
import { Agent, type DnsResult, type ConnectResult } from '../sandbox/agent';
import { ADDR } from '../sandbox/topology';
import { DEMO_ZONE, demoConfig } from './demo-config';
import { CliError, EXIT_RUNTIME } from './exit';

const out = (s = '') => process.stdout.write(s + '\n');

function dnsLine(r: DnsResult): string {
  if (!r.ok) return `BLOCKED (${r.error})`;
  const data = r.answers.map((a) => `${a.type} ${String(a.data)}`).join(', ');
  const ede = r.ede.map((e) => ` EDE ${e.code} "${e.text}"`).join('');
  return `${r.rcode}${data ? ' ' + data : ''}${ede}`;
}

function connLine(r: ConnectResult): string {
  return r.ok ? `connected (${(r.banner ?? '').trim()})` : `BLOCKED (${r.error})`;
}

export async function demo(opts: { keep: boolean }, _log: Logger): Promise<number> {
  if (process.getuid?.() !== 0) throw new CliError('demo needs root: it creates network namespaces and an nftables table inside them (CAP_NET_ADMIN, CAP_SYS_ADMIN)', EXIT_RUNTIME);
  out('dnswall demo: building a sandbox (network namespaces pod1, pod2, node, net; documentation addresses only)');
  const topo: Topology = await createTopology({ prefix: 'dwdemo' });
  const removeHook = onExitCleanup(topo);
  try {
    await startZoneServer(topo, { zone: DEMO_ZONE });
    await startWebServer(topo, { ports: [80, 443, 853] });
    const daemon = await startDaemon(topo, demoConfig());
    const pod1 = await Agent.start(topo, topo.ns.pod1);
    const pod2 = await Agent.start(topo, topo.ns.pod2);
    const dns1 = ADDR.nodePod1.v4,
      dns2 = ADDR.nodePod2.v4;
    out(`daemon: dnswall serve in ${topo.ns.node}, listening on ${dns1}:53 and ${dns2}:53, upstream ${ADDR.net.v4}:53`);
    out();
    out('policy frontend (pod1 192.0.2.10): api.example.com, www.example.com, storage.example.com tcp/443 only');
    out('policy batch    (pod2 198.51.100.10): **.cdn.example.net');
    out();
    const step = async (who: string, what: string, p: Promise<string>) => out(`${who.padEnd(5)} ${what.padEnd(54)} → ${await p}`);
    await step('pod1', 'resolve api.example.com A', pod1.dns({ server: dns1, name: 'api.example.com' }).then(dnsLine));
    await step('pod1', 'connect 198.18.0.10:443 (just resolved)', pod1.connect('198.18.0.10', 443).then(connLine));
    await step('pod1', 'resolve www.example.com A (CNAME → edge.cdn.example.net)', pod1.dns({ server: dns1, name: 'www.example.com' }).then(dnsLine));
    await step('pod1', 'connect 198.18.0.20:80', pod1.connect('198.18.0.20', 80).then(connLine));
    await step('pod1', 'resolve storage.example.com A (tcp/443 only)', pod1.dns({ server: dns1, name: 'storage.example.com' }).then(dnsLine));
    await step('pod1', 'connect 198.18.0.30:443', pod1.connect('198.18.0.30', 443).then(connLine));
    await step('pod1', 'connect 198.18.0.30:80', pod1.connect('198.18.0.30', 80).then(connLine));
    await step('pod1', 'resolve evil.example.org A (not allowed)', pod1.dns({ server: dns1, name: 'evil.example.org' }).then(dnsLine));
    await step('pod1', 'connect 198.18.6.6:443 (literal IP, never resolved)', pod1.connect('198.18.6.6', 443).then(connLine));
    await step('pod1', `resolve evil.example.org @${ADDR.net.v4} (another resolver)`, pod1.dns({ server: ADDR.net.v4, name: 'evil.example.org', timeoutMs: 1000 }).then(dnsLine));
    await step('pod1', 'connect 198.18.0.53:853 (DoT to an unresolved resolver)', pod1.connect('198.18.0.53', 853).then(connLine));
    await step('pod2', 'connect 198.18.0.10:443 (programmed for pod1 only)', pod2.connect('198.18.0.10', 443).then(connLine));
    await step('pod2', 'resolve api.example.com A (not in batch policy)', pod2.dns({ server: dns2, name: 'api.example.com' }).then(dnsLine));
    out();
    out(`$ nft list set inet dnswall allow4   (in ${topo.ns.node})`);
    out((await topo.exec(topo.ns.node, ['nft', 'list', 'set', 'inet', 'dnswall', 'allow4'])).stdout.trimEnd());
    out();
    out(`$ nft list set inet dnswall allow4p`);
    out((await topo.exec(topo.ns.node, ['nft', 'list', 'set', 'inet', 'dnswall', 'allow4p'])).stdout.trimEnd());
    out();
    out('$ dnswall list');
    out((await topo.exec(topo.ns.node, [process.execPath, DNSWALL_BIN, 'list', '-c', daemon.configFile])).stdout.trimEnd());
    if (opts.keep) {
      out();
      out(`sandbox kept: try  ip netns exec ${topo.ns.pod1} dig @${dns1} api.example.com  — Ctrl-C removes everything`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    await pod1.stop();
    await pod2.stop();
    await daemon.stop();
  } finally {
    await topo.destroy();
    removeHook();
    out('sandbox removed');
  }
  return 0;
}
