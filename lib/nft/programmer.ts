// SetProgrammer: writes allow-set elements into the kernel and resolves once they are
// committed. Concurrent add() calls share batches (queue, flush on setImmediate, at most
// maxInFlight batches awaiting their BATCH_END ack). The caps (bounds.ts) evict the oldest
// elements of a (source, name), a source, or all sets; their deletions ride the next batch.
import type { Logger } from 'pino';
import { performance } from 'perf_hooks';
import { netlinkTransport, type NftTransport, type TransportFactory } from './netlink/socket';
import { encodeElement } from './netlink/setelem';
import type { DecodedElement } from './netlink/setelem';
import { ALLOW_SETS, encodeKey, isAllowSet, type AllowSet, type Element, type KeyFields } from './keys';
import { ExpiryBook, elementId, parseId, type Evicted } from './expiry';
import { packBatch, type PackedBatch, type QueuedItem, type Waiter } from './pack';
import type { BoundLimits } from './bounds';
import { LogLimiter } from '../util/ratelimit';
import { portWidths, sourceText } from './owner';
import { Adoption, wholeName, type AdoptionStats } from './adoption';
import { NftError } from './errors';
import { verifySets, setElemPart, deleteKeys, dumpTransport, readAllowSets, readGeneration } from './sets';
import { loadStateFile, saveStateFile } from './restore';
import { netlinkWatch, type SetWatcher, type WatchFactory } from './watch';

export type { Element } from './keys';

export interface BatchInfo {
  elements: number;
  messages: number;
  /** ms from sendmsg to the commit ack (or the failure). */
  durationMs: number;
  error?: Error;
}

export interface SetProgrammerOptions {
  table: string;
  family?: 'inet';
  maxInFlight?: number;
  log?: Logger;
  /**
   * Read each batch's ack right after sendmsg (the kernel commits inside it) rather than on the
   * next event-loop poll (netlink/socket.ts syncAcks). Default true; false leaves it to the poll.
   */
  syncAcks?: boolean;
  /** Elements queued but not yet sent before add() fails fast with EAGAIN. */
  maxQueued?: number;
  /** Learn the live elements' expiries at open(), so refreshes after a restart never shorten them. */
  seed?: boolean;
  /**
   * 'wait' (default): open() resolves after the live elements are learned. 'background': open()
   * resolves once the sets are verified and learning runs meanwhile (100k elements take ~3 s);
   * an element refreshed before its set was read is merged afterwards, see adoption.ts.
   */
  adopt?: 'wait' | 'background';
  replyTimeoutMs?: number;
  /** Called after every batch (metrics). */
  onBatch?: (info: BatchInfo) => void;
  /** Caps on live elements (config `limits`); beyond one, the oldest elements are deleted. */
  limits?: Partial<BoundLimits>;
  /** How to reach nf_tables (default: a netlink socket; tests pass a recording fake). */
  transport?: TransportFactory;
  /**
   * Skip the kernel for an element the kernel surely holds for at least its timeout less this
   * (ms): committed by us and, per the change notifications (watch.ts), not deleted since. The
   * daemon passes half the grace, so the client's TTL plus half the grace is always covered.
   * 0 (default): every add() goes to the kernel.
   */
  refreshSlackMs?: number;
  /** How to learn about deletions by others (default: netlinkWatch with the default transport; none with another). */
  watch?: WatchFactory | null;
  /** Told of the elements caps evicted, as they are evicted (drops explain them: lib/drops). */
  onEvict?: (list: readonly Evicted[]) => void;
  /**
   * The state file (config nftables.stateFile; null/absent: none): close({ save: true }) writes the
   * book there, prepare() reads it instead of dumping the sets when it provably still describes
   * them (restore.ts).
   */
  stateFile?: string | null;
}

/** An element add() found in the kernel already; checked again when the queue is flushed. */
interface Skipped {
  e: Element;
  id: string;
  needMs: number;
  widths: Map<string, number> | null;
  waiter: Waiter;
}

/** An element lives at most this long (the kernel rejects larger timeouts with ERANGE anyway). */
export const MAX_TIMEOUT_MS = 365 * 86400 * 1000;
const SWEEP_INTERVAL_MS = 30_000;
/** remove() with a watch: keys per deletion batch, then the watch catches up (see removeIds). */
const DELETE_CHUNK = 2_000;
const WATCH_QUIET_MS = 20;
const WATCH_CATCHUP_MAX_MS = 2_000;
/** watchCatchUp: event-loop turns it yields before it waits on a timer. */
const CATCHUP_TURNS = 8;
/** At a save: how long the watch may take to hear the last commit's NEWGEN. */
const SAVE_CATCHUP_MS = 1_000;

