// UDP to the upstreams: a fixed pool of unconnected sockets per address family, each bound to
// port 0 so the kernel picks a random source port, and a table of queries in flight per socket
// keyed by the random ID we gave the query. A datagram is a reply only if source address and
// port, ID, QR and question all match what we sent; anything else is dropped and the query
// keeps waiting, so a forged datagram can at worst be ignored, never win.
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Endpoint, Family } from '../config/types';
import { UpstreamError, endpointText } from './errors';
import { RandomIds } from './ids';
import type { UpstreamStats } from './stats';
import { sameQuestion } from './wire';
import { FLAG, HEADER_SIZE } from '../dns/constants';
import { literalLookup } from '../util/udp-lookup';
import { DeadlineQueue } from './deadlines';

/** Tries to find an ID not in flight on a socket before giving up; at the default caps
 *  (20000 in flight over 8 sockets) a random ID is taken with probability < 4%. */
const ID_TRIES = 32;
/** Replies to a burst of queries arrive as a burst: ask for a deep receive queue (the kernel caps
 *  it at net.core.rmem_max; the default ~200 KiB holds only a few hundred small datagrams). */
const RECV_BUFFER_BYTES = 4 << 20;

/** Who waits for a try: exactly one of the two is called, once, never before send() returns. */
export interface UdpWaiter {
  onReply(reply: Buffer): void;
  onError(err: Error): void;
}

interface Pending {
  server: Endpoint;
  /** our copy of the query as sent (its question is what the reply must carry) */
  wire: Buffer;
  qEnd: number;
  /** tells this try from a later one that reuses its ID on the socket (the deadline queue names tries by value) */
  seq: number;
  waiter: UdpWaiter;
}

interface Slot {
  /** index in `all`: how the deadline queue names the socket */
  index: number;
  socket: dgram.Socket;
  inflight: Map<number, Pending>;
}

export class UdpPool {
  private readonly slots = new Map<Family, Slot[]>();
  private readonly rr = new Map<Family, number>();
  /** every socket of every family, by Slot.index */
  private readonly all: Slot[] = [];
  private readonly deadlines: DeadlineQueue;
  private seq = 0;
  private closed = false;

  /** `timeoutMs`: how long every try waits for its reply. */
  constructor(
    private readonly families: Family[],
    private readonly size: number,
    private readonly ids: RandomIds,
    private readonly stats: UpstreamStats,
    readonly timeoutMs: number,
    private readonly log?: Logger,
  ) {
    this.deadlines = new DeadlineQueue(timeoutMs, this.expired);
  }

  async start(): Promise<void> {
    for (const family of this.families) {
      const slots: Slot[] = [];
      for (let i = 0; i < this.size; i++) slots.push(await this.open(family));
      this.slots.set(family, slots);
      this.rr.set(family, 0);
    }
  }

