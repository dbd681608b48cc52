// `dnswall hold-sockets`: systemd socket activation for machines without systemd. Binds UDP
// and TCP on every listen address, hands the sockets to a keeper process (socket-keeper.ts)
// that outlives each daemon, and relays signals to it.
//
// Why two processes: a Node dgram or net.Server socket is always being read (there is no
// public "stop reading"), so whoever keeps the socket across restarts must hold it as a bare
// descriptor. Node can only create it as an object: we bind, pass copies to the keeper at
// spawn, and close ours at once (a query arriving in those few milliseconds, before any
// daemon runs, is read here and goes unanswered; the client retries).
import path from 'node:path';
import fs from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { Endpoint } from '../config/types';
import { describeFd, sameHost, type Transport } from './listen-fds';

const KEEPER = path.join(__dirname, 'socket-keeper.js');
const RELAYED = ['SIGUSR2', 'SIGHUP', 'SIGTERM', 'SIGINT'] as const;

/** Bind, start the keeper with COMMAND, resolve with the keeper's exit code. */
export async function holdSockets(listen: Endpoint[], command: string[], log: Logger): Promise<number> {
  const closers: (() => void)[] = [];
  const fds: number[] = [];
  try {
    for (const ep of listen) {
      const u = dgram.createSocket({ type: ep.family === 6 ? 'udp6' : 'udp4', ipv6Only: ep.family === 6 });
      await new Promise<void>((resolve, reject) => {
        u.once('error', reject);
        u.bind(ep.port, ep.host, () => resolve());
      });
      closers.push(() => u.close());
      fds.push(ownSocketFd('udp', ep.host, u.address().port));
      const t = net.createServer();
      await new Promise<void>((resolve, reject) => {
        t.once('error', reject);
        t.listen({ port: ep.port, host: ep.host, ipv6Only: ep.family === 6 }, () => resolve());
      });
      closers.push(() => t.close());
      fds.push(ownSocketFd('tcp', ep.host, (t.address() as net.AddressInfo).port));
    }
  } catch (err) {
    for (const c of closers) c();
    throw err;
  }
  const keeper = spawn(process.execPath, [KEEPER, String(fds.length), '--', ...command], { stdio: ['inherit', 'inherit', 'inherit', ...fds] });
  for (const c of closers) c(); // the keeper has its copies now
  log.info({ listen: listen.map((ep) => `${ep.host}:${ep.port}`), sockets: fds.length, keeper: keeper.pid }, 'holding sockets');
  const relay = (sig: NodeJS.Signals) => () => keeper.kill(sig);
  for (const sig of RELAYED) process.on(sig, relay(sig));
  return new Promise((resolve) => {
    keeper.once('error', (err) => {
      log.error({ err: err.message }, 'socket keeper failed to start');
      resolve(2);
    });
    keeper.once('exit', (code, sig) => resolve(code ?? (sig ? 2 : 0)));
  });
}

/** Our descriptor of the socket bound to (transport, host, port): Node does not expose it. */
function ownSocketFd(transport: Transport, host: string, port: number): number {
  for (const name of fs.readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    try {
      const s = describeFd(fd);
      if (s.transport === transport && s.port === port && sameHost(s.host, host)) return fd;
    } catch {
      /* not one of ours */
    }
  }
  throw new Error(`bound ${transport} ${host}:${port} but found no descriptor for it in /proc/self/fd`);
}
