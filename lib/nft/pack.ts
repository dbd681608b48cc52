// Packs queued operations into one batch: NEWSETELEM and DESTROYSETELEM messages per set, each
// under the u16 attribute limit and ELEMENTS_PER_MSG, at most MSGS_PER_BATCH messages and
// BATCH_BYTES bytes.
// An element appears at most once per batch — its last operation wins — so the order of the
// messages never changes the outcome, and the deletions can go first: a set at its `size` then
// takes the new elements, since the kernel allows size + elements deleted in the transaction.
import { MAX_ELEMENTS_NEST_BYTES, setElemOverhead } from './netlink/setelem';
import type { AllowSet } from './keys';

/** ~1000 elements per NEWSETELEM measured as fast as bigger ones (reference: 89k-95k/s). */
export const ELEMENTS_PER_MSG = 1000;
export const MSGS_PER_BATCH = 8;
/** Well under the socket's send buffer (net.core.wmem_default doubled = 416 KiB) so sendmsg never fails EMSGSIZE. */
export const BATCH_BYTES = 256 * 1024;

/** One add() waiting for every batch that carries its elements. */
export interface Waiter {
  unsent: number;
  batches: number;
  failed: boolean;
  resolve(): void;
  reject(err: Error): void;
}

export interface QueuedItem {
  set: AllowSet;
  /** elementId(set, key) (expiry.ts), for de-duplication. */
  id: string;
  buf: Buffer;
  /** null: nobody waits (evictions, repairs). */
  waiter: Waiter | null;
  /** DESTROYSETELEM (buf holds only the key) instead of NEWSETELEM. */
  del?: boolean;
  /** a deletion sent again after its batch failed */
  retried?: boolean;
  /** adds: the book's send sequence and the life's lower bound, confirmed at the ack (ExpiryBook.confirm) */
  seq?: number;
  until?: number;
}

export interface PackedMessage {
  set: AllowSet;
  del: boolean;
  elements: Buffer[];
}

export interface PackedBatch {
  messages: PackedMessage[];
  waiters: Set<Waiter>;
  /** elements added (NEWSETELEM) */
  elements: number;
  /** deletions in this batch, to send again should it fail */
  deleted: QueuedItem[];
  /** adds in this batch (the operation that won for each element), to confirm at the ack */
  added: QueuedItem[];
}

interface OpenMsg {
  msg: { set: AllowSet; del: boolean; elements: (Buffer | null)[] };
  bytes: number;
}

/** Takes items from queue[head...] into a batch; returns the batch and the new head. */
export function packBatch(queue: QueuedItem[], head: number, table: string): { batch: PackedBatch; head: number } {
  const waiters = new Set<Waiter>();
  const msgs: OpenMsg[] = [];
  const open = new Map<string, OpenMsg>();
  const index = new Map<string, { m: OpenMsg; pos: number; it: QueuedItem }>();
  let total = 0;
  let i = head;
  for (; i < queue.length; i++) {
    const it = queue[i];
    if (it.waiter?.failed) continue; // its add() already rejected: nothing waits for it
    const del = it.del === true;
    const prev = index.get(it.id);
    if (prev && prev.m.msg.del === del) {
      prev.m.msg.elements[prev.pos] = it.buf; // same operation again: the later carries max() of both lives
      prev.it = it;
    } else {
      const okey = it.set + (del ? '-' : '+');
      let m = open.get(okey);
      if (!m || m.msg.elements.length >= ELEMENTS_PER_MSG || m.bytes + it.buf.length > MAX_ELEMENTS_NEST_BYTES) {
        const overhead = setElemOverhead(table, it.set);
        if (msgs.length >= MSGS_PER_BATCH || total + overhead + it.buf.length > BATCH_BYTES) break;
        m = { msg: { set: it.set, del, elements: [] }, bytes: 0 };
        open.set(okey, m);
        msgs.push(m);
        total += overhead;
      } else if (total + it.buf.length > BATCH_BYTES) break;
      if (prev) prev.m.msg.elements[prev.pos] = null; // the other operation on it is superseded
      index.set(it.id, { m, pos: m.msg.elements.length, it });
      m.msg.elements.push(it.buf);
      m.bytes += it.buf.length;
      total += it.buf.length;
    }
    if (it.waiter) {
      it.waiter.unsent--;
      if (!waiters.has(it.waiter)) {
        waiters.add(it.waiter);
        it.waiter.batches++;
      }
    }
  }
  const batch: PackedBatch = { messages: [], waiters, elements: 0, deleted: [], added: [] };
  for (const m of msgs) {
    const elements = m.msg.elements.filter((b): b is Buffer => b !== null);
    if (elements.length === 0) continue;
    batch.messages.push({ set: m.msg.set, del: m.msg.del, elements });
    if (!m.msg.del) batch.elements += elements.length;
  }
  for (const { m, it } of index.values()) (m.msg.del ? batch.deleted : batch.added).push(it);
  // Deletions first (see above).
  batch.messages.sort((a, b) => Number(b.del) - Number(a.del));
  return { batch, head: i };
}
