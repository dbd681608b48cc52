// The daemon's helper threads (V8's compiler and GC workers, libuv's pool) run at nice 19, the
// thread that answers queries at the process's own priority.
//
// Why: on a small node the main thread shared a CPU with a V8 worker that ran for milliseconds
// (a concurrent compile or marking step) and waited behind it while queries queued, although the
// worker's work could wait (perf sched: a 3.3 ms scheduling delay of the main thread behind its own
// worker; bench/tail.ts: p99 at 2,000 q/s 2.1–2.9 ms → 1.9–2.2 ms, the share of answers over 1 ms
// down by a quarter). At nice 19 a waking main thread preempts them. A worker starved under full
// load only delays its own work: V8 finishes a GC on the main thread when its helpers lag.
// setpriority(2) with a thread id changes that thread only (Linux); raising nice needs no privilege.
import { readdirSync } from 'node:fs';
import os from 'node:os';

/** nice(2) value for the helper threads: the lowest priority that is still SCHED_OTHER. */
export const HELPER_NICE = 19;
/** New helper threads (libuv starts its pool at first use) are found by a look this often. */
export const RESCAN_MS = 60_000;

/** Lowers every thread of this process but the main one to `nice`; returns how many it changed. */
export function lowerHelperThreads(nice = HELPER_NICE): number {
  let changed = 0;
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return 0; // no procfs: nothing to do
  }
  for (const t of tids) {
    const tid = Number(t);
    if (tid === process.pid || !Number.isInteger(tid)) continue;
    try {
      if (os.getPriority(tid) === nice) continue;
      os.setPriority(tid, nice);
      changed++;
    } catch {
      // the thread exited meanwhile
    }
  }
  return changed;
}

/** Lowers them now and every RESCAN_MS (unref'd: it never keeps the process alive). Returns a stop function. */
export function keepHelperThreadsLow(nice = HELPER_NICE): { changed: number; stop: () => void } {
  const changed = lowerHelperThreads(nice);
  const timer = setInterval(() => lowerHelperThreads(nice), RESCAN_MS);
  timer.unref();
  return { changed, stop: () => clearInterval(timer) };
}
