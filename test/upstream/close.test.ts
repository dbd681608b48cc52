// close() rejects every exchange in flight (UDP and TCP) with CLOSED, and later calls too.
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { query, sleep, tcpServer, udpServer } from './helpers';

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
  await sleep(50);
  const t0 = Date.now();
  await Promise.all([up.close(), upTcp.close()]);
  for (const p of pending) await t.rejects(p, { code: 'CLOSED' });
  await t.rejects(pendingTcp, { code: 'CLOSED' });
  t.ok(Date.now() - t0 < 1000, 'did not wait for the timeouts');
  await t.rejects(up.exchange(query('a.example'), Q), { code: 'CLOSED' }, 'after close');
  t.equal(up.pending, 0);
  await up.close(); // twice is fine
});