export class SetProgrammer {
  readonly table: string;
  /** `deleted`: elements deleted because a cap evicted them; `evictions`: by cap. */
  /** `skipped`: elements not sent because the kernel surely held them long enough (refreshSlackMs). */
  readonly stats: {
    batches: number;
    messages: number;
    elements: number;
    failedBatches: number;
    deleted: number;
    skipped: number;
    watchBehind: number;
    evictions: { perName: number; perSource: number; total: number };
  };
  private readonly opts: SetProgrammerOptions;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly book: ExpiryBook;
  private readonly capLog = new LogLimiter(1, 5);
  private sock: NftTransport | null = null;
  private readonly transport: TransportFactory;
  private queue: QueuedItem[] = [];
  private head = 0;
  private inFlight = 0;
  private scheduled = false;
  private closing = false;
  private idle: (() => void)[] = [];
  private sweeper: NodeJS.Timeout | null = null;
  private adoption: Adoption | null = null;
  private readonly slackMs: number;
  private readonly watchFactory: WatchFactory | null;
  private watcher: SetWatcher | null = null;
  /** add() may skip the kernel (a watch is up, refreshSlackMs > 0) */
  private skipping = false;
  private skipped: Skipped[] = [];
  /** Deletions of allow-set elements the watch reported (ours included): removeIds waits for them. */
  private heardDeletions = 0;
  /** Port ids of this programmer's own sockets: their additions are in the book already. */
  private readonly ports = new Set<number>();
  /**
   * Why the book may not hold every element of the allow sets (null: it does — adoption read
   * every set whole, and the watch has reported every change by others since). While it does,
   * reload revocation reads the book (revokeFromBook) instead of dumping the sets.
   */
  private incomplete: string | null = 'not adopted yet';
  /** What the last adoption did (null: none ran). */
  adoptionStats: AdoptionStats | null = null;
  /** Resolves when the live elements are learned (at once without seeding); never rejects. */
  adopted: Promise<void> = Promise.resolve();
  /** startWatch() ran (prepare() starts the watch before the daemon installs its ruleset). */
  private watchStarted = false;
  /** The nf_tables generation read right after the watch joined (every later commit is heard). */
  private genAtWatch: number | null = null;
  /** The generation of the last NEWGEN the watch heard. */
  private genHeard: number | null = null;
  /** What prepare() learned from the state file: elements, ms (null: nothing; then open() dumps). */
  private restored: { elements: number; skipped: number; ms: number; evicted: Evicted[] } | null = null;
  /** Why the state file was not used (logged with the dump adoption). */
  private stateWhy: string | null = null;

  constructor(opts: SetProgrammerOptions) {
    this.opts = opts;
    this.table = opts.table;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
    this.maxQueued = opts.maxQueued ?? 200_000;
    this.transport = opts.transport ?? netlinkTransport;
    this.book = new ExpiryBook({ limits: opts.limits });
    this.stats = { batches: 0, messages: 0, elements: 0, failedBatches: 0, deleted: 0, skipped: 0, watchBehind: 0, evictions: this.book.bounds.evictions };
    this.slackMs = Math.max(0, opts.refreshSlackMs ?? 0);
    this.watchFactory = opts.watch !== undefined ? opts.watch : opts.transport ? null : netlinkWatch;
  }

  /** Elements evicted by each cap (each also deleted from the kernel). */
  get evictions(): { perName: number; perSource: number; total: number } {
    return this.book.bounds.evictions;
  }

  get limits(): BoundLimits {
    return this.book.bounds.limits;
  }

  /** What the bookkeeping holds now: bounded by the caps and the live elements. */
  sizes(): { book: number; elements: number; sources: number; names: number; queued: number } {
    return { book: this.book.size, ...this.book.bounds.sizes, queued: this.queue.length - this.head };
  }

  /** Reported SO_RCVBUF of the socket (the kernel doubles the requested value, capped by rmem_max). */
  get recvBufferSize(): number {
    return this.sock?.recvBufferSize ?? 0;
  }

