// Test upstreams on loopback, port 0: plain dgram/net servers that record what they received and
// answer through a handler the test writes. Replies are built with dns-packet.
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';
import type { Endpoint, Family } from '../../lib/config/types';

export const RCODE_SERVFAIL = 2;
export const RCODE_REFUSED = 5;

export interface UdpServer {
  endpoint: Endpoint;
  socket: dgram.Socket;
  received: Buffer[];
  close(): Promise<void>;
}

export type UdpHandler = (msg: Buffer, rinfo: dgram.RemoteInfo, socket: dgram.Socket) => void;

export async function udpServer(handler: UdpHandler | null, family: Family = 4, port = 0): Promise<UdpServer> {
  const host = family === 6 ? '::1' : '127.0.0.1';
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
  const received: Buffer[] = [];
  socket.on('message', (msg, rinfo) => {
    received.push(Buffer.from(msg));
    handler?.(msg, rinfo, socket);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  return {
    endpoint: { host, port: socket.address().port, family },
    socket,
    received,
    close: () => new Promise((r) => socket.close(() => r())),
  };
}

export interface TcpServer {
  endpoint: Endpoint;
  received: Buffer[];
  close(): Promise<void>;
}

/** A TCP server that reads length-framed queries and calls `handler(query, socket)` for each. */
export async function tcpServer(handler: (query: Buffer, socket: net.Socket) => void, family: Family = 4, port = 0): Promise<TcpServer> {
  const host = family === 6 ? '::1' : '127.0.0.1';
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + q.length);
        received.push(Buffer.from(q));
        handler(Buffer.from(q), s);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    endpoint: { host, port: addr.port, family },
    received,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** UDP and TCP servers on the same port (as a real resolver has); retries a few ports if taken. */
export async function udpTcpServer(udp: UdpHandler, tcp: (q: Buffer, s: net.Socket) => void): Promise<{ u: UdpServer; t: TcpServer }> {
  for (let i = 0; i < 20; i++) {
    const t = await tcpServer(tcp);
    try {
      const u = await udpServer(udp, 4, t.endpoint.port);
      return { u, t };
    } catch {
      await t.close();
    }
  }
  throw new Error('no port free for both UDP and TCP');
}

export function query(name: string, type: packet.RecordType = 'A', id = 0x1234, edns = true): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: edns
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            flags: packet.DNSSEC_OK,
            options: [
              { code: 10, data: Buffer.from('0123456789abcdef', 'hex') }, // COOKIE
              { code: 12, data: Buffer.alloc(17) }, // PADDING
            ],
          } as packet.Answer,
        ]
      : [],
  });
}

/** A reply to `q` (its ID and question as received) with one A record. */
export function reply(q: Buffer, o: { address?: string; rcode?: number; tc?: boolean; id?: number; name?: string; qr?: boolean; type?: packet.RecordType } = {}): Buffer {
  const d = packet.decode(q);
  const question = { ...d.questions![0] };
  if (o.name !== undefined) question.name = o.name;
  if (o.type !== undefined) question.type = o.type;
  const buf = packet.encode({
    type: 'response',
    id: o.id ?? d.id,
    flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (o.tc ? packet.TRUNCATED_RESPONSE : 0) | (o.rcode ?? 0),
    questions: [question],
    answers: o.address ? [{ type: 'A', name: question.name, ttl: 60, data: o.address }] : [],
  });
  if (o.qr === false) buf.writeUInt16BE(buf.readUInt16BE(2) & 0x7fff, 2);
  return buf;
}

export function answerAddress(wire: Buffer): string | undefined {
  const a = packet.decode(wire).answers?.find((x) => x.type === 'A');
  return a ? String((a as { data: unknown }).data) : undefined;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function ipv6Available(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp6');
    s.once('error', () => resolve(false));
    s.bind(0, '::1', () => s.close(() => resolve(true)));
  });
}
