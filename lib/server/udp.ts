// UDP listener: one socket per listen address, each datagram a query, each query independent.
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Endpoint } from '../config/types';
import type { Handler } from '../plugins/types';
import type { LocalEnd } from '../identity/types';
import { intake, canonicalSource } from './request';
import { errorResponse } from '../dns/synth';
import { RCODE } from '../dns/constants';
import { bindError } from './bind-error';
import { literalLookup } from '../util/udp-lookup';
import type { SourceBudget } from '../fairness/budget';

/** What the listener shares with the others: the per-source budget (lib/fairness). */
export interface UdpFairness {
  budget: SourceBudget;
  /** charge every datagram to its source's rate bucket: off when the kernel meter does it */
  meter: boolean;
}

export interface ListenerStats {
  received: number;
  answered: number;
  dropped: number;
  formerr: number;
  overloaded: number;
}

export class UdpListener {
  private socket?: dgram.Socket;
  private pending = 0;
  private draining = false;
  /** One socket per listen address: every datagram was sent to it (with the port bound). */
  private localEnd: LocalEnd;
  readonly stats: ListenerStats = { received: 0, answered: 0, dropped: 0, formerr: 0, overloaded: 0 };

  constructor(
    private readonly ep: Endpoint,
    private readonly handle: () => Handler,
    private maxPending: number,
    private readonly log: Logger,
    private readonly fair?: UdpFairness,
  ) {
    this.localEnd = { address: ep.host, port: ep.port };
  }

  /** Reload: the bound on queries in flight, for the next query. */
  setMaxPending(n: number): void {
    this.maxPending = n;
  }

  /**
   * Resolves with the bound port (useful when ep.port is 0 in tests). With fd, wrap that
   * inherited, already bound socket instead of binding (see listen-fds.ts).
   */
  listen(fd?: number): Promise<number> {
    const socket = dgram.createSocket({
      type: this.ep.family === 6 ? 'udp6' : 'udp4',
      ipv6Only: this.ep.family === 6,
      recvBufferSize: 4 << 20,
      sendBufferSize: 4 << 20,
      lookup: literalLookup,
    });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(socket, msg, rinfo));
    socket.on('error', (err) => this.log.error({ err: err.message, listen: this.ep }, 'udp socket error'));
    return new Promise((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException) => reject(bindError(err, this.ep, 'udp'));
      socket.once('error', failed);
      const bound = () => {
        socket.off('error', failed);
        const port = socket.address().port;
        this.localEnd = { address: this.ep.host, port };
        resolve(port);
      };
      if (fd === undefined) socket.bind(this.ep.port, this.ep.host, bound);
      else socket.bind({ fd }, bound);
    });
  }

  private onMessage(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.draining) return; // shutting down: a query dropped now is retried by the client elsewhere
    this.stats.received++;
    const address = canonicalSource(rinfo.address);
    // Cheapest first: over the source's rate (audit mode, no kernel meter) → dropped unread.
    const fair = this.fair;
    if (fair?.meter && fair.budget.take(address) > 0) {
      this.stats.dropped++;
      fair.budget.dropped(address);
      return;
    }
    const it = intake(msg, address, rinfo.port, 'udp', this.localEnd);
    if (it.kind === 'drop') {
      this.stats.dropped++;
      if (this.log.isLevelEnabled('debug')) this.log.debug({ source: address, why: it.why }, 'dropped packet');
      return;
    }
    if (it.kind === 'reply') {
      if (fair && !fair.budget.mayReplyToBadInput(address)) {
        this.stats.dropped++; // a stream of garbage: answered up to a rate, then dropped
        return;
      }
      this.stats.formerr++;
      if (this.log.isLevelEnabled('debug')) this.log.debug({ source: address, why: it.why }, 'bad query');
      send(socket, it.wire, rinfo);
      return;
    }
    if (this.pending >= this.maxPending) {
      this.stats.overloaded++;
      send(socket, errorResponse(msg, it.req.query, RCODE.SERVFAIL), rinfo);
      return;
    }
    // A source that holds its share of the pool gets SERVFAIL at once, as an overloaded pool does.
    if (fair && !fair.budget.hold(address)) {
      this.stats.overloaded++;
      send(socket, errorResponse(msg, it.req.query, RCODE.SERVFAIL), rinfo);
      return;
    }
    this.pending++;
    this.handle()(it.req).then(
      (res) => {
        this.pending--;
        fair?.budget.release(address);
        this.stats.answered++;
        send(socket, res.wire, rinfo);
      },
      (err) => {
        // Plugins return DNS failures as values; an exception here is a bug: answer, log, go on.
        this.pending--;
        fair?.budget.release(address);
        this.log.error({ err: (err as Error).stack, name: it.req.query.name }, 'handler threw; SERVFAIL');
        send(socket, errorResponse(msg, it.req.query, RCODE.SERVFAIL), rinfo);
      },
    );
  }

  get inFlight(): number {
    return this.pending;
  }

  /**
   * Keep answering until the first instant with nothing in flight (at most timeoutMs), then
   * close. Node cannot stop reading a dgram socket that stays open, and held answers need it
   * open; closing when idle means every datagram read was answered, and the ones not read yet
   * stay in the kernel buffer — for the next daemon when the socket is shared (listen-fds.ts).
   */
  async close(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    this.draining = true; // overdue: what arrives now goes unanswered, the client retries
    while (this.pending > 0 && Date.now() < deadline + 200) await new Promise((r) => setTimeout(r, 10));
    const s = this.socket;
    this.socket = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }
}

function send(socket: dgram.Socket, wire: Buffer, rinfo: dgram.RemoteInfo): void {
  try {
    socket.send(wire, rinfo.port, rinfo.address);
  } catch {
    // socket already closed during shutdown: nothing to do, the client retries
  }
}