  /** Opens the socket and checks that `table inet T` and the allow sets exist and fit. */
  async open(): Promise<void> {
    this.sock = this.newSocket();
    try {
      await verifySets(this.sock, this.table);
      if (!this.watchStarted) await this.startWatchAt(this.sock);
      let restored = this.restored;
      if (restored) {
        // Learned from the state file before the install (prepare()); what the caps pushed out goes now.
        if (restored.evicted.length > 0) this.evict(restored.evicted);
        restored.evicted = [];
        if (this.incomplete !== 'not adopted yet') {
          // Notifications were lost since the watch opened: additions by others may be missing.
          this.stateWhy = `state file learned, but ${this.incomplete}; reading the sets too`;
          restored = null;
        }
      }
      if (this.opts.seed === false) this.incomplete = 'the live elements were not read (seed: false)';
      else if (restored) {
        if (this.incomplete === 'not adopted yet') this.incomplete = this.watcher ? null : 'no change notifications';
        this.adoptionStats = { elements: restored.elements, reads: 0, duplicates: 0, unsettledSets: 0, repaired: 0, lookups: 0, lookupFailures: 0, ms: restored.ms, from: 'state' };
        this.opts.log?.info({ ...this.adoptionStats, expired: restored.skipped, ...(this.incomplete ? { bookIncomplete: this.incomplete } : {}) }, 'live elements adopted');
      } else {
        this.adoption = new Adoption({
          stateFile: this.stateWhy ?? undefined,
          table: this.table,
          book: this.book,
          transport: this.transport,
          log: this.opts.log,
          requeue: (id, set, buf) => this.requeue(id, set, buf),
          evicted: (list) => this.evict(list),
        });
        this.adoptionStats = this.adoption.stats;
        const adoption = this.adoption;
        this.adopted = adoption.run().finally(() => {
          this.adoption = null;
          // Whole only if every set was read whole, and the watch has been up since before the reads.
          if (this.incomplete === 'not adopted yet') this.incomplete = adoption.whole ? (this.watcher ? null : 'no change notifications') : 'adoption did not read every set whole';
        });
        if (this.opts.adopt !== 'background') await this.adopted;
      }
    } catch (e) {
      this.sock.close();
      this.sock = null;
      this.watcher?.close();
      this.watcher = null;
      throw e;
    }
    this.sweeper = setInterval(() => this.book.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /**
   * Before the daemon installs its ruleset (itself a transaction): opens the watch, then reads the
   * state file and the nf_tables generation. Equal to the saved one → nothing but the kernel's
   * own expiry changed the sets since the save, and every change from now on (the install
   * included) is heard by the watch: the book is learned from the file and open() dumps nothing.
   * Anything else → open() adopts from the kernel as without a file (the reason is logged). Never rejects.
   */
  async prepare(): Promise<void> {
    const file = this.opts.stateFile;
    if (!file || this.opts.seed === false || this.sock || this.restored) return;
    const io = this.transport({ log: this.opts.log });
    let corrupt = false;
    try {
      const r = await loadStateFile(file, this.table, this.book, async () => {
        await this.startWatchAt(io);
        if (!this.watcher) return 'no change notifications (refreshSlackMs 0, or the watch could not open)';
        if (this.genAtWatch === null) return 'the nf_tables generation could not be read';
        return this.genAtWatch;
      });
      if (typeof r === 'string') this.stateWhy = r;
      else this.restored = r;
    } catch (e) {
      // unreadable or corrupt: something else wrote there (or a crash cut it)
      corrupt = true;
      this.stateWhy = (e as Error).message;
    } finally {
      io.close();
    }
    if (this.stateWhy) this.opts.log?.[corrupt ? 'warn' : 'info']({ stateFile: file, why: this.stateWhy }, 'state file not used; the live elements are read from the kernel');
  }

  /** Starts the watch and reads the generation it starts from (on `io`). */
  private async startWatchAt(io: NftTransport): Promise<void> {
    this.watchStarted = true;
    this.startWatch();
    if (!this.watcher) return;
    try {
      const gen = await readGeneration(io);
      // a NEWGEN heard meanwhile is newer than the reply
      this.genAtWatch = gen;
    } catch (e) {
      this.opts.log?.debug({ err: (e as Error).message }, 'cannot read the nf_tables generation');
    }
  }

  /**
   * At a clean stop (close({ save: true })), after everything was committed: writes the book
   * with the generation it is true for — read now, and heard by the watch (so every commit up to
   * it, anyone's, is in the book). Not written when the book may miss elements. Never rejects.
   */
  private async saveState(): Promise<void> {
    const file = this.opts.stateFile;
    if (!file) return;
    const log = this.opts.log;
    try {
      if (!this.watcher || !this.sock) throw new Error('no change notifications: the book cannot be proven complete');
      const end = performance.now() + SAVE_CATCHUP_MS;
      // The watch has heard every commit up to `gen` (or none happened since it started); read
      // again while it has not (its NEWGEN may still be on the way, or others keep committing).
      let gen = await readGeneration(this.socket());
      const heard = () => (this.genHeard ?? this.genAtWatch) === gen && (this.watcher?.check?.(true) ?? true);
      while (!heard() && performance.now() < end) {
        await new Promise((r) => setTimeout(r, 2));
        if (!heard()) gen = await readGeneration(this.socket());
      }
      if (!heard()) throw new Error(`the watch did not hear generation ${gen} within ${SAVE_CATCHUP_MS} ms (heard ${this.genHeard ?? this.genAtWatch})`);
      const why = this.bookIncomplete;
      if (why !== null) throw new Error(`the book may miss elements: ${why}`);
      const r = saveStateFile(file, this.table, gen, this.book);
      log?.info({ stateFile: file, generation: gen, elements: r.elements, bytes: r.bytes, ms: r.ms }, 'state saved');
    } catch (e) {
      log?.warn({ stateFile: file, err: (e as Error).message }, 'state not saved; the next start reads the live elements from the kernel');
    }
  }

  /**
   * Skipping needs to hear of deletions by others, and a complete book of additions by others;
   * without the watch every add() goes to the kernel and revocation dumps the sets.
   */
  private startWatch(): void {
    // Only with skipping on (nothing else needs it). The watch socket cannot abort the process on
    // an overflow (NETLINK_NO_ENOBUFS; netlink@0.3.0 aborts on POLLERR): lost notifications are
    // found by the kernel's drop counter and NEWGEN gaps instead (watch.ts).
    if (this.slackMs <= 0 || !this.watchFactory) return;
    try {
      this.watcher = this.watchFactory(
        this.table,
        {
          deleted: (set, key) => {
            this.heardDeletions++;
            this.book.untrustKey(set, key);
            this.adoption?.deleted(set);
          },
          added: (set, el) => this.learnForeign(set, el),
          ours: (port) => this.ports.has(port),
          // Our own deletions: the book forgot them before sending (removeIds, evictions), so
          // they are counted unread. Not while adopting: adoption must hear every deletion.
          ownDeletion: (port) => {
            if (this.adoption || !this.ports.has(port)) return false;
            this.heardDeletions++;
            return true;
          },
          generation: (id) => {
            this.genHeard = id;
          },
          lost: (why, dead) => {
            this.book.untrustAll();
            this.markIncomplete(`change notifications lost: ${why}`);
            for (const set of ALLOW_SETS) this.adoption?.deleted(set);
            if (dead) {
              this.skipping = false;
              this.watcher = null;
            }
            this.opts.log?.info({ why, dead: !!dead }, 'the book no longer trusts what it knew of the kernel; every element is sent again');
          },
        },
        this.opts.log,
      );
      this.skipping = true;
    } catch (e) {
      this.opts.log?.warn({ err: (e as Error).message }, 'cannot watch nftables changes; every answer goes to the kernel');
    }
  }

  /** Another process added an element: the book learns it (unless it knows it), so it stays complete. */
  private learnForeign(set: AllowSet, el: DecodedElement): void {
    const id = elementId(set, el.key);
    if (this.book.has(id)) return;
    if (this.closing) {
      // Not learned (its eviction could not be sent): the book may miss it, so it is not saved.
      this.markIncomplete('an element was added by another process while closing');
      return;
    }
    const out = this.book.learn(id, el.timeoutMs, el.expirationMs, wholeName(el));
    if (out) this.evict(out);
  }

  private markIncomplete(why: string): void {
    if (this.incomplete === null) this.opts.log?.info({ why }, 'the book may miss live elements; reload revocation reads the kernel');
    this.incomplete = why; // for good: nothing makes the book whole again but a restart
  }

  /** Null when the book holds every live element (revokeFromBook works), else why not. */
  get bookIncomplete(): string | null {
    this.watcher?.check?.(true); // notifications dropped so far make it incomplete now
    return this.incomplete;
  }

  /**
   * Reload revocation from the book, no kernel read: `visit(source, name)` decides each
   * (source, name) group (see ExpiryBook.revocations) and the elements it rejects are deleted.
   * Null when the book may miss elements (bookIncomplete): the caller reads the kernel instead.
   */
  async revokeFromBook(visit: Parameters<ExpiryBook['revocations']>[0]): Promise<{ checked: number; unnamed: number; revoked: number } | null> {
    this.watcher?.check?.(true);
    if (this.incomplete !== null || !this.sock) return null;
    const { checked, unnamed, doomed } = this.book.revocations(visit);
    if (doomed.length > 0) await this.removeSlots(doomed);
    return { checked, unnamed, revoked: doomed.length };
  }

  /**
   * Revocation of a few sources' elements from the book (ExpiryBook.revocationsOf): a deleted or
   * relabelled pod costs its own elements, not a dump of the sets. Null when the book may miss
   * elements (bookIncomplete): the caller reads the kernel instead.
   */
  async revokeSourcesFromBook(plan: Parameters<ExpiryBook['revocationsOf']>[0]): Promise<{ checked: number; revoked: number } | null> {
    this.watcher?.check?.(true);
    if (this.incomplete !== null || !this.sock) return null;
    const { checked, doomed } = this.book.revocationsOf(plan);
    if (doomed.length > 0) await this.removeIds(doomed);
    return { checked, revoked: doomed.length };
  }

  /** Reads every live element of the allow sets (on a connection of its own; reload revocation). */
  async readLive(each: (set: AllowSet, el: DecodedElement) => void): Promise<void> {
    const io = dumpTransport(this.transport);
    try {
      await readAllowSets(io, this.table, each);
    } finally {
      io.close();
    }
  }

  /** Re-sends one element with the life the book now holds (adoption repair); nobody waits for it. */
  private requeue(id: string, set: AllowSet, buf: Buffer): void {
    if (this.closing || !this.sock) return;
    this.queue.push({ set, id, buf, waiter: null });
    this.schedule();
  }

  /** Adds (or refreshes) elements; resolves when the batch holding the last of them has committed. */
  add(elements: Element[]): Promise<void> {
    const adoption = this.adoption;
    if (adoption && Array.isArray(elements) && elements.length > 0 && !this.closing) {
      // Still reading the live sets: learn unknown elements' lives first (never shorten them).
      const items: { id: string; set: AllowSet; key: Buffer }[] = [];
      try {
        for (const e of elements) {
          const key = encodeKey(e);
          items.push({ id: elementId(e.set, key), set: e.set, key });
        }
      } catch {
        return this.addNow(elements);
      } // addNow names the bad element
      return adoption.lookup(items).then(() => this.addNow(elements));
    }
    return this.addNow(elements);
  }

  /** `keys`/`ids`: each element's key bytes and id, when hold() made them already. */
  private addNow(elements: Element[], keys?: Buffer[], ids?: string[]): Promise<void> {
    if (this.closing) return Promise.reject(new NftError('ECONNRESET', 'SetProgrammer is closed'));
    if (!this.sock) return Promise.reject(new NftError('ENOTCONN', 'SetProgrammer.open() has not been called'));
    if (!Array.isArray(elements) || elements.length === 0) return Promise.resolve();
    if (this.queue.length - this.head + elements.length > this.maxQueued) {
      return Promise.reject(new NftError('EAGAIN', `nftables queue full (${this.maxQueued} elements waiting for the kernel)`));
    }
    for (const e of elements) {
      if (!e || !isAllowSet(e.set)) return Promise.reject(new NftError('EINVAL', `bad element: unknown set ${String(e && e.set)}`));
    }
    const widths = portWidths(elements);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { unsent: 0, batches: 0, failed: false, resolve, reject };
      try {
        // Queued one by one: should this answer evict one of its own elements (more addresses
        // than the cap), the deletion comes after the add and wins.
        for (let i = 0; i < elements.length; i++) {
          const e = elements[i];
          if (this.skipping && this.trySkip(e, widths, waiter, ids?.[i])) continue;
          this.enqueue(e, widths, waiter, keys?.[i], ids?.[i]);
        }
      } catch (err) {
        waiter.failed = true;
        reject(new NftError('EINVAL', `bad element: ${(err as Error).message}`));
      }
      this.schedule();
    });
  }

