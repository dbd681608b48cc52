// A fake nf_tables behind the NftTransport seam (as google/nftables' test dialer): it decodes
// every message the programmer builds, records each batch, keeps the allow sets' elements, and
// acks or fails batches — at once, or when the test says (hold). No root, no kernel: packing,
// caps, eviction and the daemon's wiring are tested with it; test/nft and test/system prove the
// real kernel.
import type { BatchPart, NftTransport, TransportFactory } from '../../../lib/nft/netlink/socket';
import { parseMessages, nfAttrs, attrMap, readString, type NlMsg } from '../../../lib/nft/netlink/decode';
import { be32Attr, strAttr, nlmsg } from '../../../lib/nft/netlink/encode';
import {
  nftType,
  NFPROTO_INET,
  NFT_MSG_NEWSETELEM,
  NFT_MSG_DESTROYSETELEM,
  NFT_MSG_GETSETELEM,
  NFT_MSG_GETTABLE,
  NFT_MSG_GETSET,
  NFT_MSG_NEWSET,
  NFTA_SET_NAME,
  NFTA_SET_KEY_LEN,
  NFTA_SET_FLAGS,
  NFT_SET_TIMEOUT,
  NFTA_SET_TABLE,
  NFT_MSG_GETGEN,
  NFT_MSG_NEWGEN,
  NFTA_GEN_ID,
} from '../../../lib/nft/netlink/constants';
import { decodeSetElemMsg, encodeElement, newSetElemMsg, type DecodedElement } from '../../../lib/nft/netlink/setelem';
import { ALLOW_SETS, LAYOUTS, isAllowSet, type AllowSet } from '../../../lib/nft/keys';
import { NftError } from '../../../lib/nft/errors';
import type { WatchFactory, WatchHandler } from '../../../lib/nft/watch';

export interface RecordedMessage {
  op: 'add' | 'delete';
  set: AllowSet;
  elements: DecodedElement[];
}

export interface RecordedBatch {
  messages: RecordedMessage[];
}

interface Held {
  batch: RecordedBatch;
  resolve(): void;
  reject(err: Error): void;
}

export class FakeKernel {
  readonly batches: RecordedBatch[] = [];
  /** set → key hex → element */
  readonly sets = new Map<AllowSet, Map<string, DecodedElement>>();
  /** Fail the next batches with these errors (one each), like a kernel NLMSG_ERROR. */
  failNext: Error[] = [];
  /** Hold acks until ack()/fail() (in-flight batches); false: ack at once. */
  hold = false;
  readonly held: Held[] = [];
  /** Transports opened, and closed. */
  opened = 0;
  closed = 0;
  /** Set sizes (the kernel's `size`): a batch that leaves more fails ENFILE. */
  size = Infinity;
  /** While set, dumps wait for it (a set read that takes long, as 100k elements do). */
  dumpGate: Promise<void> | null = null;
  /**
   * The next this-many dumps are torn as the kernel's can be when the set changes during one
   * (sets.ts): the last element is missed and the first sent twice.
   */
  tornDumps = 0;
  /** Sets the table lacks (verify fails ENOENT). */
  missing = new Set<string>();
  /** nf_tables' generation id: +1 per commit (batch, put, delete, bump), told to watchers as NEWGEN. */
  generation = 1;

  constructor(readonly table = 'dnswall') {
    for (const s of ALLOW_SETS) this.sets.set(s, new Map());
  }

  /** The transport factory to give the programmer. */
  readonly transport: TransportFactory = () => new FakeTransport(this);

  /** Change-notification listeners (as NFNLGRP_NFTABLES members): told of every deletion. */
  readonly watchers = new Set<WatchHandler>();
  readonly watch: WatchFactory = (table, handler) => {
    if (table !== this.table) throw new Error('fake kernel: watch of another table');
    this.watchers.add(handler);
    return {
      close: () => {
        this.watchers.delete(handler);
      },
    };
  };

  /** Elements of a set now, as [key hex, element]. */
  elements(set: AllowSet): DecodedElement[] {
    return [...this.sets.get(set)!.values()];
  }

  has(set: AllowSet, key: Buffer): boolean {
    return this.sets.get(set)!.has(key.toString('hex'));
  }

  /** Adds an element as another process would (nft add element); watchers hear of it. */
  put(set: AllowSet, el: DecodedElement): void {
    this.sets.get(set)!.set(el.key.toString('hex'), el);
    for (const w of this.watchers) w.added?.(set, el);
    this.bump();
  }

  /** Deletes an element as another process would (nft delete element); watchers hear of it. */
  delete(set: AllowSet, key: Buffer): void {
    this.sets.get(set)!.delete(key.toString('hex'));
    for (const w of this.watchers) w.deleted(set, key);
    this.bump();
  }

  /** A commit that changes no allow set (a ruleset load, another table's change): the generation moves on. */
  bump(): void {
    this.generation++;
    for (const w of this.watchers) w.generation?.(this.generation);
  }

  /** Acks the oldest held batch (commits it). */
  ack(): void {
    const h = this.held.shift();
    if (!h) throw new Error('no batch held');
    this.commit(h.batch);
    h.resolve();
  }

  /** Fails the oldest held batch (rolls it back). */
  fail(err: Error): void {
    const h = this.held.shift();
    if (!h) throw new Error('no batch held');
    h.reject(err);
  }

