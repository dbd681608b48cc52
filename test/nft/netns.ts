// Runs a tap test file inside a fresh network namespace: the file re-execs itself under
// `ip netns exec` (netlink sockets bind to the namespace of the creating process), and the
// outer process only creates and deletes the namespace. tap is required lazily so the
// outer process prints no TAP of its own.
import { spawnSync, spawn, execFileSync } from 'child_process';
import { statSync } from 'fs';
import type tapT from 'tap';

export type Tap = typeof tapT;
const ENV = 'DWT_NFT_NETNS';
let counter = 0;

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables)';
  for (const cmd of ['nft', 'ip']) {
    if (spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error) return `needs the ${cmd} command`;
  }
  return null;
}

/** The namespace this process runs in (set by the re-exec), or null outside. */
export function currentNetns(): string | null {
  return process.env[ENV] || null;
}

/** The inode of this process's network namespace (/proc/PID/ns/net of another root process may be unreadable). */
export function netnsInode(): number {
  return statSync('/proc/self/ns/net').ino;
}

export function nsName(): string {
  return `dwt-nft-${process.pid}-${++counter}`;
}

/** Names of the extra namespaces created for this file (see runInNetns opts.extra). */
export function extraNetns(): string[] {
  return (process.env[ENV + '_EXTRA'] || '').split(',').filter(Boolean);
}

/** Runs `body` with tap inside a fresh namespace (plus opts.extra more, created before it starts,
 * for tests that route traffic). Without root/nft/ip: skip, or fail under CI=true. */
export function runInNetns(file: string, body: (t: Tap) => Promise<void> | void, opts: { extra?: number } = {}): void {
  if (currentNetns()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- tap is loaded only in the process that runs the tests (the parent only re-executes the file in a namespace)
    const t: Tap = require('tap');
    // The body changes nftables: refuse unless this process really is in another namespace than
    // the one that re-executed it (an inherited or stray DWT_NFT_NETNS would otherwise let a
    // test change the machine's own ruleset).
    const outer = Number(process.env[ENV + '_OUTER']);
    if (!outer || netnsInode() === outer) {
      t.fail(`refusing to run: ${ENV}=${currentNetns()} but this process is not in a namespace of its own (outer ${outer || 'unknown'}, here ${netnsInode()})`);
      return;
    }
    Promise.resolve(body(t)).catch((e) => t.fail(String(e && e.stack)));
    return;
  }
  const missing = missingPrerequisite();
  if (missing) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
    const t: Tap = require('tap');
    if (process.env.CI === 'true') t.fail(`kernel test cannot run: ${missing} (CI=true makes this a failure)`);
    else t.plan(0, `skipped: ${missing}`);
    return;
  }
  const ns = nsName();
  const extra = Array.from({ length: opts.extra ?? 0 }, () => nsName());
  const all = [ns, ...extra];
  const cleanup = () => {
    for (const n of all) spawnSync('ip', ['netns', 'delete', n], { stdio: 'ignore' });
  };
  try {
    for (const n of all) execFileSync('ip', ['netns', 'add', n]);
  } catch (e) {
    cleanup();
    throw e;
  }
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, file], {
    stdio: 'inherit',
    env: { ...process.env, [ENV]: ns, [ENV + '_EXTRA']: extra.join(','), [ENV + '_OUTER']: String(netnsInode()) },
  });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  child.on('exit', (code, signal) => {
    cleanup();
    process.exit(code ?? (signal ? 1 : 0));
  });
}

/** Runs a command in this process's namespace, returns stdout; throws with stderr on failure. */
export function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export function nft(...args: string[]): string {
  return sh('nft', args);
}
