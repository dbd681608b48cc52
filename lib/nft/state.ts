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
//   | u32 elements n | u32 id bytes | the ids, each u8 len + id (set index + key bytes)
//   | zero padding to a multiple of 8 | f64[n] timeout ms (Infinity: permanent)
//   | f64[n] expiry as wall-clock ms (Infinity: permanent) | i32[n] group (-1: none)
//   | 32 bytes sha256 of everything before.
// Columns, so that 1M rows are written and read as a few block copies.
// Elements in the book's order (oldest-programmed first), so the caps evict the same ones.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'fs';
import { createHash } from 'crypto';
import path from 'path';
import os from 'os';
import type { ExpiryBook, RestoreRows } from './expiry';
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

/** The file's elements as columns (ExpiryBook.restoreRows takes them once `left` is filled in). */
export interface DecodedState {
  header: StateHeader;
  elements: number;
  groups: number;
  rows: Omit<RestoreRows, 'left'>;
  /** wall-clock expiry per row (Infinity: permanent) */
  expiresWall: Float64Array;
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

/** Typed arrays are host-endian; the file is little-endian. */
function checkEndianness(): void {
  if (os.endianness() !== 'LE') throw new Error('the state file is little-endian; this host is big-endian');
}

const pad8 = (n: number) => (n + 7) & ~7;

/**
 * The book as a state file's bytes. `nowPerf`: the book's clock now (performance.now()), read at
 * the same instant as header.savedWallMs; each expiry is written as wall-clock ms. Entries
 * already expired are left out.
 */
export function encodeState(header: StateHeader, book: ExpiryBook, nowPerf: number): { data: Buffer; elements: number } {
  checkEndianness();
  const b = book.bounds;
  // groups that have live elements: their row → index in the file; and the ids' bytes
  const fileIdx = new Int32Array(b.groupLimit).fill(-1);
  const fileGroups: number[] = [];
  let groupBytes = 0;
  let n = 0;
  let idBytes = 0;
  book.forEachEntry((slot, _t, expiresAt, g) => {
    const len = book.idLenOf(slot);
    if (expiresAt <= nowPerf || len === 0 || len > MAX_ID) return;
    n++;
    idBytes += 1 + len;
    if (g < 0 || fileIdx[g] >= 0) return;
    fileIdx[g] = fileGroups.length;
    fileGroups.push(g);
    groupBytes += 4 + b.groupKeyLenOf(g);
  });
  const table = Buffer.from(header.table, 'utf8');
  const boot = Buffer.from(header.bootId, 'utf8');
  const headLen = 8 + 4 + 8 + 8 + 4 + 8 + 1 + table.length + 1 + boot.length;
  const idsAt = headLen + 4 + groupBytes + 8;
  const colsAt = pad8(idsAt + idBytes);
  const total = colsAt + n * 20 + HASH_LEN;
  const out = Buffer.alloc(total);
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
  o = out.writeUInt32LE(fileGroups.length, o);
  for (const g of fileGroups) {
    o = out.writeUInt16LE(b.widthOf(g), o);
    o = out.writeUInt16LE(b.groupKeyLenOf(g), o);
    o += b.copyGroupKey(g, out, o);
  }
  o = out.writeUInt32LE(n, o);
  o = out.writeUInt32LE(idBytes, o);
  const timeouts = new Float64Array(n);
  const expiries = new Float64Array(n);
  const groups = new Int32Array(n);
  const wallOffset = header.savedWallMs - nowPerf;
  let i = 0;
  book.forEachEntry((slot, timeoutMs, expiresAt, g) => {
    const len = book.idLenOf(slot);
    if (expiresAt <= nowPerf || len === 0 || len > MAX_ID) return;
    out[o++] = len;
    o += book.copyId(slot, out, o);
    timeouts[i] = timeoutMs;
    expiries[i] = expiresAt === Infinity ? Infinity : expiresAt + wallOffset;
    groups[i] = g < 0 ? -1 : fileIdx[g];
    i++;
  });
  o = colsAt;
  for (const col of [timeouts, expiries, groups]) {
    out.set(new Uint8Array(col.buffer, col.byteOffset, col.byteLength), o);
    o += col.byteLength;
  }
  createHash('sha256').update(out.subarray(0, o)).digest().copy(out, o);
  return { data: out, elements: n };
}

/** A column of `n` values at `off` (copied: the file's bytes need not be aligned). */
function column<T extends Float64Array | Int32Array>(Ctor: { new (n: number): T }, buf: Buffer, off: number, n: number): T {
  const a = new Ctor(n);
  new Uint8Array(a.buffer).set(buf.subarray(off, off + a.byteLength));
  return a;
}

/** Parses and checks a state file's bytes; throws an Error naming what is wrong. */
export function decodeState(buf: Buffer): DecodedState {
  checkEndianness();
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
  if (groups > body) fail('has a bad group count');
  const groupAt = new Int32Array(groups);
  const groupLen = new Uint16Array(groups);
  const widths = new Uint16Array(groups);
  for (let i = 0; i < groups; i++) {
    need(4);
    widths[i] = buf.readUInt16LE(o) || 1;
    const klen = buf.readUInt16LE(o + 2);
    o += 4;
    need(klen);
    if (klen < 1 || buf[o] >= klen) fail(`group ${i} has a bad key`);
    groupAt[i] = o;
    groupLen[i] = klen;
    o += klen;
  }
  need(8);
  const n = buf.readUInt32LE(o);
  const idBytes = buf.readUInt32LE(o + 4);
  o += 8;
  need(idBytes);
  const colsAt = pad8(o + idBytes);
  if (colsAt + n * 20 !== body) fail(`has ${body - colsAt} bytes of columns for ${n} elements`);
  // Validate every row before anything is learned from it.
  const idAt = new Int32Array(n);
  const idLen = new Uint8Array(n);
  const idsEnd = o + idBytes;
  for (let i = 0; i < n; i++) {
    if (o >= idsEnd) fail(`has ids for ${i} of ${n} elements`);
    const len = buf[o];
    const set = ALLOW_SETS[buf[o + 1]];
    if (!set || len !== 1 + LAYOUTS[set].keyLen || o + 1 + len > idsEnd) fail(`element ${i} has a malformed id`);
    idAt[i] = o + 1;
    idLen[i] = len;
    o += 1 + len;
  }
  if (o !== idsEnd) fail('has ids beyond its elements');
  const timeouts = column(Float64Array, buf, colsAt, n);
  const expiresWall = column(Float64Array, buf, colsAt + 8 * n, n);
  const grp = column(Int32Array, buf, colsAt + 16 * n, n);
  for (let i = 0; i < n; i++) {
    if (!(timeouts[i] > 0)) fail(`element ${i} has timeout ${timeouts[i]}`);
    if (grp[i] < -1 || grp[i] >= groups) fail(`element ${i} has group ${grp[i]} of ${groups}`);
  }
  return {
    header: { savedWallMs, savedMonoMs, generation, netns, table, bootId: bootIdText },
    elements: n,
    groups,
    rows: { n, ids: buf, idAt, idLen, timeouts, groups: grp, groupKeys: buf, groupAt, groupLen, widths },
    expiresWall,
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