  private enqueue(e: Element, widths: Map<string, number> | null, waiter: Waiter, key?: Buffer, knownId?: string): void {
    const { set, id, buf, evicted, seq, until } = this.encode(e, widths, key, knownId);
    // The deletions go before this add (an element evicted and re-added in one answer stays).
    if (evicted) this.evict(evicted);
    waiter.unsent++;
    this.queue.push({ set, id, buf, waiter, seq, until });
  }

  /**
   * The kernel surely holds the element long enough: it waits for the flush (after this turn's
   * notifications are read) instead of a batch. False: send it.
   */
  private trySkip(e: Element, widths: Map<string, number> | null, waiter: Waiter, knownId?: string): boolean {
    let id = knownId;
    if (id === undefined) {
      const key = this.vouchableKey(e);
      if (key === null) return false; // enqueue names the bad field
      id = elementId(e.set, key);
    }
    const needMs = e.timeoutMs - this.slackMs;
    if (!this.book.trustedFor(id, needMs)) return false;
    waiter.unsent++;
    this.skipped.push({ e, id, needMs, widths, waiter });
    return true;
  }

  /**
   * Whether the kernel surely holds every one of `elements` long enough already, by the book, as
   * of now: skipping is on (a watch is up), no adoption is running, the watch is caught up
   * (`check()`), and each element is trusted for its timeout minus refreshSlackMs. True: nothing
   * needs sending and the caller may release its answer at once (the elements count as skipped).
   * False: add() them as usual. Only for an answer whose query arrived in an earlier poll phase
   * than the one running now — an upstream reply: every notification already queued when the
   * query arrived was read in that poll phase or before, so the book knows of any deletion it
   * announced. (add() waits for this turn's check phase instead, which covers a query answered in
   * the poll phase it arrived in, such as a cache hit.)
   */
  holdsAll(elements: readonly Element[]): boolean {
    const ids = this.mayVouch(elements) ? this.idsOf(elements, null) : null;
    return ids !== null && this.vouch(elements, ids);
  }

