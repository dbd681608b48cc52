// TCP listener (RFC 7766): 2-byte length framing, pipelined queries answered as they complete,
// idle timeout, a cap on connections and on queries in flight per connection.
import net from 'node:net';
import type { Logger } from 'pino';
import type { Endpoint } from '../config/types';
import type { Handler } from '../plugins/types';
import { intake, canonicalSource } from './request';
import { errorResponse } from '../dns/synth';
import { RCODE } from '../dns/constants';
import { bindError } from './bind-error';
import type { ListenerStats } from './udp';
import type { SourceBudget } from '../fairness/budget';

/** Queries one connection may have in flight before we stop reading from it (back-pressure). */
const MAX_PIPELINE = 64;
/**
 * close(): a connection is ended (FIN) only once it has nothing in flight, no partial frame, and
 * has been quiet this long — a client that connected just before we stopped accepting still gets
 * its query read and answered. Ending it earlier lost that query: an answer written after end()
 * is dropped, and the unread bytes make the close a reset (ECONNRESET at the client).
 */
const CLOSE_QUIET_MS = 100;

/** What close() needs to know of a connection. */
interface ConnState {
  inFlight: number;
  /** bytes received and not yet framed */
  size: number;
  /** Date.now() of the last bytes received (of the accept before any) */
  lastData: number;
  ended: boolean;
}

export interface TcpOptions {
  idleTimeoutMs: number;
  maxConnections: number;
  /**
   * The per-source budget shared with the other listeners (lib/fairness): connections per
   * source, queries per second per source (the kernel meters only SYNs), share of the pool.
   */
  budget?: SourceBudget;
}

export class TcpListener {
  private server?: net.Server;
  private readonly sockets = new Map<net.Socket, ConnState>();
  private pending = 0;
  readonly stats: ListenerStats & { connections: number; badFrames: number } = { received: 0, answered: 0, dropped: 0, formerr: 0, overloaded: 0, connections: 0, badFrames: 0 };

  constructor(
    private readonly ep: Endpoint,
    private readonly handle: () => Handler,
    private opts: TcpOptions,
    private readonly log: Logger,
  ) {}

  /** Reload: the idle timeout applies to connections accepted from now on, the cap at once. */
  setOptions(opts: Pick<TcpOptions, 'idleTimeoutMs' | 'maxConnections'>): void {
    this.opts = { ...this.opts, idleTimeoutMs: opts.idleTimeoutMs, maxConnections: opts.maxConnections }; // the budget stays
    if (this.server) this.server.maxConnections = opts.maxConnections;
  }

