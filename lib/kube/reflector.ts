// List/watch of one resource kept in a local store, the way client-go's Reflector does it:
// LIST, then WATCH from the list's resourceVersion with bookmarks and a server-side timeout;
// re-watch from the last seen resourceVersion when the server ends the stream; relist and
// reconcile (synthesising deletes for what disappeared and replace for a new UID under the same
// name) on 410 Gone, as HTTP status or as an in-stream ERROR; back off with jitter on 429/5xx and
// connection errors, honouring Retry-After, and never stop; a stream that sends nothing for
// `idleMs` is dead and is reconnected. No policy here: consumers get add/update/delete.
import type { Logger } from 'pino';
import { KubeHttpError, type KubeClient, type Query } from './client';
import { Backoff } from './backoff';
import type { KubeObject, ListOf, WatchEvent } from './types';
import { objectKey } from './types';

export interface ReflectorHandlers<T extends KubeObject> {
  add(obj: T): void;
  /** same key and UID, new content */
  update(old: T, obj: T): void;
  /** the object is gone (deleted, no longer selected, or replaced: then add follows with the new UID) */
  delete(obj: T): void;
  /** after each complete LIST has been reconciled into the store */
  synced?(): void;
}

export interface ReflectorOptions {
  /** e.g. /api/v1/pods */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Server-side watch timeout; each watch asks for this ±25% so many agents do not reconnect together. */
  watchTimeoutSeconds: number;
  /** No byte for this long on a watch (bookmarks arrive about every minute) = dead stream. */
  idleMs: number;
  /** LIST page size (limit/continue). */
  pageSize: number;
  backoff: { initialMs: number; maxMs: number };
  /** seeded random source for jitter, default Math.random */
  random?: () => number;
}

export const REFLECTOR_DEFAULTS = {
  watchTimeoutSeconds: 300,
  idleMs: 90_000,
  pageSize: 500,
  backoff: { initialMs: 500, maxMs: 30_000 },
};

export interface ReflectorStats {
  lists: number;
  /** lists after the first (410, reconnect after errors) */
  relists: number;
  watches: number;
  /** failed LIST/WATCH requests of any kind (HTTP error, reset, stall, bad line) */
  errors: number;
  /** of which: 410 Gone (HTTP or in-stream) */
  gone: number;
  /** of which: no data for idleMs */
  stalls: number;
  events: number;
  bookmarks: number;
}

class GoneError extends Error {
  override name = 'GoneError';
}

/** A Retry-After beyond this is not believed (a broken proxy must not park the watch for hours). */
const RETRY_AFTER_MAX_MS = 120_000;

/** A watch shorter than this that delivered nothing counts as a failure for backoff (no hot loop). */
const SHORT_WATCH_MS = 1000;

export class Reflector<T extends KubeObject> {
  readonly store = new Map<string, T>();
  readonly stats: ReflectorStats = { lists: 0, relists: 0, watches: 0, errors: 0, gone: 0, stalls: 0, events: 0, bookmarks: 0 };
  private rv = '';
  private stopped = false;
  private running?: Promise<void>;
  private current?: { abort(e: Error): void };
  private wake?: () => void;
  private syncedOnce = false;
  private firstSync: Promise<void>;
  private resolveFirstSync!: () => void;
  private readonly opts: ReflectorOptions;
  private readonly backoff: Backoff;

  constructor(
    private readonly client: KubeClient,
    opts: Partial<ReflectorOptions> & { path: string },
    private readonly handlers: ReflectorHandlers<T>,
    private readonly log: Logger,
  ) {
    this.opts = { ...REFLECTOR_DEFAULTS, ...opts };
    this.backoff = new Backoff(this.opts.backoff.initialMs, this.opts.backoff.maxMs, this.opts.random ?? Math.random);
    this.firstSync = new Promise((r) => (this.resolveFirstSync = r));
  }

