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

/** Tries to find an ID not in flight on a socket before giving up; at the default caps
 *  (20000 in flight over 8 sockets) a random ID is taken with probability < 4%. */
const ID_TRIES = 32;
/** Replies to a burst of queries arrive as a burst: ask for a deep receive queue (the kernel caps
 *  it at net.core.rmem_max; the default ~200 KiB holds only a few hundred small datagrams). */
const RECV_BUFFER_BYTES = 4 << 20;

interface Pending {
  server: Endpoint;
  /** our copy of the query as sent (its question is what the reply must carry) */
  wire: Buffer;
  qEnd: number;
  timer: NodeJS.Timeout;
  resolve: (reply: Buffer) => void;
  reject: (err: Error) => void;
}

interface Slot {
  socket: dgram.Socket;
  inflight: Map<number, Pending>;
}

export class UdpPool {
  private readonly slots = new Map<Family, Slot[]>();
  private readonly rr = new Map<Family, number>();
  private closed = false;

  constructor(
    private readonly families: Family[],
    private readonly size: number,
    private readonly ids: RandomIds,
    private readonly stats: UpstreamStats,
    private readonly log?: Logger,
  ) {}

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
    const slot: Slot = { socket, inflight: new Map() };
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
   * and resolve with the accepted reply (still carrying our ID), or reject after `timeoutMs`.
   */
  query(query: Buffer, qEnd: number, server: Endpoint, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new UpstreamError('CLOSED', 'upstream pool is closed'));
    const slots = this.slots.get(server.family);
    if (!slots) return Promise.reject(new UpstreamError('CLOSED', `no IPv${server.family} sockets: pool not started`));
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
    if (id < 0) return Promise.reject(new UpstreamError('NO_ID', 'no free query ID on the upstream socket'));

    const wire = Buffer.allocUnsafe(query.length);
    query.copy(wire);
    wire.writeUInt16BE(id, 0);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (slot.inflight.get(id) !== pending) return;
        slot.inflight.delete(id);
        this.stats.timeouts++;
        reject(new UpstreamError('TIMEOUT', `no reply from ${endpointText(server)} over UDP within ${timeoutMs} ms`));
      }, timeoutMs);
      const pending: Pending = { server, wire, qEnd, timer, resolve, reject };
      slot.inflight.set(id, pending);
      this.stats.sent++;
      slot.socket.send(wire, server.port, server.host, (err) => {
        if (!err || slot.inflight.get(id) !== pending) return;
        slot.inflight.delete(id);
        clearTimeout(timer);
        this.stats.sendErrors++;
        reject(new UpstreamError('SEND_FAILED', `sending to ${endpointText(server)} failed: ${err.message}`));
      });
    });
  }

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
    clearTimeout(p.timer);
    this.stats.accepted++;
    p.resolve(msg);
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
    const closing: Promise<void>[] = [];
    for (const slots of this.slots.values()) {
      for (const slot of slots) {
        for (const p of slot.inflight.values()) {
          clearTimeout(p.timer);
          p.reject(new UpstreamError('CLOSED', 'upstream pool closed while the query was in flight'));
        }
        slot.inflight.clear();
        closing.push(new Promise((resolve) => slot.socket.close(() => resolve())));
      }
    }
    this.slots.clear();
    await Promise.all(closing);
  }
}
