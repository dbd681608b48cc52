// The daemon's per-source budget: rate bucket (burst 2×), share of the pending pool and of the
// TCP connections, bounded state — with a fake clock, no sockets.
import t from 'tap';
import pino from 'pino';
import { SourceBudget, SHARE_DIVISOR, MAX_IDLE_SOURCES, BAD_INPUT_REPLIES_PER_SECOND } from '../../lib/fairness/budget';

const log = pino({ level: 'silent' });

function budget(over: Partial<{ sourceQueriesPerSecond: number; maxPendingQueries: number; tcpMaxConnections: number }> = {}) {
  let now = 1_000_000;
  const b = new SourceBudget({ sourceQueriesPerSecond: 100, maxPendingQueries: 800, tcpMaxConnections: 80, ...over }, log, () => now);
  return {
    b,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

t.test('rate: a burst of twice the rate, then the rate; other sources unaffected', async (t) => {
  const { b, advance } = budget();
  t.teardown(() => b.close());
  let ok = 0;
  for (let i = 0; i < 500; i++) if (b.take('192.0.2.10') === 0) ok++;
  t.equal(ok, 200, 'burst = 2 × 100');
  const wait = b.take('192.0.2.10');
  t.ok(wait >= 1 && wait <= 10, `next token in ${wait} ms (1 token = 10 ms)`);
  t.equal(b.take('198.51.100.10'), 0, 'another source has its own bucket');
  advance(1000);
  ok = 0;
  for (let i = 0; i < 500; i++) if (b.take('192.0.2.10') === 0) ok++;
  t.equal(ok, 100, 'one second later: the rate');
});

t.test('rate 0: no limit', async (t) => {
  const { b } = budget({ sourceQueriesPerSecond: 0 });
  t.teardown(() => b.close());
  for (let i = 0; i < 100_000; i++) if (b.take('192.0.2.10') !== 0) return t.fail(`limited at ${i}`);
  t.equal(b.size, 0, 'no state kept for the rate when it is off');
});

t.test('pending: one source holds at most 1/8 of the pool; release gives the slot back', async (t) => {
  const { b } = budget();
  t.teardown(() => b.close());
  const share = 800 / SHARE_DIVISOR;
  let held = 0;
  for (let i = 0; i < 1000; i++) if (b.hold('192.0.2.10')) held++;
  t.equal(held, share);
  t.equal(b.stats.pendingRejected, 1000 - share);
  t.ok(b.hold('198.51.100.10'), 'another source still gets a slot');
  b.release('192.0.2.10');
  t.ok(b.hold('192.0.2.10'), 'a released slot can be taken again');
  t.same(b.held('192.0.2.10'), { pending: share, connections: 0 });
});

t.test('connections: at most 1/8 of tcpMaxConnections per source', async (t) => {
  const { b } = budget();
  t.teardown(() => b.close());
  let n = 0;
  for (let i = 0; i < 50; i++) if (b.connect('2001:db8:1::10')) n++;
  t.equal(n, 10);
  t.equal(b.stats.connectionsRejected, 40);
  b.disconnect('2001:db8:1::10');
  t.ok(b.connect('2001:db8:1::10'));
});

t.test('small pools still give every source one slot', async (t) => {
  const { b } = budget({ maxPendingQueries: 3, tcpMaxConnections: 1 });
  t.teardown(() => b.close());
  t.ok(b.hold('192.0.2.10'));
  t.notOk(b.hold('192.0.2.10'));
  t.ok(b.connect('192.0.2.10'));
});

t.test('reload: new limits apply to what comes next', async (t) => {
  const { b } = budget();
  t.teardown(() => b.close());
  for (let i = 0; i < 200; i++) b.take('192.0.2.10');
  t.ok(b.take('192.0.2.10') > 0);
  b.configure({ sourceQueriesPerSecond: 0, maxPendingQueries: 800, tcpMaxConnections: 80 });
  t.equal(b.take('192.0.2.10'), 0, 'rate off after reload');
  t.same(b.limits, { perSecond: 0, burst: 0, pendingShare: 100, connectionShare: 10 });
});

t.test('state is bounded: a spoofed-source flood does not grow the map without limit', async (t) => {
  const { b } = budget();
  t.teardown(() => b.close());
  b.hold('192.0.2.10'); // a source holding a query is never evicted
  for (let i = 0; i < MAX_IDLE_SOURCES * 2; i++) b.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  t.ok(b.size <= MAX_IDLE_SOURCES, `${b.size} sources kept`);
  t.same(b.held('192.0.2.10'), { pending: 1, connections: 0 }, 'the busy source kept its state');
});

t.test('bad input: FORMERR replies per source up to 100/s (burst 200), then silence, counted', async (t) => {
  const { b, advance } = budget({ sourceQueriesPerSecond: 0 });
  t.teardown(() => b.close());
  let n = 0;
  for (let i = 0; i < 1000; i++) if (b.mayReplyToBadInput('192.0.2.10')) n++;
  t.equal(n, 2 * BAD_INPUT_REPLIES_PER_SECOND);
  t.equal(b.stats.badInputSilenced, 1000 - n);
  t.ok(b.mayReplyToBadInput('198.51.100.10'), 'another source still gets its FORMERR');
  advance(1000);
  n = 0;
  for (let i = 0; i < 1000; i++) if (b.mayReplyToBadInput('192.0.2.10')) n++;
  t.equal(n, BAD_INPUT_REPLIES_PER_SECOND);
});
