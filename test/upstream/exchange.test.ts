// Basic exchange: the server gets the client's bytes unchanged except the ID (EDNS options, DO,
// name case), the reply comes back byte for byte with the client's ID, and the caller's buffer
// is not touched.
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { answerAddress, query, reply, udpServer } from './helpers';
import { parseQuery } from '../../lib/dns/query';

t.test('query bytes forwarded unchanged except the ID; reply ID restored', async (t) => {
  const sent: Buffer[] = [];
  const srv = await udpServer((msg, rinfo, sock) => {
    const r = reply(msg, { address: '198.18.0.7' });
    sent.push(Buffer.from(r));
    sock.send(r, rinfo.port, rinfo.address);
  });
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 1000 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await srv.close();
  });

  const ids = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const clientId = 0x1234;
    const q = query('WwW.ExAmple.COM', 'A', clientId);
    const before = Buffer.from(q);
    const t0 = performance.now();
    const res = await up.exchange(q, { name: 'www.example.com', qtype: 1, qclass: 1, id: clientId });
    const around = performance.now() - t0;
    const got = srv.received[i];
    t.equal(got.length, q.length, 'same length');
    t.same(got.subarray(2), q.subarray(2), 'bytes after the ID identical (name case, EDNS COOKIE/PADDING, DO)');
    ids.add(got.readUInt16BE(0));
    t.same(q, before, 'caller buffer not mutated');
    t.equal(res.wire.readUInt16BE(0), clientId, 'reply carries the client ID');
    t.same(res.wire.subarray(2), sent[i].subarray(2), 'reply bytes relayed unchanged');
    t.equal(answerAddress(res.wire), '198.18.0.7');
    t.equal(res.transport, 'udp');
    t.same(res.server, srv.endpoint);
    t.ok(res.ms >= 0 && res.ms <= around, `ms measured (${res.ms.toFixed(2)} of the ${around.toFixed(2)} ms around the call)`);
  }
  // 20 random IDs all equal to one value: probability 2^-304. Shows the ID is rewritten randomly.
  t.ok(ids.size > 1, `upstream saw ${ids.size} distinct IDs`);
  t.equal(up.stats.sent, 20);
  t.equal(up.stats.accepted, 20);
  t.equal(up.pending, 0);
});

t.test('bad queries are refused before anything is sent', async (t) => {
  const srv = await udpServer(null);
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 200 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await srv.close();
  });
  const q = { name: 'a.example', qtype: 1, qclass: 1, id: 1 };
  await t.rejects(up.exchange(Buffer.alloc(5), q), { code: 'BAD_QUERY' });
  await t.rejects(up.exchange(reply(query('a.example')), q), { code: 'BAD_QUERY' }, 'a response');
  await t.rejects(up.exchange(query('a.example', 'AAAA'), q), { code: 'BAD_QUERY' }, 'qtype differs');
  await t.rejects(up.exchange(query('b.example'), q), { code: 'BAD_QUERY' }, 'name differs');
  const ptr = Buffer.from(query('a.example'));
  ptr[12] = 0xc0; // compression pointer in the question
  await t.rejects(up.exchange(ptr, q), { code: 'BAD_QUERY' });
  // questionEnd (the caller parsed the bytes): still a query, and the offset within it
  const good = query('a.example');
  for (const questionEnd of [good.length + 1, 12, 16.5, -1]) {
    await t.rejects(up.exchange(good, { ...q, questionEnd }), { code: 'BAD_QUERY' }, `questionEnd ${questionEnd}`);
  }
  await t.rejects(up.exchange(reply(good), { ...q, questionEnd: good.length }), { code: 'BAD_QUERY' }, 'a response, questionEnd given');
  t.equal(srv.received.length, 0, 'nothing forwarded');
});

t.test('questionEnd given: the question is not read again, and the reply is still checked against it', async (t) => {
  const srv = await udpServer((msg, rinfo, sock) => sock.send(reply(msg), rinfo.port, rinfo.address));
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 500 });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await srv.close();
  });
  const wire = query('a.example');
  const parsed = parseQuery(wire); // what the chain hands over: its Query, questionEnd included
  t.ok(parsed.questionEnd < wire.length, 'the query carries more than its question (EDNS)');
  const res = await up.exchange(wire, { ...parsed, id: 77 });
  t.equal(res.wire.readUInt16BE(0), 77);
  t.equal(srv.received.length, 1);
});

t.test('not started / bad options', async (t) => {
  const ep = { host: '127.0.0.1', port: 9, family: 4 as const };
  t.throws(() => new Upstreams({ servers: [], timeoutMs: 100 }), { code: 'BAD_OPTIONS' });
  t.throws(() => new Upstreams({ servers: [ep], timeoutMs: 0 }), { code: 'BAD_OPTIONS' });
  const up = new Upstreams({ servers: [ep], timeoutMs: 100 });
  await t.rejects(up.exchange(query('a.example'), { name: 'a.example', qtype: 1, qclass: 1, id: 1 }), { code: 'CLOSED' });
});
