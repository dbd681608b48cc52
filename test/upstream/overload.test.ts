// maxInFlight caps the exchanges waiting at once; the next one fails fast with OVERLOADED.
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { query, reply, udpServer } from './helpers';

t.test('OVERLOADED beyond maxInFlight, accepted again once replies arrive', async (t) => {
  const held: (() => void)[] = [];
  const srv = await udpServer((m, r, s) => held.push(() => s.send(reply(m, { address: '198.18.0.1' }), r.port, r.address)));
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 2000, maxInFlight: 10 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await srv.close();
  });
  const Q = { name: 'a.example', qtype: 1, qclass: 1, id: 1 };
  const first = Array.from({ length: 10 }, () => up.exchange(query('a.example'), Q));
  t.equal(up.pending, 10);
  await t.rejects(up.exchange(query('a.example'), Q), { code: 'OVERLOADED' });
  t.equal(up.stats.overloaded, 1);
  for (let i = 0; i < 100 && held.length < 10; i++) await new Promise((r) => setTimeout(r, 5));
  for (const h of held.splice(0)) h();
  await Promise.all(first);
  t.equal(up.pending, 0);
  const again = up.exchange(query('a.example'), Q);
  for (let i = 0; i < 100 && held.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
  held[0]();
  t.ok((await again).wire.length > 12, 'accepted again');
});
