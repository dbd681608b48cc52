// close() rejects every exchange in flight (UDP and TCP) with CLOSED, and later calls too.
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { query, sleep, tcpServer, udpServer } from './helpers';

/** Polls `cond` every 5 ms; fails the wait after `deadlineMs` (a bound on waiting, not on the behaviour). */
async function until(cond: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

t.test('close rejects pending and later exchanges', async (t) => {
  const u = await udpServer(null);
  const tc = await tcpServer(() => {});
  const up = new Upstreams({ servers: [u.endpoint], timeoutMs: 5000 });
  const upTcp = new Upstreams({ servers: [tc.endpoint], timeoutMs: 5000 });
  await up.start();
  await upTcp.start();
  t.teardown(async () => {
    await u.close();
    await tc.close();
  });
  const Q = { name: 'a.example', qtype: 1, qclass: 1, id: 1 };
  const pending = Array.from({ length: 5 }, () => up.exchange(query('a.example'), Q));
  const pendingTcp = upTcp.exchange(query('a.example'), Q, { tcp: true });
  const all = [...pending, pendingTcp];
  let settled = 0;
  for (const p of all)
    p.then(
      () => settled++,
      () => settled++,
    );
  // in flight for real: the servers (which never answer) have every query
  await until(() => u.received.length === 5 && tc.received.length === 1, 10_000, 'the queries to reach the servers');
  t.equal(settled, 0, 'nothing settled before close()');
  await Promise.all([up.close(), upTcp.close()]);
  await new Promise((r) => setImmediate(r));
  // Not the 5 s timeouts: every exchange is settled by the time close() returned, and as CLOSED
  // (a timeout would say TIMEOUT).
  t.equal(settled, all.length, 'every exchange settled when close() returned');
  for (const p of pending) await t.rejects(p, { code: 'CLOSED' });
  await t.rejects(pendingTcp, { code: 'CLOSED' });
  await t.rejects(up.exchange(query('a.example'), Q), { code: 'CLOSED' }, 'after close');
  t.equal(up.pending, 0);
  await up.close(); // twice is fine
});
