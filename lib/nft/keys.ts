// Key layouts of dnswall's allow sets. nf_tables concatenations round every field up to 4
// bytes, zero-padded: ipv4 . ipv4 = 8 bytes, ipv6 . ipv6 = 32, inet_proto = 1 byte + 3 pad,
// inet_service = 2 bytes big-endian + 2 pad.

export type AllowSet = 'allow4' | 'allow6' | 'allow4p' | 'allow6p';
export const ALLOW_SETS: readonly AllowSet[] = ['allow4', 'allow6', 'allow4p', 'allow6p'];

export interface SetLayout {
  addrLen: 4 | 16;
  withPort: boolean;
  /** NFTA_SET_KEY_LEN the kernel reports for this set. */
  keyLen: number;
}

export const LAYOUTS: Record<AllowSet, SetLayout> = {
  allow4: { addrLen: 4, withPort: false, keyLen: 8 },
  allow6: { addrLen: 16, withPort: false, keyLen: 32 },
  allow4p: { addrLen: 4, withPort: true, keyLen: 16 },
  allow6p: { addrLen: 16, withPort: true, keyLen: 40 },
};

export function isAllowSet(s: unknown): s is AllowSet {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(LAYOUTS, s);
}

export interface KeyFields {
  set: AllowSet;
  source: Buffer;
  destination: Buffer;
  proto?: number;
  port?: number;
}

/** The key bytes; throws a RangeError naming the bad field. */
export function encodeKey(e: KeyFields): Buffer {
  if (!isAllowSet(e.set)) throw new RangeError(`unknown set ${String(e.set)}`);
  const l = LAYOUTS[e.set];
  if (!Buffer.isBuffer(e.source) || e.source.length !== l.addrLen) throw new RangeError(`${e.set}: source must be ${l.addrLen} bytes`);
  if (!Buffer.isBuffer(e.destination) || e.destination.length !== l.addrLen) throw new RangeError(`${e.set}: destination must be ${l.addrLen} bytes`);
  const key = Buffer.alloc(l.keyLen);
  e.source.copy(key, 0);
  e.destination.copy(key, l.addrLen);
  if (l.withPort) {
    const { proto, port } = e;
    if (!Number.isInteger(proto) || proto! < 0 || proto! > 255) throw new RangeError(`${e.set}: proto must be an integer 0..255`);
    if (!Number.isInteger(port) || port! < 0 || port! > 65535) throw new RangeError(`${e.set}: port must be an integer 0..65535`);
    key[2 * l.addrLen] = proto!;
    key.writeUInt16BE(port!, 2 * l.addrLen + 4);
  } else if (e.proto !== undefined || e.port !== undefined) {
    throw new RangeError(`${e.set}: has no proto/port; use ${e.set}p`);
  }
  return key;
}

/** Parses key bytes of a set; null when the length does not fit. */
export function decodeKey(set: AllowSet, key: Buffer): KeyFields | null {
  const l = LAYOUTS[set];
  if (key.length !== l.keyLen) return null;
  const out: KeyFields = {
    set,
    source: Buffer.from(key.subarray(0, l.addrLen)),
    destination: Buffer.from(key.subarray(l.addrLen, 2 * l.addrLen)),
  };
  if (l.withPort) {
    out.proto = key[2 * l.addrLen];
    out.port = key.readUInt16BE(2 * l.addrLen + 4);
  }
  return out;
}
