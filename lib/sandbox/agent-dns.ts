// The agent's DNS client: one query over UDP (connected socket, so ICMP errors surface) or
// TCP (RFC 1035 §4.2.2 length framing), answers decoded for assertions.

import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as dnsPacket from 'dns-packet';
import { decodeSvcb, TYPE_HTTPS, TYPE_SVCB } from './svcb';

export interface DnsRequest {
  server: string;
  port?: number;
  name: string;
  /** "A", "AAAA", "HTTPS", "TYPE65"...; default "A" */
  type?: string;
  tcp?: boolean;
  /** add an OPT record (udp size 1232); default true */
  edns?: boolean;
  timeoutMs?: number;
  /** false: take the first reply even when its ID or question differ (to observe a bad upstream) */
  strict?: boolean;
}
export interface DnsAnswer {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}
export interface DnsOk {
  ok: true;
  rcode: string;
  tc: boolean;
  aa: boolean;
  /** the DNS message ID of the reply */ msgId: number;
  question: string;
  answers: DnsAnswer[];
  ede: { code: number; text: string }[];
  ms: number;
}
export interface OpError {
  ok: false;
  error: string;
  message?: string;
  ms: number;
}
export type DnsResult = DnsOk | OpError;

const FLAG_RD = 1 << 8;
const OPT_EDE = 15; // RFC 8914
const DEFAULT_TIMEOUT_MS = 2000;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- dns-packet/types has no typings; the cast below is its shape
const packetTypes = require('dns-packet/types') as { toString(n: number): string; toType(s: string): number };

export function typeNumber(t: string): number {
  const u = t.toUpperCase();
  if (u === 'HTTPS') return TYPE_HTTPS;
  if (u === 'SVCB') return TYPE_SVCB;
  const m = /^TYPE(\d{1,5})$/.exec(u);
  if (m && Number(m[1]) <= 65535) return Number(m[1]);
  const n = packetTypes.toType(u);
  if (!n) throw new Error(`unknown record type "${t}"`);
  return n;
}

function answerOf(a: dnsPacket.Answer): DnsAnswer {
  const r = a as { name: string; type: string; ttl?: number; data?: unknown };
  let type = r.type,
    data = r.data;
  if (type === `UNKNOWN_${TYPE_HTTPS}` || type === `UNKNOWN_${TYPE_SVCB}`) {
    type = type === `UNKNOWN_${TYPE_HTTPS}` ? 'HTTPS' : 'SVCB';
    try {
      data = decodeSvcb(data as Buffer);
    } catch (e) {
      data = { error: (e as Error).message };
    }
  } else if (type === 'TXT' && Array.isArray(data)) {
    data = (data as unknown[]).map((b) => (Buffer.isBuffer(b) ? b.toString() : b));
  } else if (Buffer.isBuffer(data)) {
    data = data.toString('hex');
  }
  return { name: r.name, type, ttl: r.ttl ?? 0, data };
}

function result(p: dnsPacket.Packet, started: number): DnsOk {
  const flags = p.flags ?? 0;
  const ede: { code: number; text: string }[] = [];
  for (const add of p.additionals ?? []) {
    if (add.type !== 'OPT') continue;
    for (const o of (add as { options?: { code: number; data?: Buffer }[] }).options ?? []) {
      if (o.code === OPT_EDE && o.data && o.data.length >= 2) ede.push({ code: o.data.readUInt16BE(0), text: o.data.subarray(2).toString() });
    }
  }
  return {
    ok: true,
    rcode: (p as { rcode?: string }).rcode ?? 'NOERROR',
    tc: (flags & (1 << 9)) !== 0,
    aa: (flags & (1 << 10)) !== 0,
    msgId: p.id ?? 0,
    question: p.questions?.[0]?.name ?? '',
    answers: (p.answers ?? []).map(answerOf),
    ede,
    ms: performance.now() - started,
  };
}

function errorOf(e: unknown, started: number): OpError {
  const err = e as NodeJS.ErrnoException;
  return { ok: false, error: err.code ?? 'EFAIL', message: err.message, ms: performance.now() - started };
}

function codeError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

export async function dnsQuery(req: DnsRequest): Promise<DnsResult> {
  const started = performance.now();
  try {
    if (!net.isIP(req.server)) throw codeError('EINVAL', `server "${req.server}" is not an IP address`);
    const qtype = typeNumber(req.type ?? 'A');
    const id = randomInt(0, 65536);
    const name = req.name.replace(/\.$/, '');
    const wire = dnsPacket.encode({
      type: 'query',
      id,
      flags: FLAG_RD,
      questions: [{ name, type: packetTypes.toString(qtype) as dnsPacket.RecordType, class: 'IN' }],
      additionals: req.edns === false ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as dnsPacket.Answer],
    });
    const matches = (p: dnsPacket.Packet) => req.strict === false || (p.id === id && p.type === 'response' && (p.questions?.[0]?.name ?? '').toLowerCase() === name.toLowerCase());
    const exchange = req.tcp ? tcpExchange : udpExchange;
    const p = await exchange(req.server, req.port ?? 53, wire, matches, req.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return result(p, started);
  } catch (e) {
    return errorOf(e, started);
  }
}

function decodeOrNull(b: Buffer): dnsPacket.Packet | null {
  try {
    return dnsPacket.decode(b);
  } catch {
    return null;
  }
}

function udpExchange(host: string, port: number, wire: Buffer, matches: (p: dnsPacket.Packet) => boolean, timeoutMs: number): Promise<dnsPacket.Packet> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const done = (err: Error | null, p?: dnsPacket.Packet) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(p!);
    };
    const timer = setTimeout(() => done(codeError('ETIMEDOUT', `no matching reply from ${host}:${port} in ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e) => done(e));
    sock.on('message', (msg) => {
      const p = decodeOrNull(msg);
      if (p && matches(p)) done(null, p); // anything else is ignored, as a stub resolver would
    });
    sock.connect(port, host, () => sock.send(wire));
  });
}

function tcpExchange(host: string, port: number, wire: Buffer, matches: (p: dnsPacket.Packet) => boolean, timeoutMs: number): Promise<dnsPacket.Packet> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, p?: dnsPacket.Packet) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(p!);
    };
    const timer = setTimeout(() => done(codeError('ETIMEDOUT', `no matching reply from tcp ${host}:${port} in ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e) => done(e));
    sock.on('end', () => done(codeError('ECONNRESET', `tcp ${host}:${port} closed before answering`)));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(wire.length);
      sock.write(Buffer.concat([len, wire]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const p = decodeOrNull(msg);
        if (p && matches(p)) return done(null, p);
      }
    });
  });
}

/** First A/AAAA address of an answer (for "query, then connect at once"). */
export function firstAddress(r: DnsOk): string | null {
  const a = r.answers.find((x) => x.type === 'A' || x.type === 'AAAA');
  return a ? String(a.data) : null;
}
