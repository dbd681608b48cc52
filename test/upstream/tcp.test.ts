// TCP exchanges: framing across many small chunks, and every way a TCP upstream can fail.
import net from 'node:net';
import t from 'tap';
import { Upstreams } from '../../lib/upstream/upstreams';
import { answerAddress, query, reply, sleep, tcpServer } from './helpers';

const Q = { name: 'a.example', qtype: 1, qclass: 1, id: 4242 };

function framed(r: Buffer): Buffer {
  const f = Buffer.alloc(2 + r.length);
  f.writeUInt16BE(r.length);
  r.copy(f, 2);
  return f;
}

async function withServer(t: { teardown(fn: () => unknown): void }, handler: (q: Buffer, s: net.Socket) => void, timeoutMs = 500): Promise<{ up: Upstreams; received: Buffer[] }> {
  const srv = await tcpServer(handler);
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs });
  await up.start();
  t.teardown(async () => {
    await up.close();
    await srv.close();
  });
  return { up, received: srv.received };
}

t.test('reply written one byte at a time', async (t) => {
  const { up, received } = await withServer(t, (q, s) => {
    s.setNoDelay(true);
    const f = framed(reply(q, { address: '198.18.2.1' }));
    let i = 0;
    const next = () => {
      if (i >= f.length || s.destroyed) return;
      s.write(f.subarray(i, ++i));
      setTimeout(next, 1);
    };
    next();
  });
  const q = query('a.example');
  const res = await up.exchange(q, Q, { tcp: true });
  t.equal(res.transport, 'tcp');
  t.equal(answerAddress(res.wire), '198.18.2.1');
  t.equal(res.wire.readUInt16BE(0), Q.id);
  t.same(received[0].subarray(2), q.subarray(2), 'query bytes unchanged except the ID');
});

t.test('two replies in one chunk: the first is taken', async (t) => {
  const { up } = await withServer(t, (q, s) => {
    s.write(Buffer.concat([framed(reply(q, { address: '198.18.2.2' })), framed(reply(q, { address: '203.0.113.9' }))]));
  });
  const res = await up.exchange(query('a.example'), Q, { tcp: true });
  t.equal(answerAddress(res.wire), '198.18.2.2');
});

const failures: [string, (q: Buffer, s: net.Socket) => void, string][] = [
  ['length shorter than a header', (_q, s) => s.write(Buffer.from([0, 5, 1, 2, 3, 4, 5])), 'BAD_REPLY'],
  ['wrong ID', (q, s) => s.write(framed(reply(q, { id: (q.readUInt16BE(0) + 1) & 0xffff }))), 'BAD_REPLY'],
  ['wrong question', (q, s) => s.write(framed(reply(q, { name: 'b.example' }))), 'BAD_REPLY'],
  ['QR=0', (q, s) => s.write(framed(reply(q, { qr: false }))), 'BAD_REPLY'],
  ['garbage then close', (_q, s) => s.end(Buffer.from([0xff, 0xff, 1, 2, 3])), 'TCP_FAILED'],
  ['closed without reply', (_q, s) => s.end(), 'TCP_FAILED'],
  ['reset', (_q, s) => s.resetAndDestroy(), 'TCP_FAILED'],
  ['silent', () => {}, 'TIMEOUT'],
];
for (const [label, handler, code] of failures) {
  t.test(`${label} -> ${code}`, async (t) => {
    const { up } = await withServer(t, handler, 200);
    const err = await up.exchange(query('a.example'), Q, { tcp: true }).catch((e) => e);
    t.equal(err.code, code === 'TIMEOUT' ? 'TIMEOUT' : 'ALL_FAILED', 'exchange code');
    t.equal(err.attempts[0].code, code, `attempt code (${err.attempts[0].message})`);
    t.equal(err.attempts[0].transport, 'tcp');
  });
}

t.test('connection refused -> TCP_FAILED', async (t) => {
  const srv = await tcpServer(() => {});
  await srv.close(); // the port is now (almost certainly) closed
  const up = new Upstreams({ servers: [srv.endpoint], timeoutMs: 500 });
  await up.start();
  t.teardown(() => up.close());
  const err = await up.exchange(query('a.example'), Q, { tcp: true }).catch((e) => e);
  t.equal(err.attempts[0].code, 'TCP_FAILED');
  t.match(err.attempts[0].message, /ECONNREFUSED/);
  await sleep(10);
});
