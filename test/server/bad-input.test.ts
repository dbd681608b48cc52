// Thousands of random and mutated packets, garbage on TCP: no crash, then normal service.
// No fixed sleeps decide an outcome: a reply is awaited (a later sentinel's reply shows that
// nothing came for a dropped packet), the flood is paced by the listener's own count, and a
// closed connection is one the server closed. Seeded: DW_FUZZ_SEED (or FUZZ_SEED) replays.
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { startForwarder, POLICY } from './harness';
import { dnsQuery, type DnsOk } from '../../lib/sandbox/agent-dns';

import { prng, testSeed } from '../prng';

const SEED = testSeed(42, 'DW_FUZZ_SEED');

/** Polls `cond` every 5 ms; fails the wait after `deadlineMs` (a bound on waiting, not on the behaviour). */
async function until(cond: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('hostile input', async (t) => {
  const f = await startForwarder(POLICY);
  t.teardown(() => f.close());
  const rnd = prng(SEED);
  const good = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.example.com' }] });

  t.test('specific cases get FORMERR, NOTIMP or silence', async (t) => {
    const sock = dgram.createSocket('udp4');
    t.teardown(() => sock.close());
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    // Every datagram is decided in arrival order and error replies go out at once, so the replies
    // that come before the sentinel's (qdcount 0: always FORMERR) are all that `b` got.
    const sentinel = Buffer.from(good.subarray(0, 12));
    sentinel.writeUInt16BE(0xbeef, 0);
    sentinel.writeUInt16BE(0, 4);
    const send = async (b: Buffer) => {
      replies.length = 0;
      sock.send(b, f.port, '127.0.0.1');
      sock.send(sentinel, f.port, '127.0.0.1');
      await until(() => replies.some((r) => r.readUInt16BE(0) === 0xbeef), 10_000, "the sentinel's reply");
      return replies.slice(
        0,
        replies.findIndex((r) => r.readUInt16BE(0) === 0xbeef),
      );
    };
    t.equal((await send(Buffer.from([1, 2, 3]))).length, 0, 'shorter than a header: dropped');
    const response = Buffer.from(good);
    response[2] |= 0x80;
    t.equal((await send(response)).length, 0, 'QR=1: dropped (no reflection)');
    const two = Buffer.from(good);
    two.writeUInt16BE(2, 4);
    const r2 = await send(two);
    t.equal(r2.length, 1);
    t.equal(r2[0][3] & 0x0f, 1, 'qdcount 2: FORMERR');
    const zero = Buffer.from(good.subarray(0, 12));
    zero.writeUInt16BE(0, 4);
    t.equal((await send(zero))[0][3] & 0x0f, 1, 'qdcount 0: FORMERR');
    const notify = Buffer.from(good);
    notify[2] = (notify[2] & 0x87) | (4 << 3);
    t.equal((await send(notify))[0][3] & 0x0f, 4, 'opcode NOTIFY: NOTIMP');
    t.equal(f.upstreamQueries.filter((q) => q.q !== 'api.example.com').length, 0);
  });

  t.test(`5000 random and mutated datagrams (seed ${SEED})`, async (t) => {
    const sock = dgram.createSocket('udp4');
    t.teardown(() => sock.close());
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    sock.on('message', () => undefined);
    const base = f.udp.stats.received;
    for (let i = 0; i < 5000; i++) {
      let b: Buffer;
      if (i % 2 === 0) {
        b = Buffer.alloc(Math.floor(rnd() * 300));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
      } else {
        b = Buffer.from(good);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        if (rnd() < 0.2) b = b.subarray(0, Math.floor(rnd() * b.length));
      }
      sock.send(b, f.port, '127.0.0.1');
      // 100 datagrams at a time, each batch read before the next: the socket buffers never
      // overflow, so every datagram reaches the listener, however slow the machine is
      if ((i + 1) % 100 === 0) await until(() => f.udp.stats.received - base >= i + 1, 10_000, `datagram ${i + 1} to be read (seed ${SEED})`);
    }
    t.equal(f.udp.stats.received - base, 5000, `seed ${SEED}: every datagram read`);
    const r = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'api.example.com', timeoutMs: 3000 })) as DnsOk;
    t.equal(r.rcode, 'NOERROR', 'normal service after the flood');
  });

  t.test('garbage and bad frames on TCP close that connection only', async (t) => {
    const garbage = async (payload: Buffer) => {
      const s = net.connect(f.port, '127.0.0.1');
      const c = { s, closed: false };
      s.on('error', () => undefined);
      s.on('close', () => {
        c.closed = true;
      });
      t.teardown(() => s.destroy());
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(payload);
      return c;
    };
    const short = await garbage(Buffer.from([0, 3, 1, 2, 3])); // frame shorter than a header
    await until(() => short.closed, 10_000, "the server to close the bad frame's connection");
    t.ok(short.closed, 'a frame shorter than a header: the server closes the connection');
    const junk = Buffer.alloc(4000);
    for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rnd() * 256);
    const noise = await garbage(junk);
    const stalled = await garbage(Buffer.from([0xff, 0xff, 0, 0])); // promises 65535 bytes, sends 2
    // While those two are open (or closed by the server; the stalled one only by idle time),
    // another connection is answered.
    const r = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'api.example.com', tcp: true, timeoutMs: 3000 })) as DnsOk;
    t.equal(r.rcode, 'NOERROR', `seed ${SEED}: answered beside the garbage connections`);
    noise.s.destroy();
    stalled.s.destroy();
  });

  t.test('pipelined TCP queries each get their answer', async (t) => {
    const s = net.connect(f.port, '127.0.0.1');
    t.teardown(() => s.destroy());
    await new Promise<void>((r) => s.once('connect', () => r()));
    const frames: Buffer[] = [];
    for (let id = 1; id <= 20; id++) {
      const m = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: id % 2 ? 'api.example.com' : 'evil.example.org' }] });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(m.length);
      frames.push(len, m);
    }
    s.write(Buffer.concat(frames));
    const got = new Map<number, number>();
    let buf = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.size} answers`)), 3000);
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const p = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          got.set(p.id!, (p.flags ?? 0) & 0x0f);
        }
        if (got.size === 20) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    for (let id = 1; id <= 20; id++) t.equal(got.get(id), id % 2 ? 0 : 3, `id ${id}`);
  });
});
