// Runs a bench script in a network namespace of its own (loopback up, deleted afterwards): the
// script is started again inside it with --inner, and `inner` runs there (bench/cpu.ts,
// bench/chain-micro.ts). Nothing is sent outside the namespace.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export function inOwnNetns(prefix: string, script: string, inner: () => Promise<void>, timeoutMs = 900_000): void {
  if (process.argv.includes('--inner')) {
    inner().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error((e as Error).stack);
        process.exit(1);
      },
    );
    return;
  }
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  const ip = (...a: string[]) => spawnSync('ip', a, { stdio: 'inherit' });
  if (ip('netns', 'add', ns).status !== 0) throw new Error(`ip netns add ${ns} failed (root needed)`);
  try {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, script, '--inner', ...process.argv.slice(2)], { stdio: 'inherit', timeout: timeoutMs });
    process.exitCode = r.status ?? 1;
  } finally {
    ip('netns', 'del', ns);
  }
}
