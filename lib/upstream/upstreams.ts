// The upstream resolvers as one object: forward a client's query bytes (only the ID rewritten),
// try the servers in configured order, one try each, and hand back the first acceptable reply
// with the client's ID restored. See README.md for the acceptance rules.
import type { Logger } from 'pino';
import type { Endpoint, Family } from '../config/types';
import { type Attempt, UpstreamError, endpointText } from './errors';
import { RandomIds } from './ids';
import { type UpstreamStats, newStats } from './stats';
import { TcpClient } from './tcp';
import { UdpPool, type UdpWaiter } from './udp';
import { readQuestion } from '../dns/query';
import { FLAG, HEADER_SIZE, RCODE, RCODE_MASK } from '../dns/constants';
import type { Metrics } from '../metrics/registry';
import { registerUpstreamMetrics, type ServerStats } from './metrics';

export { UpstreamError } from './errors';
export type { UpstreamErrorCode, Attempt } from './errors';
export type { UpstreamStats } from './stats';

export interface UpstreamsOptions {
  /** tried in this order, each at most once per exchange */
  servers: Endpoint[];
  /** one try (UDP, or TCP connect and then TCP reply) may take this long before failing over */
  timeoutMs: number;
  /** UDP sockets per address family in use; default 8 */
  udpSockets?: number;
  /** exchanges waiting at once before new ones fail with OVERLOADED; default 20000 */
  maxInFlight?: number;
  log?: Logger;
  /** where the pool registers its metrics (metrics.ts) */
  metrics?: Metrics;
}

export interface QuestionOf {
  /** lowercased, no trailing dot (used in messages) */
  name: string;
  qtype: number;
  qclass: number;
  /** the client's ID, written back into the reply */
  id: number;
  /**
   * The offset just past the question, when the caller parsed these very bytes itself (the
   * chain's Query): the question is then not read a second time. Absent: exchange() reads it
   * and checks it against name/qtype/qclass.
   */
  questionEnd?: number;
}

export interface ExchangeResult {
  /** the reply's bytes as the server sent them, except the ID, which is the client's */
  wire: Buffer;
  server: Endpoint;
  transport: 'udp' | 'tcp';
  /** whole exchange, failovers and TCP retry included */
  ms: number;
}

export const DEFAULT_UDP_SOCKETS = 8;
export const DEFAULT_MAX_IN_FLIGHT = 20000;

export class Upstreams {
  readonly stats: UpstreamStats = newStats();
  /** per server, in configured order: tries, failures by reason, last accepted reply */
  readonly perServer: ServerStats[];
  private readonly servers: Endpoint[];
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly udp: UdpPool;
  private readonly tcp: TcpClient;
  private readonly log?: Logger;
  private inFlight = 0;
  private state: 'new' | 'started' | 'closed' = 'new';

  constructor(opts: UpstreamsOptions) {
    if (!opts.servers || opts.servers.length === 0) throw new UpstreamError('BAD_OPTIONS', 'no upstream servers given');
    if (!(opts.timeoutMs > 0)) throw new UpstreamError('BAD_OPTIONS', `timeoutMs must be > 0, got ${opts.timeoutMs}`);
    const size = opts.udpSockets ?? DEFAULT_UDP_SOCKETS;
    if (!Number.isInteger(size) || size < 1) throw new UpstreamError('BAD_OPTIONS', `udpSockets must be an integer >= 1, got ${size}`);
    this.servers = opts.servers.map((s) => ({ ...s }));
    this.perServer = this.servers.map((s) => ({ upstream: endpointText(s), requests: 0, failures: new Map(), lastReplyAt: 0 }));
    if (opts.metrics) registerUpstreamMetrics(opts.metrics, this);
    this.timeoutMs = opts.timeoutMs;
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.log = opts.log;
    const ids = new RandomIds();
    const families = [...new Set<Family>(this.servers.map((s) => s.family))];
    this.udp = new UdpPool(families, size, ids, this.stats, this.timeoutMs, this.log);
    this.tcp = new TcpClient(ids, this.stats);
  }

  /** Open the UDP sockets. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new UpstreamError('BAD_OPTIONS', `start() called on a ${this.state} pool`);
    this.state = 'started';
    await this.udp.start();
  }

  /** Reject every exchange in flight with CLOSED and close the sockets. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.tcp.close();
    await this.udp.close();
  }

  /** Exchanges waiting for a reply right now. */
  get pending(): number {
    return this.inFlight;
  }

