// Adoption: a restarted daemon learns the live elements' lives from the kernel so that its
// refreshes never shorten them. Reading 100k elements takes ~3 s, so the daemon serves
// meanwhile: an element not yet known is first looked up by key (GETSETELEM without dump,
// one element per request: the kernel stops at the first ENOENT), so its refresh carries
// max(kernel, new). Should a lookup fail, the add waits until its set has been read (a blind
// refresh would shorten the element for good if the read came after it); an element the
// read finds refreshed with a shorter life is re-sent with max(kernel, ours).
// A dump can repeat keys and miss others when the set changes during it (sets.ts, SetRead):
// a set is "settled" only by a dump with no repeated key and no deletion heard during it
// (ours, or another process's through the watch); until then its elements are still looked up
// before their refresh, and it is read again (ADOPT_PAUSES_MS; then given up, with a warning).
// Not detectable: the kernel's own garbage collection of expired elements during a dump (it
// notifies nobody) can shift the walk past one live element per collected element.
import type { Logger } from 'pino';
import { performance } from 'perf_hooks';
import type { NftTransport, TransportFactory } from './netlink/socket';
import { encodeElement, setElemMsg, decodeSetElemMsg, commentIsWhole, type DecodedElement } from './netlink/setelem';
import { NFPROTO_INET, NFT_MSG_GETSETELEM, NLM_F_ACK } from './netlink/constants';
import { ALLOW_SETS, type AllowSet } from './keys';
import { elementId, type Evicted, type ExpiryBook } from './expiry';
import { dumpTransport, readSetChecked } from './sets';

/** Pauses before re-reading a set whose dump was torn (so at most 1 + this many dumps per set). */
export const ADOPT_PAUSES_MS = [250, 1_000, 5_000, 20_000];

export type Requeue = (id: string, set: AllowSet, buf: Buffer) => void;

export interface AdoptionOptions {
  table: string;
  /** Why the state file was not used (logged with the result). */
  stateFile?: string;
  book: ExpiryBook;
  transport: TransportFactory;
  /** Re-send an element with the life the book now holds (nobody waits for it). */
  requeue: Requeue;
  /** Elements the caps pushed out while learning: delete them from the kernel. */
  evicted: (list: Evicted[]) => void;
  log?: Logger;
}

export interface AdoptionStats {
  /** distinct elements read from the kernel */
  elements: number;
  /** set dumps made, keys a dump repeated (a torn dump), sets never read whole (given up) */
  reads: number;
  duplicates: number;
  unsettledSets: number;
  /** elements re-sent because a refresh during adoption had given them a shorter life */
  repaired: number;
  /** elements looked up by key before their refresh, and how many of those lookups failed */
  lookups: number;
  lookupFailures: number;
  ms: number;
  /** 'kernel': read from the sets (this file); 'state': from the state file (restore.ts) */
  from?: 'kernel' | 'state';
}

/** The element's name for the book: its comment, lowercased, when the comment is the whole name; else null. */
export function wholeName(el: Pick<DecodedElement, 'comment'>): string | null {
  const c = el.comment ?? '';
  return commentIsWhole(c) ? c.toLowerCase() : null;
}

export class Adoption {
  readonly stats: AdoptionStats = { elements: 0, reads: 0, duplicates: 0, unsettledSets: 0, repaired: 0, lookups: 0, lookupFailures: 0, ms: 0, from: 'kernel' };
  private readonly touchedIds = new Set<string>();
  private readonly removedIds = new Set<string>();
  private sock: NftTransport | null = null;
  private lookupSock: NftTransport | null = null;
  private cancelled = false;
  private done = false;
  private failed = false;
  /** Resolved when a set has been read and merged (or adoption ended). */
  private readonly setRead = new Map<AllowSet, { promise: Promise<void>; resolve: () => void }>();
  /** Sets read whole: their unknown elements need no lookup. */
  private readonly settled = new Set<AllowSet>();
  /** Deletions seen per set (a deletion during a dump can hide an element without repeating one). */
  private readonly deletions = new Map<AllowSet, number>();
  private readonly table: string;
  private readonly book: ExpiryBook;
  private readonly log?: Logger;

