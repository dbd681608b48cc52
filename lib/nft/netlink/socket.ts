// A NETLINK_NETFILTER socket with our own sequence numbers and reply routing.
// Built on netlink@0.3.0's RawNetlinkSocket; see docs in lib/nft/README.md for its pitfalls.
import { readSync } from 'node:fs';
import { RawNetlinkSocket } from '../../util/raw-netlink';
import type { Logger } from 'pino';
import { NETLINK_NETFILTER, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, NLM_F_ACK } from './constants';
import { parseMessages, parseError, type NlMsg } from './decode';
import { batchBegin, batchEnd, readI32 } from './encode';
import { NftError, kernelError } from '../errors';
import { hardenNetlinkSocket, netlinkFd } from './sockopt';

/** Replies for a whole batch can be large (one NLMSG_ERROR per failed message). 8 MiB; the
 * kernel caps it at net.core.rmem_max and reports double the accepted value. */
export const RECV_BUFFER_SIZE = 8 << 20;
export const SEND_BUFFER_SIZE = 4 << 20;
/** A request the kernel never answers fails after this long (the kernel answers in microseconds). */
export const DEFAULT_REPLY_TIMEOUT_MS = 5000;
/** A netlink datagram is at most 32 KiB (netlink_dump's largest skb); a read this long may be cut. */
const SYNC_READ_BYTES = 64 << 10;
/** Datagrams read at once after a batch: its ack, or one error per failed message, and strays. */
const SYNC_READ_MAX = 16;

/** One message of a batch: how to encode it once its sequence number is known, and a name for errors. */
export interface BatchPart {
  label: string;
  build(seq: number): Buffer;
}