  /** Rejects (never throws) with an UpstreamError when no server answered. */
  exchange(wire: Buffer, q: QuestionOf, opts?: { tcp?: boolean }): Promise<ExchangeResult> {
    if (this.state !== 'started') {
      return Promise.reject(new UpstreamError('CLOSED', this.state === 'new' ? 'upstream pool not started' : 'upstream pool is closed'));
    }
    let qEnd: number;
    try {
      qEnd = checkQuery(wire, q);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.inFlight >= this.maxInFlight) {
      this.stats.overloaded++;
      return Promise.reject(new UpstreamError('OVERLOADED', `${this.inFlight} upstream exchanges in flight (limit ${this.maxInFlight})`));
    }
    this.inFlight++;
    this.stats.exchanges++;
    const t0 = performance.now();
    if (opts?.tcp === true) {
      const p = this.tryAll(wire, qEnd, q, true, t0);
      p.then(this.settled, this.settled);
      return p;
    }
    // The common case: the first server over UDP, a reply that is final. One promise and one
    // object per exchange (FirstTry); anything else goes on in tryAll with the first outcome in hand.
    const p = new Promise<ExchangeResult>(captureExchange);
    this.perServer[0].requests++;
    this.udp.send(wire, qEnd, this.servers[0], new FirstTry(this, wire, qEnd, q, t0, capturedResolve!, capturedReject!));
    return p;
  }

  /** FirstTry's outcome: the reply is final, or tryAll takes over with it. */
  replied(t: FirstTry, reply: Buffer): void {
    if ((reply.readUInt16BE(2) & FLAG.TC) !== 0 || this.tryNext(reply, 0)) return this.fallBack(t, { reply });
    reply.writeUInt16BE(t.q.id, 0);
    this.perServer[0].lastReplyAt = Date.now();
    this.inFlight--;
    t.resolve({ wire: reply, server: this.servers[0], transport: 'udp', ms: performance.now() - t.t0 });
  }

