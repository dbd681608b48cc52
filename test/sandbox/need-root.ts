// Sandbox tests need root and iproute2. Without them: skip with the reason, except in CI,
// where a missing sandbox must fail loudly rather than pass by skipping everything.

import { spawnSync } from 'node:child_process';
import type { Test } from 'tap';

export function sandboxMissing(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (network namespaces)';
  const ip = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (ip.error || ip.status !== 0) return `needs iproute2 "ip": ${ip.error?.message ?? ip.stderr}`;
  return null;
}

/** true when the test may go on; otherwise it has already skipped or failed t. */
export function requireSandbox(t: Test): boolean {
  return requireOrSkip(t, sandboxMissing());
}

/** why = null: go on. Else skip with the reason, except in CI, where a missing prerequisite fails. */
export function requireOrSkip(t: Test, why: string | null): boolean {
  if (!why) return true;
  if (process.env.CI === 'true') t.fail(`test cannot run in CI: ${why}`);
  else t.plan(0, `skip: ${why}`);
  return false;
}
