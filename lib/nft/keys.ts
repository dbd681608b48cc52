// Key layouts of dnswall's allow sets, and the element type the programmer takes. nf_tables
// concatenations round every field up to 4 bytes, zero-padded: ipv4 . ipv4 = 8 bytes,
// ipv6 . ipv6 = 32, inet_proto = 1 byte + 3 pad, inet_service = 2 bytes big-endian + 2 pad,
// cgroupsv2 = the 8-byte cgroup id in host byte order (TYPE_CGROUPV2, socket cgroupv2).
// One encoder for every layout: a source kind adds a set here and a rule in the ruleset.

export type AllowSet = 'allow4' | 'allow6' | 'allow4p' | 'allow6p' | 'cgroup4' | 'cgroup6' | 'cgroup4p' | 'cgroup6p';
/** Every set the programmer writes. The index of a set here is the first byte of its element ids (expiry.ts). */
export const ALLOW_SETS: readonly AllowSet[] = ['allow4', 'allow6', 'allow4p', 'allow6p', 'cgroup4', 'cgroup6', 'cgroup4p', 'cgroup6p'];

/** What the first key field holds: a source address (ip and pod sources) or a cgroup id. */
export type SourceField = 'ip' | 'cgroup';

export interface SetLayout {
  source: SourceField;
  /** bytes of the source field: 4 | 16 (address), 8 (cgroup id) */
  srcLen: 4 | 8 | 16;
  /** bytes of the destination address */
  addrLen: 4 | 16;
  family: 4 | 6;
  withPort: boolean;
  /** NFTA_SET_KEY_LEN the kernel reports for this set. */
  keyLen: number;
}

function layout(source: SourceField, srcLen: 4 | 8 | 16, family: 4 | 6, withPort: boolean): SetLayout {
  const addrLen = family === 4 ? 4 : 16;
  return { source, srcLen, addrLen, family, withPort, keyLen: srcLen + addrLen + (withPort ? 8 : 0) };
}

export const LAYOUTS: Record<AllowSet, SetLayout> = {
  allow4: layout('ip', 4, 4, false), // 8
  allow6: layout('ip', 16, 6, false), // 32
  allow4p: layout('ip', 4, 4, true), // 16
  allow6p: layout('ip', 16, 6, true), // 40
  cgroup4: layout('cgroup', 8, 4, false), // 12
  cgroup6: layout('cgroup', 8, 6, false), // 24
  cgroup4p: layout('cgroup', 8, 4, true), // 20
  cgroup6p: layout('cgroup', 8, 6, true), // 32
};

/** IANA protocol numbers of the port rules' protocols (netinet/in.h IPPROTO_TCP, IPPROTO_UDP). */
export const IPPROTO = { tcp: 6, udp: 17 } as const;

export function isAllowSet(s: unknown): s is AllowSet {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(LAYOUTS, s);
}

/** The set for a source field, an answer family and whether ports are limited. */
export function setFor(source: SourceField, family: 4 | 6, withPort: boolean): AllowSet {
  const base = source === 'ip' ? 'allow' : 'cgroup';
  return `${base}${family}${withPort ? 'p' : ''}` as AllowSet;
}

export interface KeyFields {
  set: AllowSet;
  /** LAYOUTS[set].srcLen bytes: the source address, or the cgroup id (host byte order) */
  source: Buffer;
  destination: Buffer;
  proto?: number;
  port?: number;
}

/** One allow-set element as the programmer takes it. */
export interface Element extends KeyFields {
  proto?: number; // 6 tcp, 17 udp (port sets only)
  port?: number;
  timeoutMs: number;
  comment: string; // the DNS name
}

/** The key bytes; throws a RangeError naming the bad field. */
export function encodeKey(e: KeyFields): Buffer {
  if (!isAllowSet(e.set)) throw new RangeError(`unknown set ${String(e.set)}`);
  const l = LAYOUTS[e.set];
  if (!Buffer.isBuffer(e.source) || e.source.length !== l.srcLen) throw new RangeError(`${e.set}: source must be ${l.srcLen} bytes`);
  if (!Buffer.isBuffer(e.destination) || e.destination.length !== l.addrLen) throw new RangeError(`${e.set}: destination must be ${l.addrLen} bytes`);
  const key = Buffer.allocUnsafe(l.keyLen).fill(0); // from the pool (no ArrayBuffer per key); the port field's padding stays zero
  e.source.copy(key, 0);
  e.destination.copy(key, l.srcLen);
  if (l.withPort) {
    const { proto, port } = e;
    if (!Number.isInteger(proto) || proto! < 0 || proto! > 255) throw new RangeError(`${e.set}: proto must be an integer 0..255`);
    if (!Number.isInteger(port) || port! < 0 || port! > 65535) throw new RangeError(`${e.set}: port must be an integer 0..65535`);
    const o = l.srcLen + l.addrLen;
    key[o] = proto!;
    key.writeUInt16BE(port!, o + 4);
  } else if (e.proto !== undefined || e.port !== undefined) {
    throw new RangeError(`${e.set}: has no proto/port; use ${e.set}p`);
  }
  return key;
}

/** Parses key bytes of a set; null when the length does not fit. */
export function decodeKey(set: AllowSet, key: Buffer): KeyFields | null {
  const l = LAYOUTS[set];
  if (!l || key.length !== l.keyLen) return null;
  const out: KeyFields = {
    set,
    source: Buffer.from(key.subarray(0, l.srcLen)),
    destination: Buffer.from(key.subarray(l.srcLen, l.srcLen + l.addrLen)),
  };
  if (l.withPort) {
    const o = l.srcLen + l.addrLen;
    out.proto = key[o];
    out.port = key.readUInt16BE(o + 4);
  }
  return out;
}
