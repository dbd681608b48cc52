// Removing sandboxes when their owner goes away: on exit, on SIGINT/SIGTERM, and (for runs
// that were SIGKILLed) by finding namespaces whose owning pid no longer exists.

import { runFile } from './run';
import type { Topology } from './topology';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Destroy topo when the process exits or is asked to stop. Returns a function that removes
 * the handlers again (call it after a normal destroy()). After a signal the signal is
 * re-raised, so the process still ends the way its sender expects.
 */
export function onExitCleanup(topo: Pick<Topology, 'destroySync'>): () => void {
  const onExit = () => topo.destroySync();
  const onSignal = (sig: NodeJS.Signals) => {
    remove();
    topo.destroySync();
    process.kill(process.pid, sig);
  };
  function remove() {
    process.removeListener('exit', onExit);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
  }
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
  return remove;
}

/**
 * Delete namespaces `${prefix}-<pid36><6 hex>-{node,pod1,pod2,net}` whose pid is not running.
 * Returns the names removed. Only names of exactly this shape are ever touched.
 */
export async function removeStaleTopologies(prefix = 'dw'): Promise<string[]> {
  const r = await runFile('ip', ['netns', 'list']);
  if (r.code !== 0) return [];
  const re = new RegExp(`^${prefix.replace(/[^a-z0-9]/g, '')}-([0-9a-z]+)[0-9a-f]{6}-(node|pod1|pod2|net)$`);
  const stale: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const name = line.split(' ')[0];
    const m = re.exec(name);
    if (m && !alive(parseInt(m[1], 36))) stale.push(name);
  }
  if (stale.length) await runFile('ip', ['-force', '-batch', '-'], { input: stale.map((n) => `netns del ${n}\n`).join('') });
  return stale;
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true; // unparseable: leave it alone
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