  /** Resolves with the bound port; with fd, listen on that inherited socket instead (listen-fds.ts). */
  listen(fd?: number): Promise<number> {
    const server = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
    server.maxConnections = this.opts.maxConnections;
    server.on('error', (err) => this.log.error({ err: err.message, listen: this.ep }, 'tcp server error'));
    this.server = server;
    return new Promise((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException) => reject(bindError(err, this.ep, 'tcp'));
      server.once('error', failed);
      const opts = fd === undefined ? { port: this.ep.port, host: this.ep.host, ipv6Only: this.ep.family === 6 } : { fd };
      server.listen(opts, () => {
        server.off('error', failed);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  private onConnection(sock: net.Socket): void {
    this.stats.connections++;
    const address = canonicalSource(sock.remoteAddress ?? '');
    const budget = this.opts.budget;
    if (budget && !budget.connect(address)) {
      sock.destroy(); // the source holds its share of connections already
      return;
    }
    const conn: ConnState = { inFlight: 0, size: 0, lastData: Date.now(), ended: false };
    this.sockets.set(sock, conn);
    const port = sock.remotePort ?? 0;
    // The connection's own local end: the exact address the client connected to.
    const local = { address: canonicalSource(sock.localAddress ?? this.ep.host), port: sock.localPort ?? this.ep.port };
    // Received bytes not yet framed, as the chunks that came: joined only once a whole frame is
    // there, so a client trickling a 64 KiB frame byte by byte costs no quadratic copying.
    let parts: Buffer[] = [];
    let closed = false;
    /** set while reading is paused because the source is over its rate */
    let rateWait: NodeJS.Timeout | undefined;
    sock.setTimeout(this.opts.idleTimeoutMs, () => sock.destroy());
    sock.on('error', (err) => this.log.debug({ source: address, err: err.message }, 'tcp client error'));
    sock.on('close', () => {
      closed = true;
      this.sockets.delete(sock);
      if (rateWait) clearTimeout(rateWait);
      budget?.disconnect(address);
    });
    const write = (wire: Buffer) => {
      if (closed || conn.ended) return;
      const len = Buffer.allocUnsafe(2);
      len.writeUInt16BE(wire.length);
      sock.write(Buffer.concat([len, wire]));
    };
    const pump = () => {
      while (conn.size >= 2) {
        if (parts[0].length < 2) parts = [Buffer.concat(parts, conn.size)];
        const n = parts[0].readUInt16BE(0);
        if (n < 12) {
          // A frame too short for a DNS header: the stream is garbage, resynchronising is guesswork.
          this.stats.badFrames++;
          if (this.log.isLevelEnabled('debug')) this.log.debug({ source: address, length: n }, 'bad tcp frame; closing');
          sock.destroy();
          return;
        }
        if (conn.size < 2 + n) break;
        if (parts[0].length < 2 + n) parts = [Buffer.concat(parts, conn.size)];
        const buf = parts[0];
        // Over the source's rate: stop reading until its next token (TCP back-pressure: the
        // client's window fills and it slows down; nothing is lost and nothing piles up here).
        const wait = budget ? budget.take(address) : 0;
        if (wait > 0) {
          budget!.paused(address);
          sock.pause();
          rateWait = setTimeout(() => {
            rateWait = undefined;
            if (closed) return;
            if (conn.inFlight < MAX_PIPELINE) sock.resume();
            pump();
          }, wait);
          return;
        }
        const msg = Buffer.from(buf.subarray(2, 2 + n)); // own copy: the stream buffer is reused
        if (buf.length === 2 + n) parts.shift();
        else parts[0] = buf.subarray(2 + n);
        conn.size -= 2 + n;
        this.stats.received++;
        const it = intake(msg, address, port, 'tcp', local);
        if (it.kind === 'drop') {
          this.stats.dropped++;
          continue;
        }
        if (it.kind === 'reply') {
          this.stats.formerr++;
          write(it.wire);
          continue;
        }
        if (budget && !budget.hold(address)) {
          this.stats.overloaded++;
          write(errorResponse(msg, it.req.query, RCODE.SERVFAIL));
          continue;
        }
        conn.inFlight++;
        this.pending++;
        if (conn.inFlight >= MAX_PIPELINE) sock.pause();
        const done = (wire: Buffer) => {
          conn.inFlight--;
          this.pending--;
          budget?.release(address);
          this.stats.answered++;
          write(wire);
          if (conn.inFlight < MAX_PIPELINE && sock.isPaused() && !rateWait) sock.resume();
        };
        this.handle()(it.req).then(
          (res) => done(res.wire),
          (err) => {
            this.log.error({ err: (err as Error).stack, name: it.req.query.name }, 'handler threw; SERVFAIL');
            done(errorResponse(msg, it.req.query, RCODE.SERVFAIL));
          },
        );
      }
    };
    sock.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      conn.size += chunk.length;
      conn.lastData = Date.now();
      // many tiny chunks (a trickle): join them now and then, so the list stays short
      if (parts.length >= 64) parts = [Buffer.concat(parts, conn.size)];
      if (!rateWait) pump();
    });
  }

  get inFlight(): number {
    return this.pending;
  }

  /**
   * Stop accepting, keep answering on the connections already accepted until each is idle (no
   * query in flight, no partial frame, quiet for CLOSE_QUIET_MS) and end it then; at timeoutMs
   * end the rest. An inherited listening socket stays open in the supervisor: connections not
   * yet accepted wait in its accept queue for the next daemon.
   */
  async close(timeoutMs = 2000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const deadline = Date.now() + timeoutMs;
    const endIdle = (all: boolean): boolean => {
      const now = Date.now();
      let open = 0;
      for (const [s, c] of this.sockets) {
        if (c.ended) continue;
        if (all || (c.inFlight === 0 && c.size === 0 && now - c.lastData >= CLOSE_QUIET_MS)) {
          c.ended = true;
          s.end();
        } else open++;
      }
      return open === 0;
    };
    while (!endIdle(false) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    endIdle(true);
    setTimeout(() => {
      for (const s of this.sockets.keys()) s.destroy();
    }, 200).unref();
    await closed;
  }
}
