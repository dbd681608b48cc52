// The daemon's per-source bound (README.md "Fairness"), for what the kernel meter cannot see: audit
// mode (no ruleset), queries pipelined on TCP connections, connections per source, and a source
// that stays under the rate but holds the pending-query pool. One SourceBudget is shared by
// every listener (UDP and TCP, every listen address), keyed by the source address.
import type { Logger } from 'pino';
import { LogLimiter } from '../util/ratelimit';

/**
 * One source may hold at most 1/SHARE_DIVISOR of `limits.maxPendingQueries` in flight and of
 * `limits.tcpMaxConnections` connections. A fixed share, not pool/active-sources: a newcomer
 * must find room even when one source has been busy alone, and 8 is where the defaults meet a
 * real need — 20000/8 = 2500 in flight is a pod at the full 2000 queries/s through an
 * upstream that answers in 1.25 s (the upstream try timeout is 1.5 s).
 */
export const SHARE_DIVISOR = 8;
/** Sources whose bucket alone is kept (nothing in flight, no connection); beyond it idle ones go first. */
export const MAX_IDLE_SOURCES = 65536;
const SWEEP_MS = 2000;
/**
 * FORMERR/NOTIMP replies per second per source (burst 2×). Beyond it bad input is dropped
 * silently (bad input gets FORMERR or is dropped): a stream of garbage costs a parse, not a parse and a send.
 */
export const BAD_INPUT_REPLIES_PER_SECOND = 100;
const REPLY_REFILL_MS = 2000; // the reply bucket (2 × per second) is full again after 2 s

export type RejectReason = 'rate' | 'pending' | 'connections';

export interface FairnessStats {
  /** UDP datagrams dropped over the rate (before parsing; audit mode or no kernel meter) */
  rateDropped: number;
  /** TCP reads paused because the connection's source was over the rate (back-pressure) */
  ratePaused: number;
  /** queries answered SERVFAIL because their source held its share of the pending pool */
  pendingRejected: number;
  /** TCP connections closed at once because their source held its share of connections */
  connectionsRejected: number;
  /** malformed UDP queries dropped instead of answered FORMERR/NOTIMP (over BAD_INPUT_REPLIES_PER_SECOND) */
  badInputSilenced: number;
}

interface SourceState {
  tokens: number;
  /** ms of the last refill */
  last: number;
  /** tokens for FORMERR/NOTIMP replies, and ms of their last refill */
  replyTokens: number;
  replyLast: number;
  pending: number;
  connections: number;
}

export interface BudgetLimits {
  /** 0: no rate limit in the daemon */
  sourceQueriesPerSecond: number;
  maxPendingQueries: number;
  tcpMaxConnections: number;
}

export class SourceBudget {
  private readonly sources = new Map<string, SourceState>();
  private rate = 0;
  private burst = 0;
  private pendingShare = 1;
  private connectionShare = 1;
  private readonly limiter = new LogLimiter(1, 5);
  private readonly timer: NodeJS.Timeout;
  readonly stats: FairnessStats = { rateDropped: 0, ratePaused: 0, pendingRejected: 0, connectionsRejected: 0, badInputSilenced: 0 };