  private open(family: Family): Promise<Slot> {
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6, lookup: literalLookup });
    const slot: Slot = { index: this.all.length, socket, inflight: new Map() };
    this.all.push(slot);
    socket.on('message', (msg, rinfo) => this.onMessage(slot, msg, rinfo));
    socket.on('error', (err) => {
      // Unconnected sockets get no ICMP errors on Linux; whatever arrives here is logged, not fatal.
      this.stats.socketErrors++;
      this.log?.warn({ err: err.message }, 'upstream UDP socket error');
    });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: 0, address: family === 6 ? '::' : '0.0.0.0', exclusive: true }, () => {
        socket.off('error', reject);
        try {
          socket.setRecvBufferSize(RECV_BUFFER_BYTES);
        } catch (err) {
          this.log?.debug({ err: (err as Error).message }, 'could not enlarge the UDP receive buffer');
        }
        resolve(slot);
      });
    });
  }

  /**
   * Send `query` (the client's bytes; copied, never changed) to `server` with a fresh random ID
   * and resolve with the accepted reply (still carrying our ID), or reject after timeoutMs.
   */
  query(query: Buffer, qEnd: number, server: Endpoint): Promise<Buffer> {
    // failover's path (tryAll); the common first try calls send() itself (Upstreams' FirstTry)
    return new Promise((resolve, reject) => this.send(query, qEnd, server, { onReply: resolve, onError: reject }));
  }

  /**
   * The same without a promise: `waiter` hears the accepted reply (still carrying our ID) or the
   * error (CLOSED, NO_ID, SEND_FAILED, TIMEOUT after timeoutMs). Errors found here are reported
   * on the next tick, so the waiter is never called before send() returns.
   */
  send(query: Buffer, qEnd: number, server: Endpoint, waiter: UdpWaiter): void {
    if (this.closed) return failSoon(waiter, new UpstreamError('CLOSED', 'upstream pool is closed'));
    const slots = this.slots.get(server.family);
    if (!slots) return failSoon(waiter, new UpstreamError('CLOSED', `no IPv${server.family} sockets: pool not started`));
    const n = this.rr.get(server.family)!;
    this.rr.set(server.family, (n + 1) % slots.length);
    const slot = slots[n];
    let id = -1;
    for (let i = 0; i < ID_TRIES; i++) {
      const c = this.ids.take();
      if (!slot.inflight.has(c)) {
        id = c;
        break;
      }
    }
    if (id < 0) return failSoon(waiter, new UpstreamError('NO_ID', 'no free query ID on the upstream socket'));

    const wire = Buffer.allocUnsafe(query.length);
    query.copy(wire);
    wire.writeUInt16BE(id, 0);
    const seq = ++this.seq;
    const pending: Pending = { server, wire, qEnd, seq, waiter };
    slot.inflight.set(id, pending);
    this.deadlines.push(slot.index, id, seq);
    this.stats.sent++;
    // Without a callback node:dgram drops a send error silently: the callback is how a failed
    // send is seen. One closure per try: it also takes the error dgram throws at once.
    const sent = (err: Error | null) => {
      if (!err || slot.inflight.get(id) !== pending) return;
      slot.inflight.delete(id);
      this.stats.sendErrors++;
      waiter.onError(new UpstreamError('SEND_FAILED', `sending to ${endpointText(server)} failed: ${err.message}`));
    };
    try {
      slot.socket.send(wire, server.port, server.host, sent);
    } catch (err) {
      // dgram throws at once for a socket it no longer runs: still an error for the waiter, on the next tick
      process.nextTick(sent, err);
    }
  }

  /** A deadline passed: the try named so, if still in flight, has timed out. */
  private readonly expired = (index: number, id: number, seq: number): void => {
    const slot = this.all[index];
    const p = slot.inflight.get(id);
    if (p === undefined || p.seq !== seq) return; // answered (or failed) in time
    slot.inflight.delete(id);
    this.stats.timeouts++;
    p.waiter.onError(new UpstreamError('TIMEOUT', `no reply from ${endpointText(p.server)} over UDP within ${this.timeoutMs} ms`));
  };

  private onMessage(slot: Slot, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.stats.received++;
    if (msg.length < HEADER_SIZE) {
      this.stats.droppedMalformed++;
      this.log?.debug({ from: rinfo.address, port: rinfo.port, size: msg.length }, 'dropped short datagram');
      return;
    }
    const id = msg.readUInt16BE(0);
    const p = slot.inflight.get(id);
    if (!p) {
      this.stats.droppedUnexpected++;
      this.log?.debug({ from: rinfo.address, port: rinfo.port, id }, 'dropped datagram: no query in flight with its ID');
      return;
    }
    if (rinfo.address !== p.server.host || rinfo.port !== p.server.port) {
      this.stats.droppedSource++;
      this.log?.debug({ from: rinfo.address, port: rinfo.port, expected: endpointText(p.server), id }, 'dropped datagram: not from the server asked');
      return;
    }
    if ((msg.readUInt16BE(2) & FLAG.QR) === 0 || !sameQuestion(p.wire, p.qEnd, msg)) {
      this.stats.droppedMismatch++;
      this.log?.debug({ from: endpointText(p.server), id }, 'dropped datagram: not a reply to our question');
      return;
    }
    slot.inflight.delete(id);
    this.stats.accepted++;
    p.waiter.onReply(msg);
  }

  /** Queries in flight on all sockets (for tests and metrics). */
  get inFlight(): number {
    let n = 0;
    for (const slots of this.slots.values()) for (const s of slots) n += s.inflight.size;
    return n;
  }

  /** Reject every query in flight with CLOSED and close the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.deadlines.close();
    const closing: Promise<void>[] = [];
    const waiting: Pending[] = [];
    for (const slots of this.slots.values()) {
      for (const slot of slots) {
        waiting.push(...slot.inflight.values());
        slot.inflight.clear();
        closing.push(
          new Promise((resolve) => {
            try {
              slot.socket.close(() => resolve());
            } catch {
              resolve(); // closed already (dgram throws ERR_SOCKET_DGRAM_NOT_RUNNING)
            }
          }),
        );
      }
    }
    this.slots.clear();
    for (const p of waiting) p.waiter.onError(new UpstreamError('CLOSED', 'upstream pool closed while the query was in flight'));
    await Promise.all(closing);
  }
}

function failSoon(waiter: UdpWaiter, err: Error): void {
  process.nextTick(() => waiter.onError(err));
}
