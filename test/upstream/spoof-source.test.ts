// A reply with the right ID and question but from another address or port is dropped, and the
// query keeps waiting for the real server.
import dgram from 'node:dgram';
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { answerAddress, query, reply, udpServer } from './helpers';

async function forger(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return s;
}

for (const forgedFrom of ['127.0.0.1', '127.0.0.2']) {
  t.test(`forged reply from ${forgedFrom} (other port) is ignored; the real one wins`, async (t) => {
    const evil = await forger(forgedFrom);
    const srv = await udpServer((m, r, s) => {
      // The forger knows everything (ID, port, question): only its source differs.
      evil.send(reply(m, { address: '203.0.113.66' }), r.port, r.address);
      setTimeout(() => s.send(reply(m, { address: '198.18.0.1' }), r.port, r.address), 50);
    });
    const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 1000 });
    await up.start();
    t.teardown(async () => {
      await up.close();
      await srv.close();
      await new Promise<void>((r) => evil.close(() => r()));
    });
    const res = await up.exchange(query('bank.example'), { name: 'bank.example', qtype: 1, qclass: 1, id: 5 });
    t.equal(answerAddress(res.wire), '198.18.0.1', 'the real answer');
    t.equal(up.stats.droppedSource, 1, 'forged one counted');
    t.equal(up.stats.accepted, 1);
  });
}

t.test('a reply from server A to a query sent to server B is dropped', async (t) => {
  let lastQuery: Buffer | undefined;
  let to: dgram.RemoteInfo | undefined;
  const b = await udpServer((m, r) => {
    lastQuery = m;
    to = r;
  });
  const a = await udpServer(null);
  const up = new Upstreams({ servers: [b.endpoint], timeoutMs: 300 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await a.close();
    await b.close();
  });
  const p = up.exchange(query('x.example'), { name: 'x.example', qtype: 1, qclass: 1, id: 5 });
  for (let i = 0; i < 50 && !lastQuery; i++) await new Promise((r) => setTimeout(r, 5));
  a.socket.send(reply(lastQuery!, { address: '203.0.113.1' }), to!.port, to!.address);
  await t.rejects(p, { code: 'TIMEOUT' }, 'nothing acceptable arrived');
  t.equal(up.stats.droppedSource, 1);
});
