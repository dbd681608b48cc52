// The pods of this node as the running daemon knows them (control op `pods`): `dnswall list`
// names pod elements by namespace/name, `list --pod` and `explain --pod` find a pod by it.
import { request, NotRunning } from '../control/client';
import { controlPath } from './drops';
import { CliError, EXIT_BAD_INPUT, EXIT_RUNTIME } from './exit';
import type { PodListing } from '../identity/pod/resolver';

export type { PodListing };

/** NAMESPACE/NAME as Kubernetes spells them (DNS labels / subdomains). */
export function parsePodOption(text: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/.exec(text);
  if (!m) throw new CliError(`--pod ${JSON.stringify(text)} is not NAMESPACE/NAME (e.g. shop/frontend-1)`, EXIT_BAD_INPUT);
  return { namespace: m[1], name: m[3] };
}

/** Asks the daemon; throws CliError (exit 2) when it is not running or does not watch Kubernetes. */
export async function fetchPods(o: { config: string; control?: string }): Promise<PodListing[]> {
  const out: PodListing[] = [];
  try {
    await request(controlPath(o), { op: 'pods' }, (v) => out.push(v as PodListing));
  } catch (err) {
    if (err instanceof CliError) throw err;
    const why = err instanceof NotRunning ? err.message : `the daemon says: ${(err as Error).message}`;
    throw new CliError(`pods are known only to the running daemon: ${why}`, EXIT_RUNTIME);
  }
  return out;
}

/** Element source text (an address, or `cgroup:<id>`) → "namespace/name" of the pod it belongs to. */
export function podNames(pods: readonly PodListing[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of pods) {
    for (const a of p.addresses) m.set(a, `${p.namespace}/${p.name}`);
    if (p.cgroup) m.set(`cgroup:${p.cgroup.id}`, `${p.namespace}/${p.name}`);
  }
  return m;
}
