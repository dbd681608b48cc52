// 2000 exchanges at once over a small pool: every client gets the answer to its own question,
// with its own ID, and no two queries in flight on one socket share an ID.
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { answerAddress, query, reply, udpServer } from './helpers';

const N = 2000;
const BATCH = 100;
const addressFor = (i: number) => `198.18.${i >> 8}.${i & 255}`;

/** libuv reads at most 32 datagrams per socket per loop turn and client and server share this
 *  loop: wait (bounded) until the reader has drained a batch before sending the next one. */
async function caughtUp(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setImmediate(r));
}

t.test(`${N} concurrent exchanges`, async (t) => {
  const seen = new Map<number, Set<number>>(); // source port -> IDs seen (queries are answered late)
  let dupIds = 0;
  const held: (() => void)[] = [];
  const srv = await udpServer((m, r, s) => {
    const ids = seen.get(r.port) ?? new Set<number>();
    seen.set(r.port, ids);
    if (ids.has(m.readUInt16BE(0))) dupIds++;
    ids.add(m.readUInt16BE(0));
    const i = Number(/^q(\d+)\./.exec(String(m.subarray(13, 13 + m[12])) + '.')![1]);
    // Hold every reply until all queries are in flight, then answer in reverse order, in
    // batches that fit a default socket receive queue (client and server share one event loop).
    held.push(() => s.send(reply(m, { address: addressFor(i) }), r.port, r.address));
    if (held.length === N) void release();
  });
  const release = async () => {
    for (let k = held.length - 1, sent = 1; k >= 0; k--, sent++) {
      held[k]();
      if (sent % BATCH === 0) await caughtUp(() => up.stats.received >= sent);
    }
  };
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 5000, udpSockets: 4 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await srv.close();
  });
  const jobs = [];
  for (let i = 0; i < N; i++) {
    if (i % BATCH === 0) await caughtUp(() => srv.received.length >= i);
    const id = (i * 7919) & 0xffff;
    jobs.push(up.exchange(query(`q${i}.example`, 'A', id), { name: `q${i}.example`, qtype: 1, qclass: 1, id }).then((r) => ({ i, id, r })));
  }
  const results = await Promise.all(jobs);
  t.equal(held.length, N, 'all were in flight at once before the first reply');
  let wrong = 0;
  for (const { i, id, r } of results) {
    if (answerAddress(r.wire) !== addressFor(i) || r.wire.readUInt16BE(0) !== id) wrong++;
  }
  t.equal(wrong, 0, 'every answer is for its own question, with its own ID');
  t.equal(dupIds, 0, 'IDs unique per socket while in flight');
  t.equal(seen.size, 4, 'spread over the 4 sockets of the pool');
  t.equal(up.stats.accepted, N);
  t.equal(up.stats.droppedMismatch + up.stats.droppedSource + up.stats.droppedUnexpected, 0);
  t.equal(up.pending, 0);
});
