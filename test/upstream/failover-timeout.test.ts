// A server that does not answer costs one timeout, then the next server is asked; when none
// answers, the exchange fails with TIMEOUT and says what happened at each.
import t from 'tap';
import { Upstreams, UpstreamError } from '../../lib/upstream/upstreams';
import { answerAddress, query, reply, udpServer } from './helpers';

t.test('first server silent: second answers after one timeout', async (t) => {
  const silent = await udpServer(null);
  const good = await udpServer((m, r, s) => s.send(reply(m, { address: '198.18.0.2' }), r.port, r.address));
  const up = new Upstreams({ servers: [silent.endpoint, good.endpoint], timeoutMs: 200 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await silent.close();
    await good.close();
  });
  const res = await up.exchange(query('a.example'), { name: 'a.example', qtype: 1, qclass: 1, id: 77 });
  t.same(res.server, good.endpoint, 'answered by the second');
  t.equal(answerAddress(res.wire), '198.18.0.2');
  t.equal(res.wire.readUInt16BE(0), 77);
  t.ok(res.ms >= 190, `took one timeout (${res.ms.toFixed(0)} ms)`);
  t.equal(silent.received.length, 1, 'first asked once');
  t.equal(good.received.length, 1, 'second asked once');
  t.equal(up.stats.timeouts, 1);
  t.equal(up.stats.failovers, 1);
});

t.test('no server answers: TIMEOUT after each was tried once', async (t) => {
  const a = await udpServer(null);
  const b = await udpServer(null);
  const up = new Upstreams({ servers: [a.endpoint, b.endpoint], timeoutMs: 100 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await a.close();
    await b.close();
  });
  const err = await up.exchange(query('a.example'), { name: 'a.example', qtype: 1, qclass: 1, id: 1 }).catch((e) => e);
  t.type(err, UpstreamError);
  t.equal(err.code, 'TIMEOUT');
  t.equal(err.attempts.length, 2);
  t.same(
    err.attempts.map((x: { server: unknown }) => x.server),
    [a.endpoint, b.endpoint],
    'in configured order',
  );
  t.equal(a.received.length + b.received.length, 2, 'one try each');
  t.equal(up.pending, 0);
});

t.test('late reply after the timeout is dropped, not relayed to a later query', async (t) => {
  let delay = 300;
  const slow = await udpServer((m, r, s) => setTimeout(() => s.send(reply(m, { address: '198.18.0.9' }), r.port, r.address), delay));
  const up = new Upstreams({ servers: [slow.endpoint], timeoutMs: 100, udpSockets: 1 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await slow.close();
  });
  await t.rejects(up.exchange(query('a.example'), { name: 'a.example', qtype: 1, qclass: 1, id: 1 }), { code: 'TIMEOUT' });
  delay = 0;
  await new Promise((r) => setTimeout(r, 300));
  t.equal(up.stats.droppedUnexpected, 1, 'late reply counted as unexpected');
});
