// TcpListener.close() (a daemon stopping, e.g. replaced by hold-sockets): connections already
// accepted keep being read and answered until each is idle; none is cut while its query is on
// the way. Loopback only; needs no root.
import t from 'tap';
import net from 'node:net';
import pino from 'pino';
import * as dnsPacket from 'dns-packet';
import { TcpListener } from '../../lib/server/tcp';
import type { Handler, Request, Response } from '../../lib/plugins/types';

const log = pino({ level: 'silent' });
const EP = { host: '127.0.0.1', port: 0, family: 4 as const };

function frame(id: number): Buffer {
  const q = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.example.com' }] });
  const len = Buffer.alloc(2);
  len.writeUInt16BE(q.length);
  return Buffer.concat([len, q]);
}

/** Answers NOERROR (QR set) at once, or holds every request until release(). */
function handler(held: boolean) {
  const waiting: (() => void)[] = [];
  const h: Handler = (req: Request) => {
    const reply = (): Response => {
      const wire = Buffer.from(req.wire);
      wire[2] |= 0x80;
      return { wire, rcode: 0, origin: 'synthesized' };
    };
    if (!held) return Promise.resolve(reply());
    return new Promise((resolve) => waiting.push(() => resolve(reply())));
  };
  return { h, release: () => waiting.splice(0).forEach((f) => f()) };
}

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

const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return cond();
};

t.test('a query sent just after close() began, on a connection accepted before, is answered', async (t) => {
  const tl = new TcpListener(EP, () => handler(false).h, { idleTimeoutMs: 10_000, maxConnections: 100 }, log);
  const port = await tl.listen();
  const c = client(port);
  await c.st.connected;
  await until(() => false, 30); // the server has accepted it
  const t0 = Date.now();
  const closing = tl.close(2000);
  await new Promise((r) => setTimeout(r, 30));
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
  const tl = new TcpListener(EP, () => hd.h, { idleTimeoutMs: 10_000, maxConnections: 100 }, log);
  const port = await tl.listen();
  const c = client(port);
  await c.st.connected;
  c.s.write(Buffer.concat([frame(1), frame(2), frame(3)]));
  await until(() => false, 50);
  const closing = tl.close(2000);
  await new Promise((r) => setTimeout(r, 150));
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
  const tl = new TcpListener(EP, () => handler(false).h, { idleTimeoutMs: 10_000, maxConnections: 100 }, log);
  const port = await tl.listen();
  const a = client(port);
  const b = client(port);
  await Promise.all([a.st.connected, b.st.connected]);
  a.s.write(frame(7));
  t.ok(await until(() => a.st.ids.length === 1, 1000));
  await until(() => false, 50);
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
  const tl = new TcpListener(EP, () => hd.h, { idleTimeoutMs: 10_000, maxConnections: 100 }, log);
  const port = await tl.listen();
  const c = client(port);
  await c.st.connected;
  c.s.write(frame(9));
  await until(() => false, 50);
  const t0 = Date.now();
  await tl.close(300);
  const ms = Date.now() - t0;
  t.ok(ms >= 290 && ms < 1500, `close() returned at its timeout (${ms} ms)`);
  t.ok(await until(() => c.st.ended || c.st.error !== '', 1000), 'the connection is closed');
  hd.release();
  c.s.destroy();
});
