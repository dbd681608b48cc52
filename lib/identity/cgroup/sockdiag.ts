// The cgroup of the socket that sent a query: one exact NETLINK_SOCK_DIAG lookup (no dump) of the
// querier's socket, read INET_DIAG_CGROUP_ID (include/uapi/linux/inet_diag.h, sock_diag.h;
// Linux 5.8+). Traps, measured (docs: ../../../README.md, reference identity.md Part 1a):
// - UDP puts the two ends in swapped fields ("for historical reasons", net/ipv4/udp_diag.c): the
//   lookup is for a packet arriving from src to dst, so src = OUR end, dst = the querier. TCP
//   (inet_diag_find_one_icsk) wants src = the socket's own end = the querier.
// - A wrong orientation does not fail: it returns another socket (our own listener). So the
//   reply's own port must be the querier's port before its cgroup is trusted.
// - A connected UDP client is found only with the exact address it sent to (the listen address).
// - A dual-stack (AF_INET6, v6only=0) client is found by an AF_INET request; its reply says AF_INET6.
import { RawNetlinkSocket } from '../../util/raw-netlink';
import ipaddr from 'ipaddr.js';
import type { Family } from '../../config/types';
import type { Transport } from '../../plugins/types';

export const NETLINK_SOCK_DIAG = 4;
export const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 0x1;
const NLMSG_ERROR = 2;
const NLMSG_HDRLEN = 16;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** sizeof(struct inet_diag_req_v2) */
const REQ_LEN = 56;
/** sizeof(struct inet_diag_msg) */
const MSG_LEN = 72;
/** INET_DIAG_CGROUP_ID: u64, host byte order; emitted without any idiag_ext bit. */
export const INET_DIAG_CGROUP_ID = 21;
const ENOENT = 2;
const LOOKUP_TIMEOUT_MS = 1000;

export interface SocketEnd {
  address: string;
  port: number;
}

export interface DiagQuery {
  transport: Transport;
  family: Family;
  /** the querier: the query's source address and port */
  peer: SocketEnd;
  /** where the query arrived: the exact address the client sent to, our port */
  local: SocketEnd;
}

/** What a lookup found: the socket's cgroup id, or why not. */
export type DiagResult = { id: bigint } | { error: string }; /* ENOENT | EMISMATCH | ENOCGROUP | ETIMEDOUT | another errno */

/** An address into a be32[4] field (IPv4 in the first word, the rest zero). */
function addrBytes(address: string, family: Family, out: Buffer, off: number): void {
  const a = ipaddr.parse(address);
  const bytes = family === 4 && a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toIPv4Address().toByteArray() : a.toByteArray();
  for (let i = 0; i < bytes.length; i++) out[off + i] = bytes[i];
}

/** nlmsghdr + inet_diag_req_v2 for one exact lookup (flags NLM_F_REQUEST only: no dump). */
export function encodeRequest(q: DiagQuery, seq: number): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + REQ_LEN);
  b.writeUInt32LE(b.length, 0); // nlmsghdr is host byte order (little-endian on x86/arm64)
  b.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  b.writeUInt16LE(NLM_F_REQUEST, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  const o = NLMSG_HDRLEN;
  b[o] = q.family === 4 ? AF_INET : AF_INET6;
  b[o + 1] = q.transport === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  b[o + 2] = 0; // idiag_ext: INET_DIAG_CGROUP_ID needs no bit
  b.writeUInt32LE(0xffffffff, o + 4); // idiag_states: all
  // inet_diag_sockid: sport, dport (be16), src[4], dst[4] (be32 words), if, cookie[2]
  const [src, dst] = q.transport === 'udp' ? [q.local, q.peer] : [q.peer, q.local];
  b.writeUInt16BE(src.port, o + 8);
  b.writeUInt16BE(dst.port, o + 10);
  addrBytes(src.address, q.family, b, o + 12);
  addrBytes(dst.address, q.family, b, o + 28);
  b.writeUInt32LE(0, o + 44);
  b.fill(0xff, o + 48, o + 56); // INET_DIAG_NOCOOKIE
  return b;
}

export interface DecodedReply {
  seq: number;
  /** negative errno of an NLMSG_ERROR, 0 otherwise */
  error: number;
  /** the socket's own port (idiag_sport) */
  sport?: number;
  family?: number;
  cgroupId?: bigint;
}

