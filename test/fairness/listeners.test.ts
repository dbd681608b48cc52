// The listeners with a shared SourceBudget, on loopback (127.0.0.1 floods, 127.0.0.2 is the
// other source): UDP over the rate dropped unread (audit mode: no kernel meter), a source's
// share of the pending pool and of the TCP connections, TCP over the rate slowed, not lost.
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import pino from 'pino';
import { UdpListener } from '../../lib/server/udp';
import { TcpListener } from '../../lib/server/tcp';
import { SourceBudget } from '../../lib/fairness/budget';
import { frame, handler, query } from '../server/listener-helpers';

const log = pino({ level: 'silent' });
const EP = { host: '127.0.0.1', port: 0, family: 4 as const };

async function udpClient(address: string) {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  const replies: Buffer[] = [];
  s.on('message', (m) => replies.push(m));
  return { s, replies };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('UDP without a kernel meter: over the rate dropped unread; another source answered', async (t) => {
  const budget = new SourceBudget({ sourceQueriesPerSecond: 50, maxPendingQueries: 20000, tcpMaxConnections: 1000 }, log);
  const u = new UdpListener(EP, () => handler().h, 20000, log, { budget, meter: true });
  const port = await u.listen();
  const a = await udpClient('127.0.0.1');
  const b = await udpClient('127.0.0.2');
  t.teardown(async () => {
    a.s.close();
    b.s.close();
    budget.close();
    await u.close();
  });
  const t0 = Date.now();
  for (let i = 0; i < 500; i++) {
    a.s.send(query(i), port, '127.0.0.1');
    if (i % 50 === 49) await settle(1);
  }
  await settle(300);
  const ms = Date.now() - t0;
  t.ok(a.replies.length >= 100 && a.replies.length <= 100 + Math.ceil((50 * ms) / 1000) + 2, `${a.replies.length} of 500 answered in ${ms} ms (burst 100 + 50/s)`);
  t.equal(budget.stats.rateDropped, u.stats.dropped, 'every drop counted as over the rate');
  t.ok(u.stats.received - u.stats.dropped === a.replies.length, 'the rest were answered');
  b.s.send(query(1), port, '127.0.0.1');
  await settle(100);
  t.equal(b.replies.length, 1, 'the other source is answered');
});

t.test('a source holds at most 1/8 of the pending pool; the excess gets SERVFAIL at once', async (t) => {
  const budget = new SourceBudget({ sourceQueriesPerSecond: 0, maxPendingQueries: 16, tcpMaxConnections: 1000 }, log);
  const hd = handler(true);
  const u = new UdpListener(EP, () => hd.h, 16, log, { budget, meter: false });
  const port = await u.listen();
  const a = await udpClient('127.0.0.1');
  const b = await udpClient('127.0.0.2');
  t.teardown(async () => {
    a.s.close();
    b.s.close();
    budget.close();
    hd.release();
    await u.close();
  });
  for (let i = 0; i < 5; i++) a.s.send(query(i), port, '127.0.0.1');
  await settle(150);
  t.equal(a.replies.length, 3, 'three SERVFAILs at once');
  t.ok(
    a.replies.every((r) => (r[3] & 0x0f) === 2),
    'rcode SERVFAIL',
  );
  t.equal(u.inFlight, 2, 'two held: the share of 16');
  b.s.send(query(9), port, '127.0.0.1');
  await settle(100);
  t.equal(b.replies.length, 0, 'the other source is held too (not refused)');
  t.equal(u.inFlight, 3);
  hd.release();
  await settle(100);
  t.equal(a.replies.length, 5);
  t.equal(b.replies.length, 1);
  t.same(budget.held('127.0.0.1'), { pending: 0, connections: 0 }, 'slots given back');
});

t.test('TCP: at most 1/8 of tcpMaxConnections per source', async (t) => {
  const budget = new SourceBudget({ sourceQueriesPerSecond: 0, maxPendingQueries: 20000, tcpMaxConnections: 16 }, log);
  const tl = new TcpListener(EP, () => handler().h, { idleTimeoutMs: 5000, maxConnections: 16, budget }, log);
  const port = await tl.listen();
  t.teardown(async () => {
    budget.close();
    await tl.close();
  });
  const open = (local: string) =>
    new Promise<{ s: net.Socket; closedEarly: boolean }>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress: local });
      s.on('error', () => undefined);
      let closedEarly = false;
      s.on('close', () => {
        closedEarly = true;
      });
      s.on('connect', () =>
        setTimeout(
          () =>
            resolve({
              s,
              get closedEarly() {
                return closedEarly;
              },
            }),
          150,
        ),
      );
    });
  const conns: { s: net.Socket; closedEarly: boolean }[] = [];
  for (let i = 0; i < 4; i++) conns.push(await open('127.0.0.1'));
  const other = await open('127.0.0.2');
  t.teardown(() => [...conns, other].forEach((c) => c.s.destroy()));
  t.same(
    conns.map((c) => c.closedEarly),
    [false, false, true, true],
    'the third and fourth closed at once',
  );
  t.notOk(other.closedEarly, 'another source connects');
  t.equal(budget.stats.connectionsRejected, 2);
});

t.test('TCP over the rate: reading pauses, every pipelined query is answered, none lost', async (t) => {
  const budget = new SourceBudget({ sourceQueriesPerSecond: 100, maxPendingQueries: 20000, tcpMaxConnections: 1000 }, log);
  const tl = new TcpListener(EP, () => handler().h, { idleTimeoutMs: 10_000, maxConnections: 100, budget }, log);
  const port = await tl.listen();
  t.teardown(async () => {
    budget.close();
    await tl.close();
  });
  const N = 300;
  const frames = Buffer.concat(Array.from({ length: N }, (_, i) => frame(i)));
  const t0 = Date.now();
  const got = await new Promise<number>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(frames));
    let buf = Buffer.alloc(0);
    let n = 0;
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        n++;
      }
      if (n === N) {
        s.destroy();
        resolve(n);
      }
    });
    setTimeout(() => {
      s.destroy();
      resolve(n);
    }, 8000);
  });
  const ms = Date.now() - t0;
  t.equal(got, N, 'all answered');
  t.ok(ms >= ((N - 200) * 1000) / 100 - 100, `took ${ms} ms: burst 200, then 100/s`);
  t.ok(budget.stats.ratePaused > 0, `${budget.stats.ratePaused} pauses`);
});
