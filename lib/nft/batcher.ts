// Packs queued elements into one batch: NEWSETELEM messages per set, each under the u16
// attribute limit and ELEMENTS_PER_MSG, at most MSGS_PER_BATCH messages and BATCH_BYTES bytes.
import { MAX_ELEMENTS_NEST_BYTES, setElemOverhead } from './netlink/setelem';
import type { AllowSet } from './keys';

/** ~1000 elements per NEWSETELEM measured as fast as bigger ones (reference: 89k-95k/s). */
export const ELEMENTS_PER_MSG = 1000;
export const MSGS_PER_BATCH = 8;
/** Well under the socket's send buffer (net.core.wmem_default doubled = 416 KiB) so sendmsg never fails EMSGSIZE. */
export const BATCH_BYTES = 256 * 1024;

export interface Waiter {
  unsent: number;
  batches: number;
  failed: boolean;
  resolve(): void;
  reject(err: Error): void;
}

export interface QueuedItem {
  set: AllowSet;
  /** set + key hex, for de-duplication. */
  id: string;
  buf: Buffer;
  waiter: Waiter;
}

export interface PackedMessage {
  set: AllowSet;
  elements: Buffer[];
}

export interface PackedBatch {
  messages: PackedMessage[];
  waiters: Set<Waiter>;
  elements: number;
}

interface OpenMsg {
  msg: PackedMessage;
  bytes: number;
  index: Map<string, number>;
}

/** Takes items from queue[head...] into a batch; returns the batch and the new head. */
export function packBatch(queue: QueuedItem[], head: number, table: string): { batch: PackedBatch; head: number } {
  const batch: PackedBatch = { messages: [], waiters: new Set(), elements: 0 };
  const open = new Map<AllowSet, OpenMsg>();
  let total = 0;
  let i = head;
  for (; i < queue.length; i++) {
    const it = queue[i];
    if (it.waiter.failed) continue; // its add() already rejected: nothing waits for it
    let m = open.get(it.set);
    const dup = m?.index.get(it.id);
    if (m && dup !== undefined) {
      // Same element twice: the later one carries max() of both lives, send only it.
      m.msg.elements[dup] = it.buf;
    } else {
      if (!m || m.msg.elements.length >= ELEMENTS_PER_MSG || m.bytes + it.buf.length > MAX_ELEMENTS_NEST_BYTES) {
        const overhead = setElemOverhead(table, it.set);
        if (batch.messages.length >= MSGS_PER_BATCH || total + overhead + it.buf.length > BATCH_BYTES) break;
        m = { msg: { set: it.set, elements: [] }, bytes: 0, index: new Map() };
        open.set(it.set, m);
        batch.messages.push(m.msg);
        total += overhead;
      } else if (total + it.buf.length > BATCH_BYTES) break;
      m.index.set(it.id, m.msg.elements.length);
      m.msg.elements.push(it.buf);
      m.bytes += it.buf.length;
      total += it.buf.length;
      batch.elements++;
    }
    it.waiter.unsent--;
    if (!batch.waiters.has(it.waiter)) {
      batch.waiters.add(it.waiter);
      it.waiter.batches++;
    }
  }
  return { batch, head: i };
}
