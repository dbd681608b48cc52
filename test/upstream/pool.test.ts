// UdpPool's callback core: a send dgram refuses at once (its socket no longer runs) reaches the
// waiter as SEND_FAILED on a later tick and leaves nothing in flight; a reply settles the
// try once and its deadline entry later finds nothing to time out.
import t from 'tap';
import { UdpPool, type UdpWaiter } from '../../lib/upstream/udp';
import { RandomIds } from '../../lib/upstream/ids';
import { newStats } from '../../lib/upstream/stats';
import { readQuestion } from '../../lib/dns/query';
import { query, reply, udpServer } from './helpers';

function waiter() {
  const seen: string[] = [];
  const w: UdpWaiter = {
    onReply: () => seen.push('reply'),
    onError: (e) => seen.push(`error ${(e as { code?: string }).code}: ${e.message}`),
  };
  return { w, seen };
}

t.test('a socket dgram no longer runs: SEND_FAILED on a later tick, nothing left in flight', async (t) => {
  const stats = newStats();
  const pool = new UdpPool([4], 1, new RandomIds(), stats, 200);
  await pool.start();
  t.teardown(() => pool.close());
  (pool as unknown as { all: { socket: { close(): void } }[] }).all[0].socket.close();
  const q = query('a.example');
  const { w, seen } = waiter();
  pool.send(q, readQuestion(q).end, { family: 4, host: '127.0.0.1', port: 9 }, w);
  t.same(seen, [], 'not called before send() returns');
  await new Promise((r) => setImmediate(r));
  t.equal(seen.length, 1);
  t.match(seen[0], /^error SEND_FAILED: sending to 127\.0\.0\.1:9 failed/);
  t.equal(pool.inFlight, 0);
  t.equal(stats.sendErrors, 1);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(seen.length, 1, 'its deadline passes without a second call');
  t.equal(stats.timeouts, 0);
});

t.test('an answered try is settled once; an unanswered one times out once', async (t) => {
  const stats = newStats();
  let answer = true;
  const server = await udpServer((msg, rinfo, sock) => {
    if (answer) sock.send(reply(msg), rinfo.port, rinfo.address);
  });
  t.teardown(() => server.close());
  const pool = new UdpPool([4], 2, new RandomIds(), stats, 100);
  await pool.start();
  t.teardown(() => pool.close());
  const q = query('b.example');
  const end = readQuestion(q).end;
  const a = waiter();
  pool.send(q, end, server.endpoint, a.w);
  await new Promise((r) => setTimeout(r, 250)); // past its deadline and the lateness bound
  t.same(a.seen, ['reply']);
  answer = false;
  const b = waiter();
  pool.send(q, end, server.endpoint, b.w);
  await new Promise((r) => setTimeout(r, 250));
  t.equal(b.seen.length, 1);
  t.match(b.seen[0], /^error TIMEOUT: no reply from .* over UDP within 100 ms/);
  t.equal(stats.timeouts, 1);
  t.equal(pool.inFlight, 0);
});