  /** Called by the transport. */
  batch(parts: BatchPart[]): Promise<void> {
    let seq = 1000;
    const batch: RecordedBatch = { messages: [] };
    for (const p of parts) {
      for (const msg of parseMessages(p.build(++seq))) {
        const op = msg.type === nftType(NFT_MSG_NEWSETELEM) ? 'add' : msg.type === nftType(NFT_MSG_DESTROYSETELEM) ? 'delete' : null;
        if (!op) throw new Error(`fake kernel: unexpected message type ${msg.type} in a batch`);
        const d = decodeSetElemMsg(msg);
        if (d.table !== this.table || !isAllowSet(d.set)) throw new Error(`fake kernel: bad table/set ${d.table} ${d.set}`);
        batch.messages.push({ op, set: d.set, elements: d.elements });
      }
    }
    this.batches.push(batch);
    const err = this.failNext.shift();
    if (err) return Promise.reject(err);
    if (this.hold) return new Promise((resolve, reject) => this.held.push({ batch, resolve, reject }));
    try {
      this.commit(batch);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return Promise.resolve();
  }

  private commit(batch: RecordedBatch): void {
    // Atomic: check on a copy first.
    const next = new Map([...this.sets].map(([s, m]) => [s, new Map(m)] as const));
    for (const m of batch.messages) {
      const set = next.get(m.set)!;
      for (const el of m.elements) {
        const k = el.key.toString('hex');
        if (el.key.length !== LAYOUTS[m.set].keyLen) throw new NftError('EINVAL', `fake kernel: key of ${el.key.length} bytes for ${m.set}`);
        if (m.op === 'delete') set.delete(k);
        else {
          if (el.expirationMs !== undefined && el.timeoutMs !== undefined && el.expirationMs > el.timeoutMs) throw new NftError('ERANGE', 'expiration > timeout');
          set.set(k, el);
        }
      }
      if (set.size > this.size) throw new NftError('ENFILE', `set ${m.set} full`);
    }
    for (const [s, m] of next) this.sets.set(s, m);
    for (const m of batch.messages) if (m.op === 'delete') for (const el of m.elements) for (const w of this.watchers) w.deleted(m.set, el.key);
    this.bump();
  }

  /** GET requests: table, set, one element. */
  get(build: (seq: number) => Buffer): NlMsg[] {
    const [msg] = parseMessages(build(1));
    const a = attrMap(nfAttrs(msg));
    if (msg.type === nftType(NFT_MSG_GETGEN)) return parseMessages(nlmsg(nftType(NFT_MSG_NEWGEN), 0, 1, 0, [be32Attr(NFTA_GEN_ID, this.generation)]));
    if (msg.type === nftType(NFT_MSG_GETTABLE)) {
      if (readString(a.get(1)) !== this.table || this.missing.has('table')) throw new NftError('ENOENT', 'ENOENT');
      return [];
    }
    if (msg.type === nftType(NFT_MSG_GETSET)) {
      const name = readString(a.get(NFTA_SET_NAME))!;
      if (!isAllowSet(name) || this.missing.has(name)) throw new NftError('ENOENT', 'ENOENT');
      const reply = nlmsg(nftType(NFT_MSG_NEWSET), 0, 1, NFPROTO_INET, [
        strAttr(NFTA_SET_TABLE, this.table),
        strAttr(NFTA_SET_NAME, name),
        be32Attr(NFTA_SET_FLAGS, NFT_SET_TIMEOUT),
        be32Attr(NFTA_SET_KEY_LEN, LAYOUTS[name].keyLen),
      ]);
      return parseMessages(reply);
    }
    if (msg.type === nftType(NFT_MSG_GETSETELEM)) {
      const d = decodeSetElemMsg(msg);
      const el = this.sets.get(d.set as AllowSet)?.get(d.elements[0].key.toString('hex'));
      if (!el) throw new NftError('ENOENT', 'ENOENT');
      return parseMessages(newSetElemMsg(1, NFPROTO_INET, this.table, d.set!, [encodeElement(el)]));
    }
    throw new Error(`fake kernel: unexpected GET ${msg.type}`);
  }

  /** Set dumps answered so far. */
  dumps = 0;

  /** Dumps: the elements of one set. */
  dump(build: (seq: number) => Buffer): NlMsg[] {
    this.dumps++;
    const [msg] = parseMessages(build(1));
    const set = readString(attrMap(nfAttrs(msg)).get(2));
    if (!isAllowSet(set) || this.missing.has(set)) throw new NftError('ENOENT', 'ENOENT');
    const out: NlMsg[] = [];
    const els = this.elements(set).map((el) => encodeElement(el));
    if (this.tornDumps > 0 && els.length > 1) {
      this.tornDumps--;
      els[els.length - 1] = els[0];
    }
    for (let i = 0; i < els.length; i += 100) out.push(...parseMessages(newSetElemMsg(1, NFPROTO_INET, this.table, set, els.slice(i, i + 100))));
    return out;
  }
}

class FakeTransport implements NftTransport {
  closed = false;
  readonly recvBufferSize = 0;
  constructor(private readonly k: FakeKernel) {
    k.opened++;
  }

  batch(parts: BatchPart[]): Promise<void> {
    if (this.closed) return Promise.reject(new NftError('ECONNRESET', 'closed'));
    return this.k.batch(parts);
  }

  async get(_label: string, build: (seq: number) => Buffer): Promise<NlMsg[]> {
    if (this.closed) throw new NftError('ECONNRESET', 'closed');
    return this.k.get(build);
  }

  async dump(_label: string, build: (seq: number) => Buffer): Promise<NlMsg[]> {
    if (this.closed) throw new NftError('ECONNRESET', 'closed');
    if (this.k.dumpGate) await this.k.dumpGate;
    return this.k.dump(build);
  }

  close(): void {
    if (!this.closed) this.k.closed++;
    this.closed = true;
  }
}
