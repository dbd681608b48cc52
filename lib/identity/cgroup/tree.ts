// The configured cgroups on disk: each configured path's current id (the inode of its cgroup v2
// directory; a re-created cgroup gets a new one, ids are never reused) and, for a socket's cgroup
// id, its path — found by walking the configured subtrees, since nothing maps an id to a path
// cheaply. Walks happen on a miss only (a cgroup not seen before) and are cached both ways: a
// hit costs one Map lookup; an id under no configured path is remembered as such.
import fs from 'node:fs';
import path from 'node:path';
import { cgroupLevel } from './ancestors';

/** Entries of the id → path cache before it is cleared (bounds memory under cgroup churn). */
export const LOCATE_CACHE_MAX = 65536;
/** Directories one walk may visit before it stops (bounds the time of a miss on a huge tree). */
export const WALK_MAX_DIRS = 200_000;

export interface TreeStats {
  walks: number;
  /** directories visited by walks */
  visited: number;
  /** ms spent walking */
  walkMs: number;
}

export class CgroupTree {
  readonly stats: TreeStats = { walks: 0, visited: 0, walkMs: 0 };
  /** configured path → current id; absent = the directory does not exist now */
  private current = new Map<string, bigint>();
  private readonly located = new Map<bigint, string | null>();
  private configured: string[];

  /** `mount`: the cgroup v2 mount point; `paths`: configured cgroup paths relative to it. */
  constructor(
    readonly mount: string,
    paths: readonly string[],
  ) {
    this.configured = [...new Set(paths)];
    this.refresh();
  }

  get paths(): readonly string[] {
    return this.configured;
  }

  /** Distinct levels of the configured paths (a kernel rule each), ascending. */
  get levels(): number[] {
    return [...new Set(this.configured.map(cgroupLevel))].sort((a, b) => a - b);
  }

  /** A new configuration's paths (reload). */
  reconfigure(paths: readonly string[]): void {
    this.configured = [...new Set(paths)];
    this.located.clear();
    this.refresh();
  }

  /** The absolute directory of a path relative to the mount. */
  dir(p: string): string {
    return p === '/' ? this.mount : path.join(this.mount, p);
  }

  /** Re-reads each configured path's id; returns true when any changed (created, re-created, removed). */
  refresh(): boolean {
    const next = new Map<string, bigint>();
    for (const p of this.configured) {
      const id = this.stat(p);
      if (id !== undefined) next.set(p, id);
    }
    let changed = next.size !== this.current.size;
    for (const [p, id] of next) if (this.current.get(p) !== id) changed = true;
    this.current = next;
    for (const [p, id] of next) this.remember(id, p);
    return changed;
  }

  /** configured path → current id (existing ones only). */
  ids(): ReadonlyMap<string, bigint> {
    return this.current;
  }

  idOf(p: string): bigint | undefined {
    return this.current.get(p);
  }

  /**
   * The path of a socket's cgroup id when it is a configured cgroup or inside one; null when it
   * is under none (or gone). A miss walks the configured subtrees once.
   */
  locate(id: bigint): string | null {
    const hit = this.located.get(id);
    if (hit !== undefined) return hit;
    this.walk(id);
    const found = this.located.get(id);
    if (found !== undefined) return found;
    this.remember(id, null);
    return null;
  }

  /**
   * The path of any cgroup id in the whole hierarchy (reload revocation, `list`): the configured
   * subtrees first, then one walk of everything; null when no cgroup has it (removed: ids are
   * never reused, so it can never match again).
   */
  find(id: bigint): string | null {
    const hit = this.located.get(id);
    if (hit) return hit;
    const p = this.locate(id);
    if (p !== null) return p;
    return findInHierarchy(this.mount, id);
  }

  private walk(want: bigint): void {
    const t0 = Date.now();
    this.stats.walks++;
    this.refresh();
    // Breadth first from every configured path, deepest configured paths not walked twice.
    const roots = [...this.current.keys()].filter((p) => !this.configured.some((q) => q !== p && (p.startsWith(q + '/') || q === '/')));
    const visited = walkCgroups(this.mount, roots, WALK_MAX_DIRS, (child, id) => {
      this.remember(id, child);
      return id === want;
    });
    this.stats.visited += visited;
    this.stats.walkMs += Date.now() - t0;
  }

  private stat(p: string): bigint | undefined {
    try {
      return fs.statSync(this.dir(p), { bigint: true }).ino;
    } catch {
      return undefined;
    }
  }

  private remember(id: bigint, p: string | null): void {
    if (this.located.size >= LOCATE_CACHE_MAX) this.located.clear();
    this.located.set(id, p);
  }
}

/** Breadth-first search of a cgroup v2 hierarchy for the directory whose inode is `id`. */
export function findInHierarchy(mount: string, id: bigint): string | null {
  try {
    if (fs.statSync(mount, { bigint: true }).ino === id) return '/';
  } catch {
    return null;
  }
  let found: string | null = null;
  walkCgroups(mount, ['/'], WALK_MAX_DIRS, (child, ino) => {
    if (ino === id) found = child;
    return found !== null;
  });
  return found;
}

/**
 * Breadth first through the directories below `roots` (paths relative to the cgroup v2 mount),
 * at most `max` of them: `visit` gets each one's path and inode (its cgroup id) and stops the
 * walk by returning true. A directory removed meanwhile is skipped. Returns how many were visited.
 */
export function walkCgroups(mount: string, roots: readonly string[], max: number, visit: (path: string, id: bigint) => boolean): number {
  const queue = roots.slice();
  let visited = 0;
  while (queue.length > 0 && visited < max) {
    const p = queue.shift()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(mount, p), { withFileTypes: true });
    } catch {
      continue; // removed meanwhile
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const child = p === '/' ? `/${e.name}` : `${p}/${e.name}`;
      visited++;
      let id: bigint;
      try {
        id = fs.statSync(path.join(mount, child), { bigint: true }).ino;
      } catch {
        continue;
      }
      if (visit(child, id)) return visited;
      queue.push(child);
    }
  }
  return visited;
}
