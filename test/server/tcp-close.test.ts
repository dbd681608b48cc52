// TcpListener.close() (a daemon stopping, e.g. replaced by hold-sockets): connections already
// accepted keep being read and answered until each is idle; none is cut while its query is on
// the way. Loopback only; needs no root.
import t from 'tap';
import net from 'node:net';
import pino from 'pino';
import { TcpListener } from '../../lib/server/tcp';
import { frame, handler } from './listener-helpers';
import type { Handler } from '../../lib/plugins/types';

const log = pino({ level: 'silent' });
const EP = { host: '127.0.0.1', port: 0, family: 4 as const };

/** A client connection: the answer IDs it read, whether the server ended it (FIN) or reset it. */
function client(port: number) {
  const s = net.connect({ port, host: '127.0.0.1' });
  const st = { ids: [] as number[], ended: false, error: '', connected: new Promise<void>((r) => s.once('connect', () => r())) };
  let buf = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      st.ids.push(buf.readUInt16BE(2));
      buf = buf.subarray(2 + buf.readUInt16BE(0));
    }
  });
  s.on('end', () => {
    st.ended = true;
  });
  s.on('error', (e) => {
    st.error = e.message;
  });
  return { s, st };
}

/** A listener answering through `h`, listening on a loopback port. */
async function listening(h: Handler): Promise<{ tl: TcpListener; port: number }> {
  const tl = new TcpListener(EP, () => h, { idleTimeoutMs: 10_000, maxConnections: 100 }, log);
  return { tl, port: await tl.listen() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
  return cond();
};

t.test('a query sent just after close() began, on a connection accepted before, is answered', async (t) => {
  const { tl, port } = await listening(handler(false).h);
  const c = client(port);
  await c.st.connected;
  await sleep(30); // the server has accepted it
  const t0 = Date.now();
  const closing = tl.close(2000);
  await sleep(30);
  c.s.write(frame(0x1234));
  t.ok(await until(() => c.st.ids.length === 1, 1000), 'answered');
  t.same(c.st.ids, [0x1234]);
  t.ok(await until(() => c.st.ended, 1000), 'then ended by the server (FIN)');
  t.equal(c.st.error, '', 'never reset');
  await closing;
  t.ok(Date.now() - t0 < 1000, `close() did not wait for its timeout (${Date.now() - t0} ms)`);
  c.s.destroy();
});

t.test('queries in flight when close() begins are answered before their connection ends', async (t) => {
  const hd = handler(true);
  const { tl, port } = await listening(hd.h);
  const c = client(port);
  await c.st.connected;
  c.s.write(Buffer.concat([frame(1), frame(2), frame(3)]));
  await sleep(50);
  const closing = tl.close(2000);
  await sleep(150);
  t.notOk(c.st.ended, 'not ended while its queries are in flight');
  hd.release();
  t.ok(await until(() => c.st.ids.length === 3, 1000), 'all three answered');
  t.same([...c.st.ids].sort(), [1, 2, 3]);
  t.ok(await until(() => c.st.ended, 1000), 'then ended');
  t.equal(c.st.error, '');
  await closing;
  c.s.destroy();
});

t.test('idle connections are ended soon, not held until the timeout; a silent one is not kept forever', async (t) => {
  const { tl, port } = await listening(handler(false).h);
  const a = client(port);
  const b = client(port);
  await Promise.all([a.st.connected, b.st.connected]);
  a.s.write(frame(7));
  t.ok(await until(() => a.st.ids.length === 1, 1000));
  await sleep(50);
  const t0 = Date.now();
  await tl.close(5000);
  const ms = Date.now() - t0;
  t.ok(await until(() => a.st.ended && b.st.ended, 1000), 'both ended');
  t.ok(ms < 1000, `close() took ${ms} ms of its 5000`);
  t.equal(a.st.error + b.st.error, '');
  a.s.destroy();
  b.s.destroy();
});

t.test('a connection still busy at the timeout is ended then', async (t) => {
  const hd = handler(true);
  const { tl, port } = await listening(hd.h);
  const c = client(port);
  await c.st.connected;
  c.s.write(frame(9));
  await sleep(50);
  const t0 = Date.now();
  await tl.close(300);
  const ms = Date.now() - t0;
  t.ok(ms >= 290 && ms < 1500, `close() returned at its timeout (${ms} ms)`);
  t.ok(await until(() => c.st.ended || c.st.error !== '', 1000), 'the connection is closed');
  hd.release();
  c.s.destroy();
});
