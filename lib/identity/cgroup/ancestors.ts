// cgroup v2 paths ("/system.slice/backup.service", relative to the v2 mount): ancestry and levels.

/** "/a/b" → ["/a/b", "/a", "/"]: the path and each ancestor, deepest first. */
export function selfAndAncestors(path: string): string[] {
  const out: string[] = [];
  for (let p = path; ; p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
    out.push(p);
    if (p === '/' || !p.startsWith('/')) break;
  }
  return out;
}

/** The level of a path as nftables counts it (`socket cgroupv2 level N`): "/" 0, "/a" 1, "/a/b" 2. */
export function cgroupLevel(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

/** The deepest of `configured` that is `path` or one of its ancestors; undefined when none is. */
export function deepestConfigured(configured: readonly string[], path: string): string | undefined {
  const set = new Set(configured);
  for (const p of selfAndAncestors(path)) if (set.has(p)) return p;
  return undefined;
}