  /**
   * add() for one answer, or null when there is nothing to wait for. `now`: the answer's query
   * arrived in an earlier poll phase (holdsAll's condition), so if the kernel holds every element
   * long enough it may go at once. Each element's key and id are made once, for the test and for
   * the add.
   */
  hold(elements: Element[], now: boolean): Promise<void> | null {
    if (!now || !this.mayVouch(elements)) return this.add(elements);
    const keys = new Array<Buffer>(elements.length);
    const ids = this.idsOf(elements, keys);
    if (ids === null) return this.add(elements); // add() names the bad element
    if (this.vouch(elements, ids)) return null;
    return this.addNow(elements, keys, ids);
  }

  private mayVouch(elements: readonly Element[]): boolean {
    return this.skipping && !this.adoption && !this.closing && elements.length > 0;
  }

  /** Each element's id (and key bytes into `keys`); null if one is not a valid element. */
  private idsOf(elements: readonly Element[], keys: Buffer[] | null): string[] | null {
    const ids = new Array<string>(elements.length);
    for (let i = 0; i < elements.length; i++) {
      const key = this.vouchableKey(elements[i]);
      if (key === null) return null;
      if (keys) keys[i] = key;
      ids[i] = elementId(elements[i].set, key);
    }
    return ids;
  }