  constructor(private readonly opts: AdoptionOptions) {
    this.table = opts.table;
    this.book = opts.book;
    this.log = opts.log;
    for (const set of ALLOW_SETS) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.setRead.set(set, { promise, resolve });
    }
  }

  /** The programmer encoded this element while adoption runs. */
  touched(id: string): void {
    this.touchedIds.add(id);
  }

  /** The programmer deleted this element: never learn (or resurrect) it from an older read. */
  removed(id: string): void {
    this.removedIds.add(id);
    this.deleted(ALLOW_SETS[id.charCodeAt(0)]);
  }

  /** An element of `set` was deleted (by us or, heard through the watch, by anyone). */
  deleted(set: AllowSet | undefined): void {
    if (set) this.deletions.set(set, (this.deletions.get(set) ?? 0) + 1);
  }

  /** Every set was read whole (no repeated key, no deletion during its read), and adoption was not cancelled. */
  get whole(): boolean {
    return this.done && !this.cancelled && !this.failed && this.settled.size === ALLOW_SETS.length;
  }

  cancel(): void {
    this.cancelled = true;
    this.sock?.close();
  }

  /** Learns the kernel's life of elements the book does not know yet, before they are refreshed. */
  async lookup(items: { id: string; set: AllowSet; key: Buffer }[]): Promise<void> {
    const todo = items.filter((it) => !this.settled.has(it.set) && !this.book.has(it.id) && !this.removedIds.has(it.id));
    if (todo.length === 0 || this.cancelled || this.done) return;
    this.lookupSock ??= this.opts.transport({ log: this.log });
    const sock = this.lookupSock;
    this.stats.lookups += todo.length;
    await Promise.all(
      todo.map(async (it) => {
        try {
          const replies = await sock.get(`set inet ${this.table} ${it.set} (GETSETELEM)`, (s) =>
            setElemMsg(NFT_MSG_GETSETELEM, NLM_F_ACK, s, NFPROTO_INET, this.table, it.set, [encodeElement({ key: it.key })]),
          );
          const el = replies.length ? decodeSetElemMsg(replies[0]).elements[0] : undefined;
          if (el && !this.book.has(it.id)) this.learn(it.id, el);
        } catch (e) {
          // ENOENT: a new element. Anything else: its life in the kernel is unknown, and a refresh
          // now could shorten it for good (a read of the set after the refresh sees only the
          // refresh): wait until its set has been read and merged.
          if ((e as { code?: string }).code === 'ENOENT') return;
          this.stats.lookupFailures++;
          this.log?.debug({ err: (e as Error).message }, 'element lookup failed; waiting for its set to be read');
          await this.setRead.get(it.set)!.promise;
        }
      }),
    );
  }

  /** Reads the allow sets on a socket of its own (a dump error must not fail the batches). Never rejects. */
  async run(): Promise<void> {
    const t0 = performance.now();
    // A dump of 100k elements takes seconds, more on a loaded machine: allow it a long reply wait.
    this.sock = dumpTransport(this.opts.transport);
    try {
      for (const set of ALLOW_SETS) {
        if (this.cancelled) break;
        const read = await readSetChecked(this.sock, this.table, set, {
          attempts: 1 + ADOPT_PAUSES_MS.length,
          pauseMs: (n) => ADOPT_PAUSES_MS[n - 1],
          disturbed: () => {
            const before = this.deletions.get(set) ?? 0;
            return () => (this.deletions.get(set) ?? 0) !== before;
          },
        });
        this.stats.reads += read.reads;
        this.stats.duplicates += read.duplicates;
        for (let i = 0; i < read.elements.length; i++) this.merge(set, read.elements[i], read.readAt[i]);
        if (read.consistent) this.settled.add(set);
        else {
          this.stats.unsettledSets++;
          this.log?.warn(
            { set, reads: read.reads, duplicates: read.duplicates },
            'the set changed during every read; an element the previous daemon wrote may be refreshed with a shorter life',
          );
        }
        this.setRead.get(set)!.resolve();
      }
    } catch (e) {
      this.failed = true;
      if (!this.cancelled) this.log?.warn({ err: (e as Error).message }, 'reading the live elements failed; a refresh may shorten an element the previous daemon wrote');
    } finally {
      this.done = true;
      for (const r of this.setRead.values()) r.resolve();
      this.sock.close();
      this.sock = null;
      this.lookupSock?.close();
      this.lookupSock = null;
      this.stats.ms = Math.round(performance.now() - t0);
      this.touchedIds.clear();
      this.removedIds.clear();
      if (!this.cancelled) this.log?.info({ ...this.stats, ...(this.opts.stateFile ? { stateFile: this.opts.stateFile } : {}) }, 'live elements adopted');
    }
  }

  /** `started`: when the dump was requested; started + time left is a lower bound of the kernel's expiry. */
  private merge(set: AllowSet, el: DecodedElement, started: number): void {
    const id = elementId(set, el.key);
    if (this.removedIds.has(id)) return;
    this.stats.elements++;
    const known = this.touchedIds.has(id) ? this.book.get(id) : undefined;
    if (!known) {
      this.learn(id, el);
      return;
    }
    if (known.timeoutMs === Infinity) return;
    if (el.timeoutMs === undefined) {
      this.book.learn(id, undefined, undefined); // permanent in the kernel: keep it permanent (never evicts)
    } else {
      const kernelExpiresAt = started + (el.expirationMs ?? el.timeoutMs);
      if (kernelExpiresAt <= known.expiresAt && el.timeoutMs <= known.timeoutMs) return;
      const timeout = Math.max(el.timeoutMs, known.timeoutMs);
      const left = Math.min(timeout, Math.ceil(Math.max(kernelExpiresAt, known.expiresAt) - performance.now()));
      if (left <= 0) return;
      const out = this.book.learn(id, timeout, left);
      if (out) this.opts.evicted(out);
    }
    // refresh(…, 1) returns exactly the life the book now holds (max wins).
    const life = this.book.refresh(id, 1);
    this.stats.repaired++;
    if (life.evicted) this.opts.evicted(life.evicted);
    this.opts.requeue(id, set, encodeElement({ key: el.key, timeoutMs: life.timeoutMs, expirationMs: life.expirationMs, comment: el.comment ?? '' }));
  }

  /** Learns a kernel element the book does not know (named by its comment when whole); the caps may push older ones out. */
  private learn(id: string, el: DecodedElement): void {
    const out = this.book.learn(id, el.timeoutMs, el.expirationMs, wholeName(el));
    if (out) this.opts.evicted(out);
  }
}
