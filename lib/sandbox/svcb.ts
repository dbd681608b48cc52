// SVCB/HTTPS RDATA (RFC 9460 §2.2) codec: dns-packet 5.6 and dns2 know neither type, so the
// zone server encodes them itself and the agent decodes them.

import ipaddr from 'ipaddr.js';

export const TYPE_SVCB = 64;
export const TYPE_HTTPS = 65;

/** SvcParamKey registry (RFC 9460 §14.3.2). */
const KEY = { mandatory: 0, alpn: 1, 'no-default-alpn': 2, port: 3, ipv4hint: 4, ech: 5, ipv6hint: 6 } as const;
const KEY_NAME: Record<number, string> = Object.fromEntries(Object.entries(KEY).map(([k, v]) => [v, k]));

export interface SvcbData {
  priority: number;
  /** "." for the owner name itself. */
  target: string;
  mandatory?: string[];
  alpn?: string[];
  noDefaultAlpn?: boolean;
  port?: number;
  ipv4hint?: string[];
  ipv6hint?: string[];
  /** base64 ECHConfigList */
  ech?: string;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function encodeName(name: string): Buffer {
  const n = name.replace(/\.$/, '');
  if (n === '') return Buffer.from([0]);
  const parts = n.split('.').map((l) => {
    const b = Buffer.from(l, 'ascii');
    if (b.length < 1 || b.length > 63) throw new Error(`svcb: bad label "${l}" in target "${name}"`);
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  const out = Buffer.concat([...parts, Buffer.from([0])]);
  if (out.length > 255) throw new Error(`svcb: target "${name}" is longer than 255 bytes`);
  return out;
}

function keyNumber(k: string): number {
  if (k in KEY) return KEY[k as keyof typeof KEY];
  const m = /^key(\d{1,5})$/.exec(k);
  if (m && Number(m[1]) <= 65535) return Number(m[1]);
  throw new Error(`svcb: unknown SvcParamKey "${k}"`);
}

function addrs(list: string[], kind: 'ipv4' | 'ipv6', key: string): Buffer {
  if (list.length === 0) throw new Error(`svcb: ${key} must not be empty`);
  return Buffer.concat(
    list.map((a) => {
      if (!ipaddr.isValid(a) || ipaddr.parse(a).kind() !== kind) throw new Error(`svcb: ${key} "${a}" is not an ${kind} address`);
      return Buffer.from(ipaddr.parse(a).toByteArray());
    }),
  );
}

export function encodeSvcb(d: SvcbData): Buffer {
  if (!Number.isInteger(d.priority) || d.priority < 0 || d.priority > 65535) throw new Error(`svcb: priority ${d.priority} is not 0..65535`);
  const params: [number, Buffer][] = [];
  if (d.mandatory) params.push([KEY.mandatory, Buffer.concat(d.mandatory.map((k) => u16(keyNumber(k))))]);
  if (d.alpn)
    params.push([
      KEY.alpn,
      Buffer.concat(
        d.alpn.map((a) => {
          const b = Buffer.from(a);
          if (b.length < 1 || b.length > 255) throw new Error(`svcb: alpn id "${a}" must be 1..255 bytes`);
          return Buffer.concat([Buffer.from([b.length]), b]);
        }),
      ),
    ]);
  if (d.noDefaultAlpn) params.push([KEY['no-default-alpn'], Buffer.alloc(0)]);
  if (d.port !== undefined) {
    if (!Number.isInteger(d.port) || d.port < 0 || d.port > 65535) throw new Error(`svcb: port ${d.port} is not 0..65535`);
    params.push([KEY.port, u16(d.port)]);
  }
  if (d.ipv4hint) params.push([KEY.ipv4hint, addrs(d.ipv4hint, 'ipv4', 'ipv4hint')]);
  if (d.ech) params.push([KEY.ech, Buffer.from(d.ech, 'base64')]);
  if (d.ipv6hint) params.push([KEY.ipv6hint, addrs(d.ipv6hint, 'ipv6', 'ipv6hint')]);
  params.sort((a, b) => a[0] - b[0]); // §2.2: keys in strictly increasing order
  return Buffer.concat([u16(d.priority), encodeName(d.target), ...params.flatMap(([k, v]) => [u16(k), u16(v.length), v])]);
}

/** Decode RDATA; throws an Error naming what is malformed. */
export function decodeSvcb(buf: Buffer): SvcbData {
  if (buf.length < 3) throw new Error('svcb: RDATA shorter than priority and target');
  const priority = buf.readUInt16BE(0);
  let off = 2;
  const labels: string[] = [];
  for (;;) {
    if (off >= buf.length) throw new Error('svcb: target name runs past RDATA');
    const len = buf[off++];
    if (len === 0) break;
    if (len > 63) throw new Error('svcb: compressed or bad label in target (RFC 9460 forbids compression)');
    if (off + len > buf.length) throw new Error('svcb: target label runs past RDATA');
    labels.push(buf.toString('ascii', off, off + len));
    off += len;
  }
  const d: SvcbData = { priority, target: labels.length ? labels.join('.') : '.' };
  let last = -1;
  while (off < buf.length) {
    if (off + 4 > buf.length) throw new Error('svcb: SvcParam header runs past RDATA');
    const key = buf.readUInt16BE(off),
      len = buf.readUInt16BE(off + 2);
    off += 4;
    if (key <= last) throw new Error(`svcb: SvcParamKey ${key} out of order`);
    last = key;
    if (off + len > buf.length) throw new Error(`svcb: value of key ${key} runs past RDATA`);
    const v = buf.subarray(off, off + len);
    off += len;
    decodeParam(d, key, v);
  }
  return d;
}

function decodeParam(d: SvcbData, key: number, v: Buffer): void {
  const fixed = (size: number) => {
    if (v.length === 0 || v.length % size !== 0) throw new Error(`svcb: ${KEY_NAME[key]} length ${v.length} is not a multiple of ${size}`);
    const out: string[] = [];
    for (let i = 0; i < v.length; i += size) out.push(ipaddr.fromByteArray([...v.subarray(i, i + size)]).toString());
    return out;
  };
  switch (key) {
    case KEY.mandatory:
      d.mandatory = [];
      for (let i = 0; i + 1 < v.length; i += 2) d.mandatory.push(KEY_NAME[v.readUInt16BE(i)] ?? `key${v.readUInt16BE(i)}`);
      return;
    case KEY.alpn: {
      d.alpn = [];
      for (let i = 0; i < v.length;) {
        const n = v[i++];
        if (n === 0 || i + n > v.length) throw new Error('svcb: bad alpn id length');
        d.alpn.push(v.toString('utf8', i, i + n));
        i += n;
      }
      return;
    }
    case KEY['no-default-alpn']:
      d.noDefaultAlpn = true;
      return;
    case KEY.port:
      if (v.length !== 2) throw new Error(`svcb: port length ${v.length} is not 2`);
      d.port = v.readUInt16BE(0);
      return;
    case KEY.ipv4hint:
      d.ipv4hint = fixed(4);
      return;
    case KEY.ech:
      d.ech = v.toString('base64');
      return;
    case KEY.ipv6hint:
      d.ipv6hint = fixed(16);
      return;
    default:
      return; // unknown keys are legal and ignored here
  }
}