  constructor(
    limits: BudgetLimits,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.configure(limits);
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** New limits (reload); state already held stays counted. */
  configure(l: BudgetLimits): void {
    this.rate = l.sourceQueriesPerSecond;
    this.burst = 2 * l.sourceQueriesPerSecond;
    this.pendingShare = Math.max(1, Math.floor(l.maxPendingQueries / SHARE_DIVISOR));
    this.connectionShare = Math.max(1, Math.floor(l.tcpMaxConnections / SHARE_DIVISOR));
  }

  get limits(): { perSecond: number; burst: number; pendingShare: number; connectionShare: number } {
    return { perSecond: this.rate, burst: this.burst, pendingShare: this.pendingShare, connectionShare: this.connectionShare };
  }

  private state(address: string, now: number): SourceState {
    let s = this.sources.get(address);
    if (s === undefined) {
      if (this.sources.size >= MAX_IDLE_SOURCES) this.evictIdle();
      s = { tokens: this.burst, last: now, replyTokens: 2 * BAD_INPUT_REPLIES_PER_SECOND, replyLast: now, pending: 0, connections: 0 };
      this.sources.set(address, s);
    }
    return s;
  }

  /**
   * One query from address: 0 when a token was taken (or the rate limit is off), else the ms
   * until the next token. Costs a map lookup and a few float operations.
   */
  take(address: string): number {
    if (this.rate <= 0) return 0;
    const now = this.now();
    const s = this.state(address, now);
    s.tokens = Math.min(this.burst, s.tokens + ((now - s.last) * this.rate) / 1000);
    s.last = now;
    if (s.tokens >= 1) {
      s.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - s.tokens) * 1000) / this.rate));
  }

  /** Whether bad input from address still gets a FORMERR/NOTIMP reply (else it is dropped, counted). */
  mayReplyToBadInput(address: string): boolean {
    const now = this.now();
    const s = this.state(address, now);
    const max = 2 * BAD_INPUT_REPLIES_PER_SECOND;
    s.replyTokens = Math.min(max, s.replyTokens + ((now - s.replyLast) * BAD_INPUT_REPLIES_PER_SECOND) / 1000);
    s.replyLast = now;
    if (s.replyTokens >= 1) {
      s.replyTokens -= 1;
      return true;
    }
    this.stats.badInputSilenced++;
    return false;
  }

  /** A UDP datagram over the rate: count it and say so in the log, rate-limited. */
  dropped(address: string): void {
    this.stats.rateDropped++;
    this.note(address, 'rate');
  }

  paused(address: string): void {
    this.stats.ratePaused++;
    this.note(address, 'rate');
  }

  /** A slot in the pending pool for address, or false (counted) when it holds its share. */
  hold(address: string): boolean {
    const s = this.state(address, this.now());
    if (s.pending >= this.pendingShare) {
      this.stats.pendingRejected++;
      this.note(address, 'pending');
      return false;
    }
    s.pending++;
    return true;
  }

  release(address: string): void {
    const s = this.sources.get(address);
    if (s && s.pending > 0) s.pending--;
  }

  /** A new TCP connection from address, or false (counted) when it holds its share. */
  connect(address: string): boolean {
    const s = this.state(address, this.now());
    if (s.connections >= this.connectionShare) {
      this.stats.connectionsRejected++;
      this.note(address, 'connections');
      return false;
    }
    s.connections++;
    return true;
  }

  disconnect(address: string): void {
    const s = this.sources.get(address);
    if (s && s.connections > 0) s.connections--;
  }

  /** How many sources have state now (bounded: see MAX_IDLE_SOURCES and the pools). */
  get size(): number {
    return this.sources.size;
  }

  /** Pending queries and connections address holds (tests, explain). */
  held(address: string): { pending: number; connections: number } {
    const s = this.sources.get(address);
    return { pending: s?.pending ?? 0, connections: s?.connections ?? 0 };
  }

  private note(address: string, reason: RejectReason): void {
    if (!this.limiter.take()) return;
    const suppressed = this.limiter.suppressed();
    const l = this.limits;
    const limit = reason === 'rate' ? `${l.perSecond}/s, burst ${l.burst}` : reason === 'pending' ? `${l.pendingShare} in flight` : `${l.connectionShare} connections`;
    this.log.warn({ source: address, reason, limit, ...(suppressed ? { suppressed } : {}) }, 'source over its fair share');
  }

  /** Forget sources that hold nothing and whose bucket is full again (they are like new ones). */
  private sweep(): void {
    const now = this.now();
    const refillMs = this.rate > 0 ? (this.burst * 1000) / this.rate : 0;
    for (const [a, s] of this.sources) {
      if (s.pending === 0 && s.connections === 0 && now - s.last >= refillMs && now - s.replyLast >= REPLY_REFILL_MS) this.sources.delete(a);
    }
  }

  /** The map is full: drop idle sources, oldest first, until a tenth is free (sources holding queries or connections stay). */
  private evictIdle(): void {
    this.sweep();
    let excess = this.sources.size - Math.floor(MAX_IDLE_SOURCES * 0.9);
    for (const [a, s] of this.sources) {
      if (excess <= 0) break;
      if (s.pending === 0 && s.connections === 0) {
        this.sources.delete(a);
        excess--;
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