  /** The element's key bytes, or null when it is not one the book could vouch for (add() names the bad field). */
  private vouchableKey(e: Element): Buffer | null {
    if (!e || !isAllowSet(e.set) || !Number.isFinite(e.timeoutMs)) return null;
    try {
      return encodeKey(e);
    } catch {
      return null;
    }
  }

  /** holdsAll's test on elements with their ids; counts them as skipped when it vouches. */
  private vouch(elements: readonly Element[], ids: string[]): boolean {
    // First, as settleSkipped() does: dropped notifications found now untrust the book.
    if (!(this.watcher?.check?.() ?? true)) {
      this.stats.watchBehind++;
      return false;
    }
    for (let i = 0; i < elements.length; i++) {
      if (!this.book.trustedFor(ids[i], elements[i].timeoutMs - this.slackMs)) return false;
    }
    this.stats.skipped += elements.length;
    return true;
  }

  /** Settles the skipped elements: still held (no deletion heard meanwhile) → done; else sent. */
  private settleSkipped(): void {
    const list = this.skipped;
    this.skipped = [];
    // Notifications the kernel dropped (the watch socket has NETLINK_NO_ENOBUFS) untrust the book
    // here, before it vouches for anything; and while the watch is behind (a backlog still
    // queued) the book may not know a deletion yet: send them all this turn (watch.ts check()).
    const caughtUp = this.watcher?.check?.() ?? true;
    if (!caughtUp) this.stats.watchBehind++;
    for (const s of list) {
      const w = s.waiter;
      if (w.failed) continue;
      if (caughtUp && this.skipping && this.book.trustedFor(s.id, s.needMs)) {
        this.stats.skipped++;
        if (--w.unsent === 0 && w.batches === 0) w.resolve();
        continue;
      }
      w.unsent--;
      try {
        this.enqueue(s.e, s.widths, w);
      } catch (err) {
        w.failed = true;
        w.reject(new NftError('EINVAL', `bad element: ${(err as Error).message}`));
      }
    }
  }

  /** Deletes elements (DESTROYSETELEM: absent ones are no error); for reloads. */
  async remove(keys: KeyFields[]): Promise<void> {
    if (!this.sock) throw new NftError('ENOTCONN', 'SetProgrammer.open() has not been called');
    await this.removeIds(keys.map((k) => elementId(k.set, encodeKey(k))));
  }

  private async removeIds(ids: string[]): Promise<void> {
    const list: { set: AllowSet; key: Buffer }[] = [];
    for (const id of ids) {
      this.book.forget(id);
      this.adoption?.removed(id);
      list.push(parseId(id));
    }
    await this.deleteForgotten(list);
  }

  /** removeIds() for the book's slots (reload revocation: no id string per element). */
  private async removeSlots(slots: number[]): Promise<void> {
    const list: { set: AllowSet; key: Buffer }[] = [];
    for (const slot of slots) {
      list.push(this.book.keyAt(slot));
      if (this.adoption) this.adoption.removed(this.book.idAt(slot));
      this.book.forgetSlot(slot);
    }
    await this.deleteForgotten(list);
  }

