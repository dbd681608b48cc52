// Right source, but wrong ID, QR=0, or another question: dropped, the query keeps waiting, the
// real reply is then accepted. A reply whose name differs only in case is accepted (RFC 4343).
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { answerAddress, query, reply, udpServer } from './helpers';

t.test('wrong ID, QR=0, wrong name, type, class ignored; then the real reply', async (t) => {
  const srv = await udpServer((m, r, s) => {
    const id = m.readUInt16BE(0);
    const bad = [
      reply(m, { id: (id + 1) & 0xffff, address: '203.0.113.1' }),
      reply(m, { qr: false, address: '203.0.113.2' }),
      reply(m, { name: 'evil.example', address: '203.0.113.3' }),
      reply(m, { name: 'name.exampl', address: '203.0.113.3' }),
      reply(m, { type: 'AAAA', address: '203.0.113.4' }),
    ];
    const wrongClass = reply(m, { address: '203.0.113.5' });
    const qEnd = 12 + m.subarray(12).indexOf(0) + 5;
    wrongClass.writeUInt16BE(3, qEnd - 2); // CHAOS
    bad.push(wrongClass);
    const twoQuestions = reply(m, { address: '203.0.113.6' });
    twoQuestions.writeUInt16BE(2, 4);
    bad.push(twoQuestions);
    bad.push(Buffer.from([1, 2, 3])); // shorter than a header
    for (const b of bad) s.send(b, r.port, r.address);
    setTimeout(() => s.send(reply(m, { address: '198.18.0.5' }), r.port, r.address), 50);
  });
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 1000, udpSockets: 1 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await srv.close();
  });
  const res = await up.exchange(query('Name.Example'), { name: 'name.example', qtype: 1, qclass: 1, id: 5 });
  t.equal(answerAddress(res.wire), '198.18.0.5');
  t.equal(up.stats.droppedUnexpected, 1, 'wrong ID');
  t.equal(up.stats.droppedMismatch, 6, 'QR=0, 2 names, type, class, QDCOUNT');
  t.equal(up.stats.droppedMalformed, 1, 'short datagram');
  t.equal(up.stats.received, 9);
});

t.test('name case may differ in the reply', async (t) => {
  const srv = await udpServer((m, r, s) => s.send(reply(m, { name: 'nAME.eXAMPLE', address: '198.18.0.6' }), r.port, r.address));
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 1000 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await srv.close();
  });
  const res = await up.exchange(query('Name.Example'), { name: 'name.example', qtype: 1, qclass: 1, id: 5 });
  t.equal(answerAddress(res.wire), '198.18.0.6');
  t.equal(up.stats.droppedMismatch, 0);
});
