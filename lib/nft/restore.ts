// Restart without reading the sets: the programmer's book saved at a clean stop (state.ts has the
// format) and learned back at the next start — only when it provably still describes the kernel:
//   - same boot (boot_id), network namespace (its inode) and table;
//   - the nf_tables generation, read with the change-notification watch already up and before the
//     daemon's own install, equals the saved one: no transaction at all since the save (only the
//     kernel's garbage collection of expired elements, which only removes), and every later
//     change — the install, the pod identity's lines, anyone's deletions — is heard by the watch.
// Anything else: the caller reads the sets from the kernel, as without a file. The file is removed
// once read, so a crash later cannot bring an old book back.
// Lives: an element's life left = its life left at the save minus the CLOCK_MONOTONIC time since
// (lifeLeftMs): a wall clock step between stop and start changes nothing; capped at its timeout.
import { performance } from 'perf_hooks';
import type { ExpiryBook, Evicted } from './expiry';
import { bootId, decodeState, encodeState, lifeLeftMs, monotonicMs, netnsId, takeStateFile, writeStateFile } from './state';

export interface Restored {
  /** elements learned */
  elements: number;
  /** rows left out: expired since the save */
  skipped: number;
  ms: number;
  /** what the caps pushed out while learning (to delete once the programmer's socket is open) */
  evicted: Evicted[];
}

/**
 * Reads (and removes) `file`, checks it, and — when `generation()` (which starts the watch and
 * reads the generation) equals the saved one — learns it into `book`. Returns why not otherwise;
 * throws for an unreadable or corrupt file (a warning: something wrote garbage there).
 */
export async function loadStateFile(file: string, table: string, book: ExpiryBook, generation: () => Promise<number | string>): Promise<Restored | string> {
  const t0 = performance.now();
  const data = takeStateFile(file);
  if (!data) {
    await generation(); // the watch starts here either way
    return 'no state file';
  }
  const state = decodeState(data);
  const h = state.header;
  let why: string | null = null;
  if (h.table !== table) why = `saved for table ${h.table}`;
  else if (h.bootId !== bootId()) why = 'saved before a reboot (boot_id differs)';
  else if (h.netns !== netnsId()) why = 'saved in another network namespace';
  const gen = await generation();
  if (why) return why;
  if (typeof gen === 'string') return gen;
  if (gen !== h.generation) return `the nf_tables generation is ${gen}, saved at ${h.generation}: something changed the rules or sets since the save`;
  // A notification read before this point found the rows not there yet: a deletion only untrusts
  // (rows are restored untrusted anyway), an addition is newer than the file (restore keeps it).
  const now = monotonicMs();
  if (now < h.savedMonoMs) return 'the monotonic clock is behind the save';
  book.reserve(state.elements, state.groups);
  const left = new Float64Array(state.elements);
  const { timeouts } = state.rows;
  for (let i = 0; i < left.length; i++) left[i] = lifeLeftMs(h, state.expiresWall[i], timeouts[i], now);
  const { restored: elements, skipped, evicted } = book.restoreRows({ ...state.rows, left });
  return { elements, skipped, ms: Math.round(performance.now() - t0), evicted };
}

/** Writes the book with the generation it is true for; returns what was written. */
export function saveStateFile(file: string, table: string, generation: number, book: ExpiryBook): { elements: number; bytes: number; ms: number } {
  const t0 = performance.now();
  const header = { savedWallMs: Date.now(), savedMonoMs: monotonicMs(), generation, netns: netnsId(), table, bootId: bootId() };
  const { data, elements } = encodeState(header, book, book.now());
  writeStateFile(file, data);
  return { elements, bytes: data.length, ms: Math.round(performance.now() - t0) };
}
