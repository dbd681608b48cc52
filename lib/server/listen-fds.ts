// Sockets inherited from a supervisor (systemd socket activation, sd_listen_fds(3), or
// `dnswall hold-sockets`): a restart then loses no query — while no daemon reads, queries wait
// in the socket's kernel buffer (UDP) or accept queue (TCP) for the next daemon.
//
// The socket's type, family and bound address are read from /proc before Node wraps the fd:
// a dgram.Socket must be created as 'udp4' or 'udp6' up front (a udp4 wrapper cannot send to
// an IPv6 peer: EINVAL), and a wrong guess cannot be undone (closing the wrapper closes the fd).
import fs from 'node:fs';
import ipaddr from 'ipaddr.js';
import type { Endpoint } from '../config/types';

/** sd_listen_fds(3): the first passed descriptor. */
export const SD_LISTEN_FDS_START = 3;
const TCP_LISTEN = '0A'; // include/net/tcp_states.h TCP_LISTEN, as /proc/net/tcp prints it

export type Transport = 'udp' | 'tcp';

export interface SocketInfo {
  fd: number;
  transport: Transport;
  family: 4 | 6;
  host: string;
  port: number;
}

/** Inherited descriptors per listen entry (index into cfg.listen). */
export interface Inherited {
  udp: Map<number, number>;
  tcp: Map<number, number>;
}

/**
 * sd_listen_fds(unset_environment = true): the descriptors passed to this process, or [] when
 * LISTEN_PID names another process (variables inherited by accident) or nothing was passed.
 */
export function listenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  const n = Number(env.LISTEN_FDS);
  const forUs = env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === pid;
  // Unset in any case, so that nothing we spawn takes our sockets for its own.
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(n) || n <= 0) return [];
  return Array.from({ length: n }, (_, i) => SD_LISTEN_FDS_START + i);
}

/** What the socket behind fd is bound to, from /proc/self/fd and /proc/net/{udp,tcp}{,6}. */
export function describeFd(fd: number): SocketInfo {
  let link: string;
  try {
    link = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch (e) {
    throw new Error(`inherited descriptor ${fd} is not open (${(e as NodeJS.ErrnoException).code})`, { cause: e });
  }
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (!inode) throw new Error(`inherited descriptor ${fd} is not a socket (${link})`);
  for (const [transport, family, file] of [
    ['udp', 4, 'udp'],
    ['udp', 6, 'udp6'],
    ['tcp', 4, 'tcp'],
    ['tcp', 6, 'tcp6'],
  ] as const) {
    const row = procRow(`/proc/net/${file}`, inode);
    if (!row) continue;
    if (transport === 'tcp' && row.state !== TCP_LISTEN) throw new Error(`inherited descriptor ${fd} is a TCP socket that is not listening`);
    return { fd, transport, family, host: row.host, port: row.port };
  }
  throw new Error(`inherited descriptor ${fd} is not a UDP or TCP socket of this network namespace`);
}

/** One row of /proc/net/{udp,tcp}{,6}: "sl local_address rem_address st ... inode". */
function procRow(file: string, inode: string): { host: string; port: number; state: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[9] !== inode) continue;
    const [hex, port] = f[1].split(':');
    return { host: procAddress(hex), port: parseInt(port, 16), state: f[3] };
  }
  return undefined;
}

/** The kernel prints each 32-bit word of the address in host (little-endian) byte order. */
function procAddress(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) bytes.push(...(hex.slice(w, w + 8).match(/../g) ?? []).map((b) => parseInt(b, 16)).reverse());
  return ipaddr.fromByteArray(bytes).toString();
}

/** Two textual addresses name the same address ("fd00::53" = "fd00:0:0::53"). */
export const sameHost = (a: string, b: string): boolean => ipaddr.parse(a).toNormalizedString() === ipaddr.parse(b).toNormalizedString();

/** Assign every inherited socket to the listen entry with its transport and address; any other is an error. */
export function matchInherited(listen: Endpoint[], sockets: SocketInfo[]): Inherited {
  const out: Inherited = { udp: new Map(), tcp: new Map() };
  for (const s of sockets) {
    const i = listen.findIndex((ep) => ep.port === s.port && sameHost(ep.host, s.host));
    const name = `${s.transport} ${s.family === 6 ? `[${s.host}]` : s.host}:${s.port}`;
    if (i < 0) throw new Error(`inherited socket ${name} (descriptor ${s.fd}) matches no "listen" entry; listen: ${listen.map((ep) => `${ep.host}:${ep.port}`).join(', ')}`);
    if (out[s.transport].has(i)) throw new Error(`two inherited sockets for ${name} (descriptors ${out[s.transport].get(i)} and ${s.fd})`);
    out[s.transport].set(i, s.fd);
  }
  return out;
}

/** The inherited sockets of this process, matched to the listen entries (none: empty maps). */
export function inheritedSockets(listen: Endpoint[], env: NodeJS.ProcessEnv = process.env): Inherited {
  return matchInherited(listen, listenFds(env).map(describeFd));
}
