// State file (config nftables.stateFile): the programmer's book written at a clean stop and read
// at the next start instead of dumping the allow sets (a dump of 1M elements is quadratic and
// does not finish). It is only believed when it provably describes the kernel's sets: the same
// boot (boot_id), network namespace and table, and the same nf_tables generation id as at the
// save — nf_tables counts every committed transaction of anyone in the namespace, so an equal
// generation means nothing but the kernel's own expiry (garbage collection, no transaction) has
// changed the sets since. The programmer checks that (programmer.ts prepare()); this file is
// the format and the file I/O.
//
// Format (little-endian), version 1:
//   "DNSWALLS" u32 version | f64 saved wall ms | f64 saved CLOCK_MONOTONIC ms | u32 generation
//   | f64 netns inode | u8 len + table | u8 len + boot_id
//   | u32 groups, each: u16 width, u16 len + group key (source length, source, name as UTF-8)
//   | u32 elements, each: u8 len + id (set index + key bytes), f64 timeout ms (Infinity:
//     permanent), f64 expiry as wall-clock ms (Infinity: permanent), i32 group (-1: none)
//   | 32 bytes sha256 of everything before.
// Elements in the book's order (oldest-programmed first), so the caps evict the same ones.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'fs';
import { createHash } from 'crypto';
import path from 'path';
import type { ExpiryBook } from './expiry';
import { nameOfKey } from './bounds';
import { ALLOW_SETS, LAYOUTS } from './keys';

export const STATE_MAGIC = 'DNSWALLS';
export const STATE_VERSION = 1;
const HASH_LEN = 32;
/** The longest element id: set index + allow6p's 40-byte key. */
const MAX_ID = 1 + Math.max(...ALLOW_SETS.map((s) => LAYOUTS[s].keyLen));

export interface StateHeader {
  /** Date.now() at the save */
  savedWallMs: number;
  /** CLOCK_MONOTONIC (process.hrtime) at the save, ms: same boot → comparable across processes */
  savedMonoMs: number;
  /** nf_tables generation id the book is true for */
  generation: number;
  /** inode of /proc/self/ns/net */
  netns: number;
  table: string;
  bootId: string;
}

/** One element of the file; `expiresWallMs` is wall-clock. */
export interface StateRow {
  id: string;
  timeoutMs: number;
  expiresWallMs: number;
  name: string | null;
  width: number;
}

export interface DecodedState {
  header: StateHeader;
  elements: number;
  groups: number;
  /** Walks the elements (already validated: it cannot throw). */
  forEach(fn: (row: StateRow) => void): void;
}

/** CLOCK_MONOTONIC in ms (libuv's hrtime): the same clock in every process of one boot. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** This boot's id (a reboot forgets the sets: a file from another boot is worthless). */
export function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** The network namespace the sets live in (another namespace has other sets and another generation counter). */
export function netnsId(): number {
  return statSync('/proc/self/ns/net').ino;
}

/**
 * The book as a state file's bytes. `nowPerf`: the book's clock now (performance.now()), `nowWall`:
 * Date.now() at the same instant; each expiry is written as wall-clock ms. Entries already
 * expired are left out.
 */
export function encodeState(header: StateHeader, book: ExpiryBook, nowPerf: number): { data: Buffer; elements: number } {
  const b = book.bounds;
  // groups that have elements: their row → index in the file
  const fileIdx = new Int32Array(b.groupLimit).fill(-1);
  const keys: string[] = [];
  const widths: number[] = [];
  let groupBytes = 0;
  book.forEachEntry((_id, _t, expiresAt, g) => {
    if (g < 0 || fileIdx[g] >= 0 || expiresAt <= nowPerf) return;
    const key = b.groupKeyOf(g);
    fileIdx[g] = keys.length;
    keys.push(key.length > 0xffff ? key.slice(0, 0xffff) : key);
    widths.push(b.widthOf(g));
    groupBytes += 4 + Math.min(key.length, 0xffff);
  });
  const table = Buffer.from(header.table, 'utf8');
  const boot = Buffer.from(header.bootId, 'utf8');
  const headLen = 8 + 4 + 8 + 8 + 4 + 8 + 1 + table.length + 1 + boot.length;
  // ids are at most MAX_ID bytes (set index + the longest key: allow6p's 40)
  const out = Buffer.allocUnsafe(headLen + 4 + groupBytes + 4 + book.size * (1 + MAX_ID + 20) + HASH_LEN);
  let o = out.write(STATE_MAGIC, 0, 'latin1');
  o = out.writeUInt32LE(STATE_VERSION, o);
  o = out.writeDoubleLE(header.savedWallMs, o);
  o = out.writeDoubleLE(header.savedMonoMs, o);
  o = out.writeUInt32LE(header.generation >>> 0, o);
  o = out.writeDoubleLE(header.netns, o);
  o = out.writeUInt8(table.length, o);
  o += table.copy(out, o);
  o = out.writeUInt8(boot.length, o);
  o += boot.copy(out, o);
  o = out.writeUInt32LE(keys.length, o);
  for (let i = 0; i < keys.length; i++) {
    o = out.writeUInt16LE(widths[i], o);
    o = out.writeUInt16LE(keys[i].length, o);
    o += out.write(keys[i], o, 'latin1');
  }
  const countAt = o;
  o += 4;
  let n = 0;
  const wallOffset = header.savedWallMs - nowPerf;
  book.forEachEntry((id, timeoutMs, expiresAt, g) => {
    if (expiresAt <= nowPerf || id.length === 0 || id.length > MAX_ID) return;
    out[o++] = id.length;
    out.set(id, o);
    o += id.length;
    o = out.writeDoubleLE(timeoutMs, o);
    o = out.writeDoubleLE(expiresAt === Infinity ? Infinity : expiresAt + wallOffset, o);
    o = out.writeInt32LE(g < 0 ? -1 : fileIdx[g], o);
    n++;
  });
  out.writeUInt32LE(n, countAt);
  createHash('sha256').update(out.subarray(0, o)).digest().copy(out, o);
  return { data: out.subarray(0, o + HASH_LEN), elements: n };
}

