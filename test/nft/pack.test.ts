// packBatch without a kernel: one operation per element per batch (the last wins), deletions
// first, the per-message and per-batch limits, and the waiters each batch carries.
import t from 'tap';
import { packBatch, ELEMENTS_PER_MSG, MSGS_PER_BATCH, type QueuedItem, type Waiter } from '../../lib/nft/pack';
import { encodeElement } from '../../lib/nft/netlink/setelem';
import { LAYOUTS, encodeKey, type AllowSet } from '../../lib/nft/keys';
import { elementId } from '../../lib/nft/expiry';

function waiter(): Waiter {
  return { unsent: 0, batches: 0, failed: false, resolve: () => undefined, reject: () => undefined };
}

function item(set: AllowSet, n: number, opts: { del?: boolean; w?: Waiter | null; timeoutMs?: number } = {}): QueuedItem {
  const l = LAYOUTS[set];
  const source = Buffer.alloc(l.srcLen, 10);
  source.writeUInt16BE(n & 0xffff, l.srcLen - 2);
  const key = encodeKey({ set, source, destination: Buffer.alloc(l.addrLen, 7), ...(l.withPort ? { proto: 6, port: 443 } : {}) });
  const w = opts.w ?? null;
  if (w) w.unsent++;
  return {
    set,
    id: elementId(set, key),
    buf: opts.del ? encodeElement({ key }) : encodeElement({ key, timeoutMs: opts.timeoutMs ?? 60_000, comment: 'x' }),
    waiter: w,
    ...(opts.del ? { del: true } : {}),
  };
}

t.test('the same element twice: one element, the later one', async (t) => {
  const w = waiter();
  const a = item('allow4', 1, { w, timeoutMs: 10_000 });
  const b = item('allow4', 1, { w, timeoutMs: 90_000 });
  const { batch, head } = packBatch([a, b], 0, 'dnswall');
  t.equal(head, 2);
  t.equal(batch.messages.length, 1);
  t.same(batch.messages[0].elements, [b.buf], 'the later operation wins');
  t.equal(batch.elements, 1);
  t.same([...batch.waiters], [w]);
  t.equal(w.unsent, 0);
  t.equal(w.batches, 1);
});

t.test('add then delete of one element: only the deletion, and it goes first', async (t) => {
  const add = item('allow4', 1, { w: waiter() });
  const other = item('allow4', 2, { w: waiter() });
  const del = item('allow4', 1, { del: true });
  const { batch } = packBatch([add, other, del], 0, 'dnswall');
  t.same(
    batch.messages.map((m) => [m.set, m.del, m.elements.length]),
    [
      ['allow4', true, 1],
      ['allow4', false, 1],
    ],
  );
  t.same(batch.messages[1].elements, [other.buf]);
  t.same(batch.deleted, [del], 'the deletion is kept to send again should the batch fail');
  t.equal(batch.elements, 1);
});

t.test('delete then add: the add wins', async (t) => {
  const del = item('allow4', 1, { del: true });
  const add = item('allow4', 1, { w: waiter() });
  const { batch } = packBatch([del, add], 0, 'dnswall');
  t.same(
    batch.messages.map((m) => [m.del, m.elements.length]),
    [[false, 1]],
  );
  t.same(batch.deleted, []);
});

t.test('one message per set and operation; ELEMENTS_PER_MSG per message; MSGS_PER_BATCH per batch', async (t) => {
  const w = waiter();
  const q: QueuedItem[] = [];
  for (let i = 0; i < ELEMENTS_PER_MSG + 5; i++) q.push(item('allow4', i, { w }));
  q.push(item('allow4p', 1, { w }), item('cgroup4', 1, { w }));
  let { batch, head } = packBatch(q, 0, 'dnswall');
  t.equal(head, q.length, 'all in one batch');
  t.same(
    batch.messages.map((m) => [m.set, m.elements.length]),
    [
      ['allow4', ELEMENTS_PER_MSG],
      ['allow4', 5],
      ['allow4p', 1],
      ['cgroup4', 1],
    ],
  );
  // More messages than a batch holds: the rest stays queued.
  const many: QueuedItem[] = [];
  for (let i = 0; i < (MSGS_PER_BATCH + 1) * ELEMENTS_PER_MSG; i++) many.push(item('allow4', i % 65536, { w: null }));
  ({ batch, head } = packBatch(many, 0, 'dnswall'));
  t.ok(batch.messages.length <= MSGS_PER_BATCH, `${batch.messages.length} messages`);
  t.ok(head < many.length, 'the rest waits for the next batch');
  const next = packBatch(many, head, 'dnswall');
  t.ok(next.head > head);
});

t.test('an item whose add() already failed is skipped; a waiter counts each batch once', async (t) => {
  const dead = waiter();
  dead.failed = true;
  const w = waiter();
  const q = [item('allow4', 1, { w: dead }), item('allow4', 2, { w }), item('allow6', 3, { w })];
  const { batch } = packBatch(q, 0, 'dnswall');
  t.equal(batch.elements, 2);
  t.same([...batch.waiters], [w]);
  t.equal(w.batches, 1);
  t.equal(w.unsent, 0);
});