  /** Deletes elements the book has forgotten already (see removeIds). */
  private async deleteForgotten(list: { set: AllowSet; key: Buffer }[]): Promise<void> {
    try {
      if (!this.watcher) return await deleteKeys(this.socket(), this.table, list);
      // Our own deletions come back as notifications on the watch socket; netlink@0.3.0 aborts
      // the process when that socket overflows (startWatch). Deleting 100k at once did; so
      // delete in chunks and let the watch read each chunk's notifications before the next.
      for (let i = 0; i < list.length; i += DELETE_CHUNK) {
        const chunk = list.slice(i, i + DELETE_CHUNK);
        const target = this.heardDeletions + chunk.length;
        await deleteKeys(this.socket(), this.table, chunk);
        await this.watchCatchUp(target);
      }
    } catch (e) {
      this.markIncomplete('a deletion failed'); // the book forgot elements the kernel may still hold
      throw e;
    }
  }

  /**
   * Waits until the watch has heard `target` deletions, or heard nothing new for WATCH_QUIET_MS
   * (absent keys are not notified), at most WATCH_CATCHUP_MAX_MS.
   */
  private async watchCatchUp(target: number): Promise<void> {
    const end = performance.now() + WATCH_CATCHUP_MAX_MS;
    let last = this.heardDeletions;
    let quietSince = performance.now();
    // The kernel queued the chunk's notifications before its batch was acknowledged, so one
    // event-loop turn (the poll phase reads the watch socket) usually hears them all: yield a
    // turn (setImmediate) the first times, then wait in 1 ms steps (a timer has a 1 ms floor;
    // at 50 chunks per 100k deletions those floors were ~10 % of a reload at 1M).
    for (let turn = 0; this.watcher && this.heardDeletions < target && performance.now() < end; turn++) {
      await new Promise((r) => (turn < CATCHUP_TURNS ? setImmediate(r) : setTimeout(r, 1)));
      const now = performance.now();
      if (this.heardDeletions !== last) {
        last = this.heardDeletions;
        quietSince = now;
      } else if (now - quietSince > WATCH_QUIET_MS) return;
    }
  }

  /**
   * The whole (lowercased) DNS name this daemon programmed the element for; null when it does
   * not know (adopted from the kernel and not answered since). The element's comment may be cut.
   */
  nameOf(set: AllowSet, key: Buffer): string | null {
    return this.book.nameOf(elementId(set, key));
  }

  /**
   * Reload: new caps for the book. Elements over a lowered cap are evicted (oldest first) and
   * deleted from the kernel before this resolves; returns how many.
   */
  async setLimits(limits: Partial<BoundLimits>): Promise<number> {
    const list = this.book.setLimits(limits);
    if (list.length > 0) {
      this.evict(list);
      await this.drained();
    }
    return list.length;
  }

  /** Resolves once everything queued so far (and anything queued meanwhile) has been committed or failed. */
  drained(): Promise<void> {
    if (this.inFlight === 0 && this.head >= this.queue.length && this.skipped.length === 0) return Promise.resolve();
    return new Promise<void>((r) => this.idle.push(r));
  }

