// ip netns exec NET node dist/lib/sandbox/web-server-main.js [--ports 80,443,853,8080] [--log]
// The "internet's" web servers: on every port, TCP on 0.0.0.0 and :: that greets with
// "HELLO <local address>:<port>\n" (IPv6 as [addr]:port), then echoes what it gets until the
// peer closes; and a UDP echo. With net's local routes, every 198.18.0.0/15 and
// 2001:db8:ff::/48 address answers. Prints "READY" once every socket listens.

import net from 'node:net';
import dgram from 'node:dgram';
import { Command } from 'commander';
import { formatEndpoint } from './endpoint';

function out(line: unknown): void {
  process.stdout.write((typeof line === 'string' ? line : JSON.stringify(line)) + '\n');
}

function parsePorts(s: string): number[] {
  const ports = s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map(Number);
  for (const p of ports) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`web-server: bad port "${p}" in --ports ${s}`);
  return [...new Set(ports)];
}

function tcpListener(host: string, port: number, log: boolean): Promise<net.Server> {
  const server = net.createServer((sock) => {
    const local = formatEndpoint({ host: sock.localAddress ?? '?', port: sock.localPort ?? port });
    if (log) out({ conn: 'tcp', local, remote: formatEndpoint({ host: sock.remoteAddress ?? '?', port: sock.remotePort ?? 0 }) });
    sock.on('error', () => {
      /* reset by peer: nothing to do */
    });
    sock.write(`HELLO ${local}\n`);
    sock.pipe(sock); // echo until the peer closes, so long-lived connections can be checked
  });
  return new Promise((res, rej) => {
    server.once('error', (e) => rej(new Error(`web-server: tcp ${host} port ${port}: ${e.message}`)));
    server.listen({ host, port, ipv6Only: host === '::' }, () => res(server));
  });
}

function udpEcho(host: string, port: number, log: boolean): Promise<dgram.Socket> {
  const sock = dgram.createSocket({ type: host === '::' ? 'udp6' : 'udp4', ipv6Only: host === '::' });
  sock.on('message', (msg, rinfo) => {
    if (log) out({ conn: 'udp', port, remote: formatEndpoint({ host: rinfo.address, port: rinfo.port }), size: msg.length });
    sock.send(msg, rinfo.port, rinfo.address, () => {});
  });
  return new Promise((res, rej) => {
    sock.once('error', (e) => rej(new Error(`web-server: udp ${host} port ${port}: ${e.message}`)));
    sock.bind(port, host, () => res(sock));
  });
}

async function main(): Promise<void> {
  const opts = new Command()
    .option('--ports <list>', 'comma-separated ports', '80,443,853,8080')
    .option('--log', 'print one JSON line per connection and datagram')
    .parse()
    .opts<{ ports: string; log?: boolean }>();
  const ports = parsePorts(opts.ports);
  const closers: (() => void)[] = [];
  for (const port of ports) {
    for (const host of ['0.0.0.0', '::']) {
      const s = await tcpListener(host, port, !!opts.log);
      const u = await udpEcho(host, port, !!opts.log);
      closers.push(
        () => s.close(),
        () => u.close(),
      );
    }
  }
  out(`READY ${ports.join(',')}`);
  const stop = () => {
    for (const c of closers) c();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
