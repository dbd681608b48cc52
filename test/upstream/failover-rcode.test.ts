// SERVFAIL or REFUSED from one upstream: ask the next; from the last one: relay it.
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { RCODE_REFUSED, RCODE_SERVFAIL, answerAddress, query, reply, udpServer } from './helpers';

const Q = { name: 'a.example', qtype: 1, qclass: 1, id: 9 };

for (const [label, rcode] of [
  ['SERVFAIL', RCODE_SERVFAIL],
  ['REFUSED', RCODE_REFUSED],
] as const) {
  t.test(`${label} from the first: the second answers`, async (t) => {
    const bad = await udpServer((m, r, s) => s.send(reply(m, { rcode }), r.port, r.address));
    const good = await udpServer((m, r, s) => s.send(reply(m, { address: '198.18.0.3' }), r.port, r.address));
    const up = new Upstreams({ servers: [bad.endpoint, good.endpoint], timeoutMs: 500 });
    await up.start();
    t.teardown(async () => {
      await up.close();
      await bad.close();
      await good.close();
    });
    const res = await up.exchange(query('a.example'), Q);
    t.same(res.server, good.endpoint);
    t.equal(res.wire[3] & 0xf, 0, 'NOERROR relayed');
    t.equal(answerAddress(res.wire), '198.18.0.3');
    t.equal(up.stats.failovers, 1);
  });

  t.test(`${label} from the only/last server is relayed`, async (t) => {
    const bad = await udpServer((m, r, s) => s.send(reply(m, { rcode }), r.port, r.address));
    const up = new Upstreams({ servers: [bad.endpoint], timeoutMs: 500 });
    await up.start();
    t.teardown(async () => {
      await up.close();
      await bad.close();
    });
    const res = await up.exchange(query('a.example'), Q);
    t.equal(res.wire[3] & 0xf, rcode);
    t.equal(res.wire.readUInt16BE(0), Q.id);
  });
}

t.test('SERVFAIL from the first, silence from the second: the SERVFAIL is relayed', async (t) => {
  const bad = await udpServer((m, r, s) => s.send(reply(m, { rcode: RCODE_SERVFAIL }), r.port, r.address));
  const silent = await udpServer(null);
  const up = new Upstreams({ servers: [bad.endpoint, silent.endpoint], timeoutMs: 100 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await bad.close();
    await silent.close();
  });
  const res = await up.exchange(query('a.example'), Q);
  t.equal(res.wire[3] & 0xf, RCODE_SERVFAIL);
  t.same(res.server, bad.endpoint);
  t.equal(silent.received.length, 1, 'the second was asked');
});
