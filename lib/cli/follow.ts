// `serve --watch`: follow the configuration file however it is replaced. Watching the file
// itself misses most updates: kubelet updates a mounted ConfigMap by writing a new timestamped
// directory and renaming a `..data` symlink over the old one (the file's path then resolves to
// a new inode and the watched one is deleted), and editors and config managers write a
// temporary file and rename it over the original. So the directory that holds the path is
// watched (every one of those is an event there), events are debounced, and the change is
// reported only when the content behind the path — symlinks followed — hashes differently from
// the last content seen: a touch, a chmod or a swap to equal content reloads nothing.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Logger } from 'pino';

/** Short content hash, as logged with every reload. */
export function contentHash(buf: Buffer | string): string {
  return crypto.createHash('sha256').update(buf).digest('hex').slice(0, 16);
}

/** The current content's hash, or null when the path cannot be read (mid-swap, removed). */
export function hashFile(file: string): string | null {
  try {
    return contentHash(fs.readFileSync(file));
  } catch {
    return null;
  }
}

export interface FollowOptions {
  /** quiet time after the last event before the content is read (editors write in bursts) */
  debounceMs?: number;
  /** hash of the content already in force: equal content reloads nothing */
  initialHash: string | null;
  /** also re-read every pollMs (a safety net for file systems without inotify); 0 = off */
  pollMs?: number;
  log: Logger;
}

export interface Follower {
  /** The content now in force (after a reload the caller records what it applied). */
  setHash(h: string | null): void;
  close(): void;
}

/**
 * Calls onChange(hash) once per settled change of the content behind `file`. onChange is not
 * called again for the same content; a change back to earlier content is a change.
 */
export function followFile(file: string, onChange: (hash: string) => void, opts: FollowOptions): Follower {
  const dir = path.dirname(path.resolve(file));
  const debounceMs = opts.debounceMs ?? 200;
  let known = opts.initialHash;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let watcher: fs.FSWatcher | undefined;

  const settle = () => {
    timer = undefined;
    if (closed) return;
    const h = hashFile(file);
    if (h === null) {
      // Between an unlink and the rename that replaces it: look again shortly.
      opts.log.debug({ file }, 'configuration file not readable; waiting for it to reappear');
      timer = setTimeout(settle, debounceMs);
      return;
    }
    if (h === known) {
      opts.log.debug({ file, configHash: h }, 'configuration file event, content unchanged: no reload');
      return;
    }
    known = h;
    onChange(h);
  };
  const poke = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(settle, debounceMs);
  };
  const watch = () => {
    try {
      watcher = fs.watch(dir, { persistent: false }, poke);
      watcher.on('error', (err) => {
        opts.log.warn({ dir, err: err.message }, 'watching the configuration directory failed; watching again');
        watcher?.close();
        if (!closed) setTimeout(watch, 1000).unref();
      });
    } catch (err) {
      opts.log.warn({ dir, err: (err as Error).message }, 'cannot watch the configuration directory; retrying');
      if (!closed) setTimeout(watch, 1000).unref();
    }
  };
  watch();
  const poll = opts.pollMs ? setInterval(poke, opts.pollMs) : undefined;
  poll?.unref();

  return {
    setHash(h) {
      known = h;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      watcher?.close();
    },
  };
}
