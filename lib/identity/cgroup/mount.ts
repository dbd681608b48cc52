// Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup on pure v2 hosts,
// /sys/fs/cgroup/unified on hybrid (v1 + v2) hosts, elsewhere in containers. Read from
// /proc/self/mountinfo (proc(5)): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS".
import fs from 'node:fs';

export interface CgroupMount {
  /** absolute mount point, e.g. "/sys/fs/cgroup/unified" */
  path: string;
  /** the mount's root inside the hierarchy ("/" unless a subtree is bind-mounted) */
  root: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The cgroup v2 mounts in a mountinfo text, the preferred one first: a mount of the whole
 * hierarchy (root "/") before a bind-mounted subtree, then the shortest mount point.
 */
export function parseCgroup2Mounts(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f[dash + 1] !== 'cgroup2') continue;
    out.push({ root: unescape(f[3]), path: unescape(f[4]) });
  }
  return out.sort((a, b) => Number(b.root === '/') - Number(a.root === '/') || a.path.length - b.path.length);
}

/** The cgroup v2 mount this process sees, or null when there is none (cgroup v1 only, or /sys hidden). */
export function findCgroup2Mount(mountinfo = '/proc/self/mountinfo'): CgroupMount | null {
  let text: string;
  try {
    text = fs.readFileSync(mountinfo, 'utf8');
  } catch {
    return null;
  }
  return parseCgroup2Mounts(text)[0] ?? null;
}

/** This process's own cgroup v2 path ("0::/path" in /proc/self/cgroup), or null. */
export function ownCgroupPath(file = '/proc/self/cgroup'): string | null {
  try {
    const line = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    return line ? line.slice(3) : null;
  } catch {
    return null;
  }
}