  /** The last resourceVersion seen (list, event or bookmark). */
  get resourceVersion(): string {
    return this.rv;
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  /** Resolves after the first LIST is reconciled (never rejects: errors are retried forever). */
  synced(): Promise<void> {
    return this.firstSync;
  }

  start(): void {
    if (!this.running) this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort(new Error('stopped'));
    this.wake?.();
    await this.running;
  }

  private selectors(): Query {
    return { fieldSelector: this.opts.fieldSelector, labelSelector: this.opts.labelSelector };
  }

  private async loop(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        const t0 = Date.now();
        const delivered = await this.watchOnce();
        if (!delivered && Date.now() - t0 < SHORT_WATCH_MS) await this.sleep(this.backoff.next());
        else this.backoff.reset();
      } catch (e) {
        if (this.stopped) break;
        this.stats.errors++;
        if (e instanceof GoneError || (e instanceof KubeHttpError && e.status === 410)) {
          this.stats.gone++;
          this.log.info({ path: this.opts.path, rv: this.rv }, 'watch history expired (410); relisting');
          needList = true;
          // a relist is the normal answer to 410; only repeated ones with no event between wait
          if (++this.goneStreak > 1) await this.sleep(this.backoff.next());
          continue;
        }
        const stall = e instanceof KubeHttpError && e.status === 0 && /no data for/.test(e.message);
        if (stall) this.stats.stalls++;
        const status = e instanceof KubeHttpError ? e.status : 0;
        const delay = Math.max(this.backoff.next(), Math.min(e instanceof KubeHttpError ? (e.retryAfterMs ?? 0) : 0, RETRY_AFTER_MAX_MS));
        this.log.warn({ path: this.opts.path, status, err: (e as Error).message, retryMs: Math.round(delay) }, 'kubernetes list/watch failed; retrying');
        // a LIST that failed is retried as a LIST; a watch resumes from the last RV
        await this.sleep(delay);
      }
    }
  }
  /** 410s in a row with no event delivered between them */
  private goneStreak = 0;

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async list(): Promise<void> {
    const items: T[] = [];
    let rv: string;
    let cont: string | undefined;
    do {
      const page = await this.client.get<ListOf<T>>(this.opts.path, { ...this.selectors(), limit: this.opts.pageSize, continue: cont }, this.opts.idleMs);
      if (!page || !Array.isArray(page.items)) throw new KubeHttpError(0, `GET ${this.opts.path}: answer is not a list`);
      items.push(...page.items);
      rv = page.metadata?.resourceVersion ?? '';
      cont = page.metadata?.continue || undefined;
    } while (cont && !this.stopped);
    if (this.stopped) return;
    if (this.stats.lists++ > 0) this.stats.relists++;
    this.reconcile(items);
    this.rv = rv;
    this.backoff.reset();
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      this.resolveFirstSync();
    }
    this.handlers.synced?.();
  }

  /** Makes the store equal to a fresh list: deletes for the missing, replace for a new UID. */
  private reconcile(items: T[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      seen.add(key);
      this.upsert(key, obj);
    }
    for (const [key, old] of this.store) {
      if (seen.has(key)) continue;
      this.store.delete(key);
      this.handlers.delete(old);
    }
  }

  private upsert(key: string, obj: T): void {
    const old = this.store.get(key);
    this.store.set(key, obj);
    if (!old) return this.handlers.add(obj);
    if (old.metadata.uid !== obj.metadata.uid) {
      this.handlers.delete(old);
      return this.handlers.add(obj);
    }
    if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.handlers.update(old, obj);
  }

  /** One watch until the server ends it. Resolves with whether any event arrived. */
  private async watchOnce(): Promise<boolean> {
    const jitter = 0.75 + 0.5 * (this.opts.random ?? Math.random)();
    const q: Query = {
      ...this.selectors(),
      resourceVersion: this.rv,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.max(1, Math.round(this.opts.watchTimeoutSeconds * jitter)),
    };
    this.stats.watches++;
    let delivered = false;
    let inStreamError: Error | undefined;
    const handle = this.client.watch(this.opts.path, q, this.opts.idleMs, (raw) => {
      if (inStreamError) return;
      const ev = raw as WatchEvent<T>;
      if (!ev || typeof ev.type !== 'string' || typeof ev.object !== 'object' || ev.object === null) {
        throw new KubeHttpError(0, `watch ${this.opts.path}: malformed event`);
      }
      if (ev.type === 'ERROR') {
        const st = ev.object as unknown as { code?: number; message?: string; reason?: string };
        inStreamError =
          st.code === 410 ? new GoneError(st.message ?? 'Gone') : new KubeHttpError(st.code ?? 500, `watch ${this.opts.path}: ${st.message ?? 'error'}`, undefined, st.reason);
        handle.abort(inStreamError);
        return;
      }
      const rv = ev.object.metadata?.resourceVersion;
      if (ev.type === 'BOOKMARK') {
        delivered = true;
        this.stats.bookmarks++;
        if (rv) this.rv = rv;
        return;
      }
      delivered = true;
      this.goneStreak = 0;
      this.stats.events++;
      this.apply(ev);
      if (rv) this.rv = rv;
    });
    this.current = handle;
    try {
      await handle.done;
    } catch (e) {
      throw inStreamError ?? e;
    } finally {
      this.current = undefined;
    }
    if (inStreamError) throw inStreamError;
    return delivered;
  }

  private apply(ev: WatchEvent<T>): void {
    const obj = ev.object;
    if (!obj.metadata?.name) throw new KubeHttpError(0, `watch ${this.opts.path}: event object has no metadata.name`);
    const key = objectKey(obj);
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED':
        return this.upsert(key, obj);
      case 'DELETED': {
        const old = this.store.get(key);
        // a delete for another UID is stale (the name was reused): it must not remove the newer object
        if (!old || (obj.metadata.uid && old.metadata.uid !== obj.metadata.uid)) return;
        this.store.delete(key);
        return this.handlers.delete(old);
      }
      default:
        throw new KubeHttpError(0, `watch ${this.opts.path}: unknown event type "${ev.type as string}"`);
    }
  }
}
