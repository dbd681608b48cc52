// TC=1 over UDP: the same server is asked again over TCP and the TCP reply is relayed.
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { answerAddress, query, reply, udpServer, udpTcpServer } from './helpers';

const Q = { name: 'big.example', qtype: 1, qclass: 1, id: 0xbeef };

t.test('truncated UDP reply retried over TCP on the same server', async (t) => {
  const { u, t: tc } = await udpTcpServer(
    (m, r, s) => s.send(reply(m, { tc: true }), r.port, r.address),
    (q, s) => {
      const r = reply(q, { address: '198.18.1.1' });
      const f = Buffer.alloc(2);
      f.writeUInt16BE(r.length);
      s.write(Buffer.concat([f, r]));
    },
  );
  const up = new Upstreams({ servers: [u.endpoint], timeoutMs: 500 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await u.close();
    await tc.close();
  });
  const q = query('Big.Example');
  const res = await up.exchange(q, Q);
  t.equal(res.transport, 'tcp');
  t.equal(answerAddress(res.wire), '198.18.1.1', 'the TCP answer');
  t.equal(res.wire.readUInt16BE(0), Q.id, 'client ID restored');
  t.equal(up.stats.tcpRetries, 1);
  t.equal(tc.received.length, 1);
  t.same(tc.received[0].subarray(2), q.subarray(2), 'TCP query is the client bytes except the ID');
});

t.test('TC and then no TCP answer: fail over to the next server', async (t) => {
  const { u, t: tc } = await udpTcpServer(
    (m, r, s) => s.send(reply(m, { tc: true }), r.port, r.address),
    (_q, s) => s.destroy(),
  );
  const good = await udpServer((m, r, s) => s.send(reply(m, { address: '198.18.1.2' }), r.port, r.address));
  const up = new Upstreams({ servers: [u.endpoint, good.endpoint], timeoutMs: 500 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await u.close();
    await tc.close();
    await good.close();
  });
  const res = await up.exchange(query('big.example'), Q);
  t.same(res.server, good.endpoint);
  t.equal(res.transport, 'udp');
  t.equal(answerAddress(res.wire), '198.18.1.2');
  t.equal(up.stats.tcpErrors, 1);
});
