// IPv6 upstreams on ::1, over UDP and TCP, mixed with an IPv4 one in the failover order.
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { answerAddress, ipv6Available, query, reply, tcpServer, udpServer } from './helpers';

const Q = { name: 'v6.example', qtype: 1, qclass: 1, id: 600 };

t.test('IPv6 upstream', async (t) => {
  if (!(await ipv6Available())) {
    t.comment('no ::1 on this machine');
    return;
  }
  const silent4 = await udpServer(null, 4);
  const u6 = await udpServer((m, r, s) => s.send(reply(m, { address: '198.18.6.6' }), r.port, r.address), 6);
  const t6 = await tcpServer((q, s) => {
    const r = reply(q, { address: '198.18.6.7' });
    const f = Buffer.alloc(2);
    f.writeUInt16BE(r.length);
    s.write(Buffer.concat([f, r]));
  }, 6);
  const up = new Upstreams({ servers: [silent4.endpoint, u6.endpoint], timeoutMs: 150, udpSockets: 2 });
  const upTcp = new Upstreams({ servers: [t6.endpoint], timeoutMs: 500 });
  await up.start();
  await upTcp.start();
  t.teardown(async () => {
    await up.close();
    await upTcp.close();
    await silent4.close();
    await u6.close();
    await t6.close();
  });
  const res = await up.exchange(query('v6.example'), Q);
  t.same(res.server, u6.endpoint, 'failed over from IPv4 to IPv6');
  t.equal(res.server.host, '::1');
  t.equal(answerAddress(res.wire), '198.18.6.6');
  t.equal(res.wire.readUInt16BE(0), Q.id);

  const rt = await upTcp.exchange(query('v6.example'), Q, { tcp: true });
  t.equal(rt.transport, 'tcp');
  t.equal(answerAddress(rt.wire), '198.18.6.7');
});