interface Pending {
  first: number;
  last: number;
  labels: Map<number, string>;
  /** For GET/dump requests: replies collected. */
  replies: NlMsg[];
  kind: 'batch' | 'get' | 'dump';
  resolve(msgs: NlMsg[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * What the kernel layer needs of a netlink connection (the seam for tests: a fake records the
 * batches and answers them, as google/nftables' test dialer does). NfnlSocket is the real one.
 */
export interface NftTransport {
  /** BATCH_BEGIN, parts, BATCH_END(ACK) in one datagram; resolves once the kernel committed. */
  batch(parts: BatchPart[]): Promise<void>;
  /** One request with ACK: the replies before the ack. */
  get(label: string, build: (seq: number) => Buffer): Promise<NlMsg[]>;
  /** A dump request: every reply up to NLMSG_DONE. */
  dump(label: string, build: (seq: number) => Buffer): Promise<NlMsg[]>;
  close(): void;
  readonly closed: boolean;
  /** SO_RCVBUF as the kernel reports it (0 where there is no socket). */
  readonly recvBufferSize: number;
  /** The socket's netlink port id (the nlmsg_pid of the change notifications its batches cause); absent where there is none. */
  readonly port?: number;
}

export interface TransportOptions {
  log?: Logger;
  replyTimeoutMs?: number;
  /**
   * NETLINK_NO_ENOBUFS and SO_RCVBUFFORCE(RECV_BUFFER_SIZE) on the socket (netlink/sockopt.ts), so
   * replies can never overflow it into netlink@0.3.0's abort; a reply the kernel still could not
   * queue is then lost silently and its request times out (an error, not a dead process). For
   * the programmer's long-lived socket; best effort (a warning if it cannot be set).
   */
  overflowSafe?: boolean;
  /**
   * Read a batch's replies right after sendmsg instead of on the next event-loop poll: the kernel
   * runs an nfnetlink batch inside sendmsg (nfnetlink_rcv_batch commits and queues the acks before
   * the syscall returns), so they are already there. Under load the poll came ~1 ms later, after
   * the other sockets' datagrams (bench: the hold of unique answers). Non-blocking read on the
   * socket's descriptor (found through /proc); best effort, the poll path still reads what is left.
   */
  syncAcks?: boolean;
}

/** Opens a connection to nf_tables; each caller opens what it needs (the programmer, adoption, a dump). */
export type TransportFactory = (opts?: TransportOptions) => NftTransport;

/** The real transport: a NETLINK_NETFILTER socket in this process's network namespace. */
export const netlinkTransport: TransportFactory = (opts) => new NfnlSocket(opts);

export class NfnlSocket implements NftTransport {
  private sock: RawNetlinkSocket | null;
  private seq: number;
  private readonly bySeq = new Map<number, Pending>();
  private inFlight = 0;
  private readonly log?: Logger;
  private readonly replyTimeoutMs: number;
  /** Replies that matched nothing (late answers to timed-out or failed requests). */
  strayReplies = 0;
  readonly recvBufferSize: number;
  readonly port: number;
  /** The socket's descriptor for syncAcks reads; -1 when off or not found. */
  private fd = -1;
  private readBuf: Buffer | null = null;

  constructor(opts: TransportOptions = {}) {
    this.log = opts.log;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    // Own counter, far from the package's (which starts at 1); the kernel echoes it back.
    this.seq = (0x10000 + Math.floor(Math.random() * 0x7fff0000)) >>> 0;
    const sock = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: RECV_BUFFER_SIZE, sendBufferSize: SEND_BUFFER_SIZE });
    this.sock = sock;
    // Without a listener an 'error' event (ENOBUFS arrives that way) throws and kills the process.
    sock.on('error', (err) => this.onError(err));
    sock.on('message', (buf) => this.onDatagram(buf));
    sock.on('truncatedMessage', () => this.failAll(new NftError('EMSGSIZE', 'netlink reply truncated: outcome of in-flight requests unknown')));
    sock.on('close', () => {
      this.sock = null;
      this.failAll(new NftError('ECONNRESET', 'netlink socket closed'));
    });
    this.port = sock.address().port;
    if (opts.overflowSafe) {
      try {
        hardenNetlinkSocket(NETLINK_NETFILTER, this.port, { noEnobufs: true, recvBufferForce: RECV_BUFFER_SIZE });
      } catch (e) {
        this.log?.warn({ err: (e as Error).message }, 'netlink request socket keeps ENOBUFS (replies are bounded: maxInFlight batches of ≤ 8 messages)');
      }
    }
    if (opts.syncAcks) {
      try {
        this.fd = netlinkFd(NETLINK_NETFILTER, this.port);
        this.readBuf = Buffer.allocUnsafe(SYNC_READ_BYTES);
      } catch (e) {
        this.log?.warn({ err: (e as Error).message }, 'netlink socket descriptor not found; batch acks are read on the next poll');
      }
    }
    this.recvBufferSize = sock.getRecvBufferSize();
    // Idle sockets must not keep the process alive; ref() while a request waits.
    sock.unref();
  }

  get closed(): boolean {
    return this.sock === null;
  }

  get pending(): number {
    return this.inFlight;
  }

  /** Sends BATCH_BEGIN, parts, BATCH_END(ACK) as one datagram; resolves when the kernel committed. */
  batch(parts: BatchPart[]): Promise<void> {
    const first = this.nextSeq();
    const labels = new Map<number, string>();
    const bufs: Buffer[] = [batchBegin(first)];
    labels.set(first, 'BATCH_BEGIN');
    for (const p of parts) {
      const s = this.nextSeq();
      labels.set(s, p.label);
      bufs.push(p.build(s));
    }
    const last = this.nextSeq();
    labels.set(last, 'BATCH_END');
    // ACK only on END: it arrives only after a successful commit; a failing message always gets an error.
    bufs.push(batchEnd(last, NLM_F_ACK));
    return this.start('batch', first, last, labels, Buffer.concat(bufs)).then(() => undefined);
  }

  /** A single request with ACK (no dump): resolves with the replies before the ack. */
  get(label: string, build: (seq: number) => Buffer): Promise<NlMsg[]> {
    const s = this.nextSeq();
    return this.start('get', s, s, new Map([[s, label]]), build(s));
  }

  /** A dump request: resolves with every reply up to NLMSG_DONE. */
  dump(label: string, build: (seq: number) => Buffer): Promise<NlMsg[]> {
    const s = this.nextSeq();
    return this.start('dump', s, s, new Map([[s, label]]), build(s));
  }

  close(): void {
    const sock = this.sock;
    if (!sock) return;
    this.failAll(new NftError('ECONNRESET', 'netlink socket closed'));
    this.sock = null;
    sock.close();
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private start(kind: Pending['kind'], first: number, last: number, labels: Map<number, string>, datagram: Buffer): Promise<NlMsg[]> {
    const sock = this.sock;
    if (!sock) return Promise.reject(new NftError('ECONNRESET', 'netlink socket is closed'));
    return new Promise<NlMsg[]>((resolve, reject) => {
      const p: Pending = {
        first,
        last,
        labels,
        kind,
        replies: [],
        resolve,
        reject,
        timer: setTimeout(
          () => this.settle(p, new NftError('ETIMEDOUT', `no reply from the kernel to ${labels.get(first)} within ${this.replyTimeoutMs} ms`)),
          this.replyTimeoutMs,
        ),
      };
      for (const s of labels.keys()) this.bySeq.set(s, p);
      if (this.inFlight++ === 0) sock.ref();
      sock.send(datagram, undefined, (err) => {
        if (err) this.settle(p, err.code === 'EPERM' ? kernelError(1, 'sendmsg') : new NftError(err.code || 'EIO', `netlink sendmsg: ${err.message}`));
      });
      if (kind === 'batch' && this.fd >= 0) this.readNow(p);
    });
  }

  /**
   * syncAcks: the datagrams already queued on the socket, until `p` is settled (its ack or error
   * was among them) or none is left (sendmsg was deferred: the poll path reads the reply later).
   */
  private readNow(p: Pending): void {
    const buf = this.readBuf!;
    const stackLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // EAGAIN is an exception from readSync: no stack to capture
    try {
      for (let i = 0; i < SYNC_READ_MAX && this.bySeq.get(p.first) === p; i++) {
        let n: number;
        try {
          n = readSync(this.fd, buf, 0, buf.length, null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') this.log?.debug({ err: (e as Error).message }, 'netlink read after batch failed; the poll path reads the reply');
          return;
        }
        if (n >= buf.length) {
          this.failAll(new NftError('EMSGSIZE', 'netlink reply truncated: outcome of in-flight requests unknown'));
          return;
        }
        // A copy: dump replies keep their payloads, and buf is read into again.
        this.onDatagram(Buffer.from(buf.subarray(0, n)));
      }
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
  }

  private settle(p: Pending, err: Error | null): void {
    if (!this.bySeq.has(p.first) || this.bySeq.get(p.first) !== p) return; // already settled
    for (const s of p.labels.keys()) this.bySeq.delete(s);
    clearTimeout(p.timer);
    if (--this.inFlight === 0 && this.sock) this.sock.unref();
    if (err) p.reject(err);
    else p.resolve(p.replies);
  }

  private onDatagram(buf: Buffer): void {
    for (const msg of parseMessages(buf)) {
      const p = this.bySeq.get(msg.seq);
      if (!p) {
        this.strayReplies++;
        continue;
      }
      if (msg.type === NLMSG_ERROR) {
        const errno = parseError(msg);
        if (errno === null) continue;
        if (errno !== 0) {
          this.settle(p, kernelError(errno, p.labels.get(msg.seq) ?? 'netlink request'));
          continue;
        }
        // An ack: for a batch only END's counts (the commit); for a get it ends the request.
        if (p.kind === 'batch' ? msg.seq === p.last : true) this.settle(p, null);
      } else if (msg.type === NLMSG_DONE) {
        // NLMSG_DONE carries an int: a negative errno when the dump failed midway.
        const errno = msg.payload.length >= 4 ? -readI32(msg.payload, 0) : 0;
        this.settle(p, errno > 0 ? kernelError(errno, p.labels.get(msg.seq) ?? 'netlink dump') : null);
      } else if (msg.type === NLMSG_OVERRUN) {
        this.settle(p, new NftError('EOVERFLOW', 'netlink reported data lost (NLMSG_OVERRUN)'));
      } else {
        p.replies.push(msg);
      }
    }
  }

  private onError(err: Error & { code?: string }): void {
    // ENOBUFS: the kernel dropped replies we will never see, so no in-flight outcome is known.
    const code = err.code || 'EIO';
    this.log?.warn({ err: { code, message: err.message }, inFlight: this.inFlight }, 'netlink socket error; failing in-flight requests');
    this.failAll(new NftError(code, `netlink ${code === 'ENOBUFS' ? 'receive buffer overflowed (ENOBUFS)' : 'socket error ' + code}: outcome of in-flight requests unknown`));
  }

  private failAll(err: Error): void {
    const all = new Set(this.bySeq.values());
    for (const p of all) this.settle(p, err);
  }
}
