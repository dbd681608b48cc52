// The handler contract of the request path (CoreDNS-like). See lib/plugins/README.md.
import type { Logger } from 'pino';
import type { Query, AnswerInfo } from '../dns/types';
import type { Decision } from '../policy/types';
import type { Peer, LocalEnd, Source } from '../identity/types';
import type { Metrics } from '../metrics/registry';
import type { PolicyIndex } from '../policy/index';

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
  /** set by identity: called once when the reply passes identity on the way up (Resolver.track) */
  untrack?: () => void;
  /** set by policy */
  decision?: Decision;
  /** set by policy: the index that decided (nftset decides again if a reload swapped it since) */
  decidedBy?: PolicyIndex;
  /** set by cache: the key of a miss this query fetches for the cache (stored on the way up) */
  cacheKey?: string;
  /** set by cache with cacheKey: the question's doorkeeper hash */
  cacheHash?: number;
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

/** The whole chain (or a stage's answer, later): one request in, its Response out. Never rejects for a DNS-level failure. */
export type Handler = (req: Request) => Promise<Response>;

/** A value now or later: a stage returns a Promise only when it must wait (I/O, a kernel commit). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * What a plugin does to each query, in two halves (lib/plugins/README.md). Either may be absent.
 * Neither throws for a DNS-level failure: a failure is a Response. (Should one throw anyway, the
 * chain answers SERVFAIL from that stage and logs it; the stages above still see the reply.)
 */
export interface Stage {
  /**
   * On the way down, before the plugins below: a Response answers the query here (the plugins
   * below do not run; those above see it on the way up); undefined passes it on down.
   */
  down?(req: Request): MaybePromise<Response | undefined>;
  /** On the way up, with the reply from below: the reply to pass up (the same or a new one). */
  up?(req: Request, res: Response): MaybePromise<Response>;
}

/**
 * A plugin: setup() runs once at startup and returns the Stage that runs per query. `metrics` is
 * where the plugin registers what it measures (its own metrics.ts).
 */
export interface Plugin {
  readonly name: string;
  setup(log: Logger, metrics: Metrics): Stage;
  /** Called on shutdown; resolves when the plugin's own work in flight is finished. */
  close?(): Promise<void>;
}