/** Parses and checks a state file's bytes; throws an Error naming what is wrong. */
export function decodeState(buf: Buffer): DecodedState {
  const fail = (what: string): never => {
    throw new Error(`state file ${what}`);
  };
  if (buf.length < 8 + 4 + HASH_LEN || buf.toString('latin1', 0, 8) !== STATE_MAGIC) fail('has no dnswall state header');
  const version = buf.readUInt32LE(8);
  if (version !== STATE_VERSION) fail(`has version ${version}; this dnswall reads version ${STATE_VERSION}`);
  const body = buf.length - HASH_LEN;
  if (!createHash('sha256').update(buf.subarray(0, body)).digest().equals(buf.subarray(body))) fail('is corrupt or truncated (checksum mismatch)');
  let o = 12;
  const need = (n: number) => {
    if (o + n > body) fail('is truncated');
  };
  need(8 + 8 + 4 + 8 + 1);
  const savedWallMs = buf.readDoubleLE(o);
  const savedMonoMs = buf.readDoubleLE(o + 8);
  const generation = buf.readUInt32LE(o + 16);
  const netns = buf.readDoubleLE(o + 20);
  o += 28;
  const tlen = buf[o++];
  need(tlen + 1);
  const table = buf.toString('utf8', o, o + tlen);
  o += tlen;
  const blen = buf[o++];
  need(blen + 4);
  const bootIdText = buf.toString('utf8', o, o + blen);
  o += blen;
  const groups = buf.readUInt32LE(o);
  o += 4;
  const names: string[] = [];
  const widths: number[] = [];
  for (let i = 0; i < groups; i++) {
    need(4);
    const width = buf.readUInt16LE(o);
    const klen = buf.readUInt16LE(o + 2);
    o += 4;
    need(klen);
    const key = buf.toString('latin1', o, o + klen);
    o += klen;
    if (klen < 1 || key.charCodeAt(0) >= klen) fail(`group ${i} has a bad key`);
    names.push(nameOfKey(key));
    widths.push(width || 1);
  }
  need(4);
  const elements = buf.readUInt32LE(o);
  o += 4;
  const start = o;
  // Validate every row before anything is learned from it.
  for (let i = 0; i < elements; i++) {
    need(1);
    const len = buf[o];
    need(1 + len + 20);
    const g = buf.readInt32LE(o + 1 + len + 16);
    const set = ALLOW_SETS[buf[o + 1]];
    if (!set || len !== 1 + LAYOUTS[set].keyLen || g < -1 || g >= groups) fail(`element ${i} is malformed`);
    const timeoutMs = buf.readDoubleLE(o + 1 + len);
    if (!(timeoutMs > 0)) fail(`element ${i} has timeout ${timeoutMs}`);
    o += 1 + len + 20;
  }
  if (o !== body) fail(`has ${body - o} bytes after its last element`);
  return {
    header: { savedWallMs, savedMonoMs, generation, netns, table, bootId: bootIdText },
    elements,
    groups,
    forEach(fn) {
      let p = start;
      for (let i = 0; i < elements; i++) {
        const len = buf[p];
        const id = buf.toString('latin1', p + 1, p + 1 + len);
        p += 1 + len;
        const timeoutMs = buf.readDoubleLE(p);
        const expiresWallMs = buf.readDoubleLE(p + 8);
        const g = buf.readInt32LE(p + 16);
        p += 20;
        fn({ id, timeoutMs, expiresWallMs, name: g < 0 ? null : names[g], width: g < 0 ? 1 : widths[g] });
      }
    },
  };
}

/** Writes `data` to `file` atomically: a temp file beside it (mode 0600), fsync, rename, fsync of the directory. */
export function writeStateFile(file: string, data: Buffer): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  try {
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // a directory fsync is best effort (tmpfs needs none)
  }
}

/** Reads and removes the state file (so a later crash cannot reuse it). Null when there is none. */
export function takeStateFile(file: string): Buffer | null {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot remove the state file after reading it: ${(e as Error).message}`, { cause: e });
  }
  return data;
}

/**
 * An element's life left now from its wall-clock expiry, without trusting the wall clock across
 * the restart: life left at the save (both clocks read at the same instant) minus the monotonic
 * time elapsed since (same boot, so CLOCK_MONOTONIC is shared; a wall clock step in between
 * changes nothing). Capped at the element's timeout. ≤ 0: expired.
 */
export function lifeLeftMs(header: StateHeader, expiresWallMs: number, timeoutMs: number, nowMonoMs: number): number {
  if (expiresWallMs === Infinity) return Infinity;
  const leftAtSave = expiresWallMs - header.savedWallMs;
  const elapsed = nowMonoMs - header.savedMonoMs;
  return Math.min(timeoutMs, Math.floor(leftAtSave - elapsed));
}
