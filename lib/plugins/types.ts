// The handler contract of the request path (CoreDNS-like). See lib/plugins/README.md.
import type { Logger } from 'pino';
import type { Query, AnswerInfo } from '../dns/types';
import type { Decision } from '../policy/types';
import type { Peer, LocalEnd, Source } from '../identity/types';
import type { Metrics } from '../metrics/registry';

export type Transport = 'udp' | 'tcp';

/** One client query travelling down the chain. Plugins may add the fields marked "set by". */
export interface Request {
  /** The client's bytes, unchanged. A plugin that needs other bytes copies them. */
  readonly wire: Buffer;
  readonly query: Query;
  /** The sender's address and port, as the listener saw them. */
  readonly peer: Peer;
  /** Where the query arrived: the listen address (UDP), the connection's local end (TCP). */
  readonly local: LocalEnd;
  readonly transport: Transport;
  /** Largest reply the client accepts on this transport (512, the EDNS size, or 65535 on TCP). */
  readonly maxReplySize: number;
  /** process.hrtime.bigint() when the query arrived. */
  readonly received: bigint;
  /** set by identity: who asked (lib/identity); plugins above identity do not see it yet */
  source?: Source;
  /** set by policy */
  decision?: Decision;
  /** Per-stage durations in ns, keyed by plugin name; filled by the chain builder. */
  readonly timings: Record<string, number>;
}

/** The reply travelling back up the chain. */
export interface Response {
  /** Bytes to send to the client (ID already the client's). */
  wire: Buffer;
  rcode: number;
  /** set by answer: the addresses to program, with TTLs as the client receives them. */
  answer?: AnswerInfo;
  /** where the reply came from */
  origin: 'upstream' | 'synthesized' | 'cache';
}

/** A handler answers one request. It never throws for a DNS-level failure: it returns a Response. */
export type Handler = (req: Request) => Promise<Response>;

/**
 * A plugin wraps the next handler. setup() runs once at startup; the handler runs per query.
 * `metrics` is where the plugin registers what it measures (its own metrics.ts).
 */
export interface Plugin {
  readonly name: string;
  setup(next: Handler, log: Logger, metrics: Metrics): Handler;
  /** Called on shutdown; resolves when the plugin's own work in flight is finished. */
  close?(): Promise<void>;
}
