// The UDP tries' deadline queue: every entry expires once, in order, not before its deadline and
// at most the lateness bound after it; the timer wakes per lateness bound, not per entry.
import t from 'tap';
import { DeadlineQueue } from '../../lib/upstream/deadlines';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('entries expire in the order pushed, each after timeoutMs and at most lateness + slack after', async (t) => {
  const timeoutMs = 60; // lateness: 6 ms
  const pushedAt = new Map<number, number>();
  const seen: { seq: number; late: number }[] = [];
  const q = new DeadlineQueue(timeoutMs, (slot, id, seq) => {
    t.equal(slot, seq % 3, 'slot comes back as pushed');
    t.equal(id, seq * 7, 'id comes back as pushed');
    seen.push({ seq, late: performance.now() - pushedAt.get(seq)! - timeoutMs });
  });
  for (let seq = 1; seq <= 5; seq++) {
    pushedAt.set(seq, performance.now());
    q.push(seq % 3, seq * 7, seq);
    await sleep(5);
  }
  await sleep(timeoutMs + 60);
  t.same(
    seen.map((s) => s.seq),
    [1, 2, 3, 4, 5],
  );
  for (const s of seen) {
    t.ok(s.late >= -1, `entry ${s.seq} not expired early (${s.late.toFixed(1)} ms)`); // timers count whole ms
    t.ok(s.late < 6 + 30, `entry ${s.seq} expired at most lateness + scheduling slack late (${s.late.toFixed(1)} ms)`);
  }
  t.equal(q.size, 0);
  t.equal(q.armed, false, 'no timer left once empty');
});

t.test('the queue grows past its first capacity and keeps the order', async (t) => {
  let now = 0;
  const got: number[] = [];
  const q = new DeadlineQueue(
    10,
    (_s, _i, seq) => got.push(seq),
    () => now,
  );
  for (let seq = 0; seq < 5000; seq++) q.push(0, seq & 0xffff, seq);
  t.equal(q.size, 5000);
  now = 100; // every deadline passed (the fake clock), the real timer fires within ~10 ms
  await sleep(40);
  t.equal(got.length, 5000);
  t.ok(
    got.every((v, i) => v === i),
    'in push order',
  );
});

t.test('the timer wakes once per lateness bound, not once per entry', async (t) => {
  const timeoutMs = 200; // lateness 20 ms
  let expired = 0;
  const q = new DeadlineQueue(timeoutMs, () => expired++);
  const start = performance.now();
  let seq = 0;
  // 100 ms of entries, one per ~1 ms: per-entry wakeups would be ~100
  while (performance.now() - start < 100) {
    q.push(0, seq, seq);
    seq++;
    await sleep(1);
  }
  await sleep(timeoutMs + 60);
  t.equal(expired, seq, 'every entry expired');
  t.ok(q.wakeups <= 100 / 20 + 3, `${q.wakeups} wakeups for ${seq} entries over 100 ms`);
});

t.test('close: nothing expires afterwards', async (t) => {
  let expired = 0;
  const q = new DeadlineQueue(20, () => expired++);
  q.push(0, 1, 1);
  q.close();
  q.push(0, 2, 2);
  await sleep(60);
  t.equal(expired, 0);
  t.equal(q.size, 0);
});

t.test('a bad timeout is refused with its value', async (t) => {
  t.throws(() => new DeadlineQueue(0, () => undefined), /timeoutMs must be > 0, got 0/);
});
