// cache: answer allowed queries from recent upstream replies. It sits below nftset, so a hit
// still goes up through nftset and programs the ASKING source's elements (with the remaining
// TTL), and above answer, so what it stores is already read and TTL-capped.
import type { Logger } from 'pino';
import type { Plugin, Request, Response, Stage } from '../types';
import { truncatedResponse } from '../../dns/synth';
import { AnswerCache, cacheKey, type CacheOptions, type CacheStats } from './store';
import type { Metrics } from '../../metrics/registry';
import { registerCacheMetrics } from './metrics';
import { Doorkeeper, questionHash } from './doorkeeper';

interface Waiting {
  done: Promise<void>;
  release: () => void;
}

export class CachePlugin implements Plugin {
  readonly name = 'cache';
  readonly store: AnswerCache;
  /**
   * Identical misses already on their way upstream, by key: later ones wait for the first. null
   * while nobody waits (most misses): the promise is made only for a second identical query.
   */
  private readonly inFlight = new Map<string, Waiting | null>();
  /** admission: a key is stored on its second miss (doorkeeper.ts) */
  private readonly doorkeeper: Doorkeeper | null;

  constructor(opts: CacheOptions) {
    this.store = new AnswerCache(opts);
    // A clear of the doorkeeper re-marks what is stored: a stored question is always "seen".
    this.doorkeeper = opts.admission === 'first-miss' ? null : new Doorkeeper((mark) => this.store.forEachHash(mark));
  }

  get stats(): CacheStats {
    return this.store.stats;
  }

  setup(_log: Logger, metrics?: Metrics): Stage {
    const { store, inFlight, doorkeeper } = this;
    if (metrics) registerCacheMetrics(metrics, store);

    const hit = (req: Request, key: string): Response | null => {
      const h = store.get(key, req.wire, req.query);
      if (!h) return null;
      // Stored from a TCP (or larger EDNS) reply: this client must retry over TCP, as forward does.
      if (h.wire.length > req.maxReplySize) return { wire: truncatedResponse(req.wire, req.query), rcode: h.rcode, origin: 'synthesized' };
      return { wire: h.wire, rcode: h.rcode, origin: 'cache', answer: h.answer };
    };

    /** This query goes on down to fetch `key`: identical ones wait for it (coalescing). */
    const fetch = (req: Request, key: string, hash: number): undefined => {
      inFlight.set(key, null);
      req.cacheKey = key;
      req.cacheHash = hash;
      return undefined;
    };

    /** The wait for the fetch of `key` already upstream, made by the first query that needs it. */
    const waitFor = (key: string): Promise<void> => {
      let w = inFlight.get(key);
      if (!w) {
        let release!: () => void;
        w = { done: new Promise<void>((r) => (release = r)), release };
        inFlight.set(key, w);
      }
      return w.done;
    };

    const down = (req: Request): Response | undefined | Promise<Response | undefined> => {
      // Unmanaged and would-deny (audit) queries are relayed unread: nothing to cache.
      if (req.decision?.verdict !== 'allow') return undefined;
      const q = req.query;
      const hash = doorkeeper ? questionHash(q) : 0;
      // First ask within the window: neither stored nor fetching (doorkeeper.ts), so no key, no
      // lookup, nothing marked in flight; its reply is not stored. Counted as a miss.
      if (doorkeeper && !doorkeeper.seen(hash)) {
        store.stats.misses++;
        store.stats.notAdmitted++;
        return undefined;
      }
      const key = cacheKey(q);
      const first = hit(req, key);
      if (first) return first;
      // Coalesce: wait for the identical query already upstream, then serve our own copy.
      if (inFlight.has(key)) return waitFor(key).then(() => hit(req, key) ?? fetch(req, key, hash));
      return fetch(req, key, hash);
    };

    const up = (req: Request, res: Response): Response => {
      const key = req.cacheKey;
      if (key === undefined) return res;
      // Only what answer has read: allowed queries of managed sources, straight from an upstream.
      // (A first ask never gets here: down() left it without a key.)
      if (res.origin === 'upstream' && res.answer && !res.answer.truncated) store.put(key, res.wire, res.answer, req.cacheHash);
      const f = inFlight.get(key);
      if (f !== undefined) {
        inFlight.delete(key);
        f?.release();
      }
      return res;
    };
    return { down, up };
  }
}