  /** FirstTry failed (timeout, send error, closed): the next servers, in tryAll. */
  fallBack(t: FirstTry, firstUdp: { reply?: Buffer; err?: Error }): void {
    this.tryAll(t.wire, t.qEnd, t.q, false, t.t0, firstUdp).then(
      (r) => {
        this.inFlight--;
        t.resolve(r);
      },
      (err: unknown) => {
        this.inFlight--;
        t.reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** A SERVFAIL/REFUSED reply from server i while servers are left: kept as a fallback, the next is asked. */
  private tryNext(reply: Buffer, i: number): boolean {
    const rcode = reply[3] & RCODE_MASK;
    return (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) && i < this.servers.length - 1;
  }

  /** An exchange settled (either way): one shared callback, no closure per exchange. */
  private readonly settled = (): void => {
    this.inFlight--;
  };

  /** Each server in turn until one answers well; `firstUdp`: the first server's UDP outcome, already in (first()). */
  private async tryAll(wire: Buffer, qEnd: number, q: QuestionOf, tcpFirst: boolean, t0: number, firstUdp?: { reply?: Buffer; err?: Error }): Promise<ExchangeResult> {
    const attempts: Attempt[] = [];
    // A SERVFAIL/REFUSED reply is kept: relayed if no later server does better.
    let fallback: ExchangeResult | undefined;
    const last = this.servers.length - 1;
    for (let i = 0; i <= last; i++) {
      const server = this.servers[i];
      const ss = this.perServer[i];
      const given = i === 0 ? firstUdp : undefined;
      if (!given) ss.requests++;
      if (i > 0) this.stats.failovers++;
      let transport: 'udp' | 'tcp' = tcpFirst ? 'tcp' : 'udp';
      try {
        if (given?.err !== undefined) throw given.err;
        let reply = given?.reply ?? (tcpFirst ? await this.tcp.query(wire, qEnd, server, this.timeoutMs) : await this.udp.query(wire, qEnd, server));
        if (!tcpFirst && (reply.readUInt16BE(2) & FLAG.TC) !== 0) {
          this.stats.tcpRetries++;
          transport = 'tcp';
          reply = await this.tcp.query(wire, qEnd, server, this.timeoutMs);
        }
        reply.writeUInt16BE(q.id, 0);
        const result: ExchangeResult = { wire: reply, server, transport, ms: performance.now() - t0 };
        const rcode = reply[3] & RCODE_MASK;
        ss.lastReplyAt = Date.now();
        if (this.tryNext(reply, i)) {
          countFailure(ss, rcode === RCODE.SERVFAIL ? 'servfail' : 'refused');
          fallback = result;
          attempts.push({ server, transport, code: 'BAD_REPLY', message: `rcode ${rcode}` });
          this.log?.debug({ server: endpointText(server), name: q.name, rcode }, 'upstream refused or failed; trying the next');
          continue;
        }
        return result;
      } catch (err) {
        if (this.state === 'closed') throw new UpstreamError('CLOSED', 'upstream pool closed while the query was in flight', attempts);
        const e = err instanceof UpstreamError ? err : new UpstreamError('ALL_FAILED', String(err));
        attempts.push({ server, transport, code: e.code, message: e.message });
        countFailure(ss, e.code.toLowerCase());
        this.log?.debug({ server: endpointText(server), name: q.name, code: e.code, err: e.message }, 'upstream try failed');
      }
    }
    if (fallback) return { ...fallback, ms: performance.now() - t0 };
    const code = attempts.every((a) => a.code === 'TIMEOUT') ? 'TIMEOUT' : 'ALL_FAILED';
    throw new UpstreamError(code, `no upstream answered ${q.name || '.'}/${q.qtype}: ${attempts.map((a) => a.message).join('; ')}`, attempts);
  }
}

/** The first UDP try of an exchange, waiting on the pool: what it needs to finish, no closures. */
class FirstTry implements UdpWaiter {
  constructor(
    private readonly owner: Upstreams,
    readonly wire: Buffer,
    readonly qEnd: number,
    readonly q: QuestionOf,
    readonly t0: number,
    readonly resolve: (r: ExchangeResult) => void,
    readonly reject: (err: Error) => void,
  ) {}

  onReply(reply: Buffer): void {
    this.owner.replied(this, reply);
  }

  onError(err: Error): void {
    this.owner.fallBack(this, { err });
  }
}

/** new Promise(captureExchange) hands its settle functions over without a closure or object per exchange. */
let capturedResolve: ((r: ExchangeResult) => void) | undefined;
let capturedReject: ((err: Error) => void) | undefined;
const captureExchange = (resolve: (r: ExchangeResult) => void, reject: (err: Error) => void): void => {
  capturedResolve = resolve;
  capturedReject = reject;
};

/**
 * The query must be a query (QR=0) with exactly one question equal to `q`; returns the offset past
 * it. The first name of a message cannot be compressed (a pointer could only go into the header),
 * so the reply check can compare the question bytes directly.
 */
function checkQuery(wire: Buffer, q: QuestionOf): number {
  if (wire.length < HEADER_SIZE) throw new UpstreamError('BAD_QUERY', `query of ${wire.length} bytes is shorter than a DNS header`);
  if ((wire.readUInt16BE(2) & FLAG.QR) !== 0) throw new UpstreamError('BAD_QUERY', 'message to forward has QR=1 (a response)');
  if (wire.readUInt16BE(4) !== 1) throw new UpstreamError('BAD_QUERY', `query has ${wire.readUInt16BE(4)} questions, not 1`);
  const end = q.questionEnd;
  if (end !== undefined) {
    // parsed by the caller from these bytes: at least a root name and the type and class
    if (!Number.isInteger(end) || end < HEADER_SIZE + 5 || end > wire.length) throw new UpstreamError('BAD_QUERY', `questionEnd ${end} is outside the ${wire.length}-byte query`);
    return end;
  }
  let question;
  try {
    question = readQuestion(wire);
  } catch (err) {
    throw new UpstreamError('BAD_QUERY', `query question is malformed: ${(err as Error).message}`);
  }
  if (question.name !== q.name || question.qtype !== q.qtype || question.qclass !== q.qclass) {
    throw new UpstreamError('BAD_QUERY', `query bytes ask ${question.name}/${question.qtype}/${question.qclass}, not ${q.name}/${q.qtype}/${q.qclass}`);
  }
  return question.end;
}

function countFailure(ss: ServerStats, reason: string): void {
  ss.failures.set(reason, (ss.failures.get(reason) ?? 0) + 1);
}