/** Every message of one datagram from the sock_diag socket; bounds-checked, never throws. */
export function decodeReplies(buf: Buffer): DecodedReply[] {
  const out: DecodedReply[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    const seq = buf.readUInt32LE(off + 8);
    const p = off + NLMSG_HDRLEN;
    if (type === NLMSG_ERROR) {
      out.push({ seq, error: len >= NLMSG_HDRLEN + 4 ? buf.readInt32LE(p) : -5 });
    } else if (type === SOCK_DIAG_BY_FAMILY && len >= NLMSG_HDRLEN + MSG_LEN) {
      const r: DecodedReply = { seq, error: 0, family: buf[p], sport: buf.readUInt16BE(p + 4) };
      let a = p + MSG_LEN;
      const end = off + len;
      while (a + 4 <= end) {
        const alen = buf.readUInt16LE(a);
        const atype = buf.readUInt16LE(a + 2) & 0x3fff;
        if (alen < 4 || a + alen > end) break;
        if (atype === INET_DIAG_CGROUP_ID && alen >= 12) r.cgroupId = buf.readBigUInt64LE(a + 4);
        a += (alen + 3) & ~3;
      }
      out.push(r);
    }
    off += (len + 3) & ~3;
  }
  return out;
}

interface Pending {
  q: DiagQuery;
  resolve(r: DiagResult): void;
  timer: NodeJS.Timeout;
}

export interface SockDiagStats {
  lookups: number;
  /** found with a cgroup id */
  found: number;
  /** ENOENT, a reply for another socket, no cgroup attribute, a timeout or a socket error */
  failed: number;
}

/** One NETLINK_SOCK_DIAG socket; lookups in flight are matched to replies by sequence number. */
export class SockDiag {
  readonly stats: SockDiagStats = { lookups: 0, found: 0, failed: 0 };
  /** Told each lookup's time in seconds (the lookup-duration histogram: metrics.ts). */
  observe?: (seconds: number) => void;
  private sock: RawNetlinkSocket | null;
  private seq = (0x10000 + Math.floor(Math.random() * 0x7fff0000)) >>> 0;
  private readonly pending = new Map<number, Pending>();

  constructor() {
    const sock = new RawNetlinkSocket(NETLINK_SOCK_DIAG, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    this.sock = sock;
    // Without an 'error' listener an ENOBUFS would throw and end the process.
    sock.on('error', (err) => this.failAll(err.code || 'EIO'));
    sock.on('message', (buf) => this.onDatagram(buf));
    sock.on('close', () => {
      this.sock = null;
      this.failAll('ECONNRESET');
    });
    sock.unref();
  }

  lookup(q: DiagQuery): Promise<DiagResult> {
    const sock = this.sock;
    this.stats.lookups++;
    if (!sock) return Promise.resolve(this.fail('ECONNRESET'));
    const t0 = process.hrtime.bigint();
    this.seq = (this.seq + 1) >>> 0 || 1;
    const seq = this.seq;
    let msg: Buffer;
    try {
      msg = encodeRequest(q, seq);
    } catch {
      return Promise.resolve(this.fail('EINVAL'));
    }
    return new Promise<DiagResult>((resolve) => {
      const done = (r: DiagResult) => {
        this.observe?.(Number(process.hrtime.bigint() - t0) / 1e9);
        resolve(r);
      };
      const timer = setTimeout(() => this.settle(seq, { error: 'ETIMEDOUT' }), LOOKUP_TIMEOUT_MS);
      if (this.pending.size === 0) sock.ref();
      this.pending.set(seq, { q, resolve: done, timer });
      sock.send(msg, undefined, (err) => {
        if (err) this.settle(seq, { error: err.code || 'EIO' });
      });
    });
  }

  close(): void {
    const s = this.sock;
    this.sock = null;
    this.failAll('ECONNRESET');
    s?.close();
  }

  private onDatagram(buf: Buffer): void {
    for (const r of decodeReplies(buf)) {
      const p = this.pending.get(r.seq);
      if (!p) continue;
      if (r.error !== 0) this.settle(r.seq, { error: -r.error === ENOENT ? 'ENOENT' : `errno ${-r.error}` });
      // The orientation trap: only the querier's own socket has the querier's port.
      else if (r.sport !== p.q.peer.port) this.settle(r.seq, { error: 'EMISMATCH' });
      else if (r.cgroupId === undefined) this.settle(r.seq, { error: 'ENOCGROUP' });
      else this.settle(r.seq, { id: r.cgroupId });
    }
  }

  private settle(seq: number, r: DiagResult): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    clearTimeout(p.timer);
    if (this.pending.size === 0) this.sock?.unref();
    if ('id' in r) this.stats.found++;
    else this.stats.failed++;
    p.resolve(r);
  }

  private fail(code: string): DiagResult {
    this.stats.failed++;
    return { error: code };
  }

  private failAll(code: string): void {
    for (const seq of [...this.pending.keys()]) this.settle(seq, { error: code });
  }
}
