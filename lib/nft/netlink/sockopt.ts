// Socket options netlink@0.3.0 cannot set, and the kernel's drop counter it cannot read.
//
// Why: the package aborts the whole process when a socket gets POLLERR (its PollHandler builds
// an ErrnoException with a NULL syscall name; napi throws, nothing catches: "terminate called
// after throwing an instance of 'Napi::Error'"). A netlink socket gets POLLERR when its receive
// buffer overflows (netlink_overrun sets sk_err = ENOBUFS) — unless NETLINK_NO_ENOBUFS is set:
// then the kernel drops the message silently and only counts it (sk_drops, the Drops column of
// /proc/net/netlink). The package exposes neither the fd nor setsockopt, and Node has no
// setsockopt, so: the socket's fd is found through /proc (its inode, by the bound port id), and a
// short-lived `perl` that inherits that fd sets the options (they belong to the socket, not to
// the descriptor) and reads them back. Without perl (or if the kernel refuses) it throws.
import { spawnSync } from 'child_process';
import { readFileSync, readdirSync, readlinkSync } from 'fs';

/** linux/socket.h, linux/netlink.h, asm-generic/socket.h */
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_RCVBUFFORCE = 33;
export const SOL_NETLINK = 270;
export const NETLINK_NO_ENOBUFS = 5;

const PROC_NETLINK = '/proc/self/net/netlink';

/** One socket's row of /proc/net/netlink (this process's network namespace). */
export interface NetlinkRow {
  protocol: number;
  port: number;
  rmem: number;
  drops: number;
  inode: string;
}

function rows(): NetlinkRow[] {
  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  return readFileSync(PROC_NETLINK, 'latin1')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return { protocol: Number(f[1]), port: Number(f[2]), rmem: Number(f[4]), drops: Number(f[8]), inode: f[9] };
    });
}

/** The row of the socket bound to `port` (netlink port ids are unique per protocol and namespace). */
export function netlinkRow(protocol: number, port: number): NetlinkRow | null {
  return rows().find((r) => r.protocol === protocol && r.port === port) ?? null;
}

/** The row with this inode (cheaper to keep than the port: it cannot be reused while we hold the socket). */
export function netlinkRowByInode(inode: string): NetlinkRow | null {
  return rows().find((r) => r.inode === inode) ?? null;
}

function fdOf(inode: string): number {
  const want = `socket:[${inode}]`;
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) === want) return Number(name);
    } catch {
      /* closed meanwhile */
    }
  }
  throw new Error(`netlink socket inode ${inode}: no descriptor of this process refers to it`);
}

/** The row of the `protocol` socket bound to `port`; throws when there is none. */
function boundRow(protocol: number, port: number): NetlinkRow {
  const row = netlinkRow(protocol, port);
  if (!row) throw new Error(`netlink socket (protocol ${protocol}, port ${port}) not in ${PROC_NETLINK}`);
  return row;
}

/** The descriptor of this process's `protocol` socket bound to `port`; throws when there is none. */
export function netlinkFd(protocol: number, port: number): number {
  return fdOf(boundRow(protocol, port).inode);
}

// fd 3 in the child is the socket (spawn dup2s it); ints, not strings (perl packs a string as its bytes).
const PERL = [
  'use strict;',
  'my ($noenobufs, $force) = (0 + $ARGV[0], 0 + $ARGV[1]);',
  'open(my $s, "+<&=", 3) or die "fdopen: $!\\n";',
  `if ($noenobufs) { setsockopt($s, ${SOL_NETLINK}, ${NETLINK_NO_ENOBUFS}, 1) or die "NETLINK_NO_ENOBUFS: $!\\n"; }`,
  `if ($force > 0) { setsockopt($s, ${SOL_SOCKET}, ${SO_RCVBUFFORCE}, $force) or die "SO_RCVBUFFORCE: $!\\n"; }`,
  `my $n = getsockopt($s, ${SOL_NETLINK}, ${NETLINK_NO_ENOBUFS}) or die "getsockopt NETLINK_NO_ENOBUFS: $!\\n";`,
  `my $r = getsockopt($s, ${SOL_SOCKET}, ${SO_RCVBUF}) or die "getsockopt SO_RCVBUF: $!\\n";`,
  'print unpack("i", $n), " ", unpack("i", $r), "\\n";',
].join(' ');

export interface Hardened {
  inode: string;
  /** SO_RCVBUF as the kernel reports it afterwards (double what was asked). */
  recvBuffer: number;
  /** sk_drops when the options were set. */
  drops: number;
}

/**
 * Sets NETLINK_NO_ENOBUFS (an overflow drops messages instead of raising ENOBUFS/POLLERR) and,
 * with `recvBufferForce` > 0, SO_RCVBUFFORCE (root; above net.core.rmem_max) on the
 * `protocol` socket bound to `port` in this process. Throws a clear error when it cannot.
 */
export function hardenNetlinkSocket(protocol: number, port: number, opts: { noEnobufs: boolean; recvBufferForce?: number }): Hardened {
  const row = boundRow(protocol, port);
  const fd = fdOf(row.inode);
  const r = spawnSync('perl', ['-e', PERL, opts.noEnobufs ? '1' : '0', String(opts.recvBufferForce ?? 0)], {
    stdio: ['ignore', 'pipe', 'pipe', fd],
    encoding: 'utf8',
    timeout: 5_000,
  });
  if (r.error) throw new Error(`cannot set netlink socket options (perl: ${r.error.message})`);
  if (r.status !== 0) throw new Error(`cannot set netlink socket options: ${String(r.stderr).trim() || `perl exited ${r.status}`}`);
  const [noEnobufs, recvBuffer] = String(r.stdout).trim().split(' ').map(Number);
  if (opts.noEnobufs && noEnobufs !== 1) throw new Error(`NETLINK_NO_ENOBUFS did not stick (reads ${noEnobufs})`);
  return { inode: row.inode, recvBuffer, drops: row.drops };
}