  /**
   * Waits for queued and in-flight batches, then closes the socket. `save`: the daemon's clean stop
   * — write the book to the state file first (the watch stays up until then).
   */
  async close(opts: { save?: boolean } = {}): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const save = opts.save === true && !!this.opts.stateFile && !!this.sock;
    if (!save) {
      this.watcher?.close();
      this.watcher = null;
    }
    this.skipping = false;
    this.adoption?.cancel();
    await this.adopted;
    if (this.inFlight > 0 || this.head < this.queue.length || this.skipped.length > 0) await new Promise<void>((r) => this.idle.push(r));
    if (save) await this.saveState();
    this.watcher?.close();
    this.watcher = null;
    this.sock?.close();
    this.sock = null;
  }

  /** The element's queue item, and what its refresh pushed out of the book (to delete). */
  private encode(e: Element, widths: Map<string, number> | null, knownKey?: Buffer, knownId?: string): Omit<QueuedItem, 'waiter'> & { evicted?: Evicted[] } {
    if (!e || !isAllowSet(e.set)) throw new RangeError(`unknown set ${String(e && e.set)}`);
    const key = knownKey ?? encodeKey(e);
    if (!Number.isFinite(e.timeoutMs) || e.timeoutMs < 1 || e.timeoutMs > MAX_TIMEOUT_MS) throw new RangeError(`timeoutMs ${e.timeoutMs} out of 1..${MAX_TIMEOUT_MS}`);
    const id = knownId ?? elementId(e.set, key);
    this.adoption?.touched(id);
    const comment = typeof e.comment === 'string' ? e.comment : '';
    // The book keeps the name once per (source, name) group: an existing group's name is
    // looked up, not stored again (toLowerCase returns the string itself when it is lowercase).
    const life = this.book.refresh(id, Math.ceil(e.timeoutMs), comment.toLowerCase(), widths?.get(comment) ?? 1);
    return {
      set: e.set,
      id,
      buf: encodeElement({ key, timeoutMs: life.timeoutMs, expirationMs: life.expirationMs, comment }),
      evicted: life.evicted,
      seq: life.seq,
      until: life.until,
    };
  }

  /** Caps pushed these elements out of the book: delete them from the kernel with the next batch. */
  private evict(list: Evicted[]): void {
    if (list.length > 0) this.opts.onEvict?.(list);
    for (const { id, cap, source, name } of list) {
      this.adoption?.removed(id);
      if (this.sock && !this.closing) {
        const { set, key } = parseId(id);
        this.queue.push({ set, id, buf: encodeElement({ key }), waiter: null, del: true });
        this.schedule();
      }
      if (this.opts.log && this.capLog.take()) {
        const limit = cap === 'perName' ? this.limits.maxAddressesPerName : cap === 'perSource' ? this.limits.maxElementsPerSource : this.limits.maxElements;
        const suppressed = this.capLog.suppressed();
        this.opts.log.warn(
          { cap, limit, source: sourceText(source), name, evictions: this.evictions[cap], ...(suppressed ? { suppressed } : {}) },
          `element cap ${cap} reached; deleting the oldest element (new connections to it are blocked, established ones continue)`,
        );
      }
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Skipped elements are settled here, in the check phase: every notification that was already
    // queued when their query arrived has been read by then (watch.ts).
    setImmediate(() => {
      this.scheduled = false;
      if (this.skipped.length > 0) this.settleSkipped();
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.head < this.queue.length) {
      const { batch, head } = packBatch(this.queue, this.head, this.table);
      this.head = head;
      if (batch.messages.length > 0) this.send(batch);
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.inFlight === 0 && this.head >= this.queue.length && this.skipped.length === 0) for (const r of this.idle.splice(0)) r();
  }

  private send(batch: PackedBatch): void {
    const parts = batch.messages.map((m) => setElemPart(this.table, m.set, m.del, m.elements));
    this.inFlight++;
    this.stats.batches++;
    this.stats.messages += parts.length;
    this.stats.elements += batch.elements;
    this.stats.deleted += batch.deleted.length;
    const t0 = performance.now();
    this.socket()
      .batch(parts)
      .then(
        () => this.done(batch, t0, undefined),
        (err: Error) => this.done(batch, t0, err),
      );
  }

  private done(batch: PackedBatch, t0: number, err: Error | undefined): void {
    this.inFlight--;
    if (!err) for (const it of batch.added) if (it.seq !== undefined) this.book.confirm(it.id, it.seq, it.until!);
    if (err) {
      this.stats.failedBatches++;
      this.opts.log?.warn({ err: { code: (err as NftError).code, message: err.message }, elements: batch.elements, deleted: batch.deleted.length }, 'nftables batch failed');
      // Evicted elements must still go; once (a repeated failure leaves them to their timeout).
      for (const d of batch.deleted) {
        if (this.book.has(d.id) || this.closing) continue;
        if (!d.retried) this.queue.push({ ...d, retried: true });
        else this.markIncomplete('an evicted element could not be deleted'); // the book forgot it; the kernel holds it until it expires
      }
    }
    // The kernel rolls the whole batch back: every add() with an element in it fails.
    for (const w of batch.waiters) {
      if (w.failed) continue;
      if (err) {
        w.failed = true;
        w.reject(err);
        continue;
      }
      if (--w.batches === 0 && w.unsent === 0) w.resolve();
    }
    this.opts.onBatch?.({ elements: batch.elements, messages: batch.messages.length, durationMs: performance.now() - t0, error: err });
    this.pump();
  }

  private socket(): NftTransport {
    // A socket the native layer closed (poll error) is replaced; ENOBUFS keeps the same socket.
    if (!this.sock || this.sock.closed) this.sock = this.newSocket();
    return this.sock;
  }

  private newSocket(): NftTransport {
    const sock = this.transport({ log: this.opts.log, replyTimeoutMs: this.opts.replyTimeoutMs, overflowSafe: true, syncAcks: this.opts.syncAcks !== false });
    if (sock.port !== undefined) this.ports.add(sock.port);
    return sock;
  }
}
