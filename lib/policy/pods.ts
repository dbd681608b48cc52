// Which policies select a pod: the pod selector sources of the configuration evaluated against
// a pod's labels and its namespace's labels, as NetworkPolicy peers are. Pure, no I/O.
import type { Policy, PodSourceSpec } from '../config/types';
import { matches } from '../kube/selector';

export interface PodFacts {
  labels: Readonly<Record<string, string>> | undefined;
  /** undefined: the namespace is not known (yet), so no namespaceSelector matches it */
  namespaceLabels: Readonly<Record<string, string>> | undefined;
}

export function sourceSelects(s: PodSourceSpec, pod: PodFacts): boolean {
  if (s.namespaceSelector && (pod.namespaceLabels === undefined || !matches(s.namespaceSelector, pod.namespaceLabels))) return false;
  if (s.podSelector && !matches(s.podSelector, pod.labels)) return false;
  return true;
}

export class PodSelectors {
  private readonly entries: { policy: number; source: PodSourceSpec }[] = [];

  constructor(policies: readonly Policy[]) {
    policies.forEach((p, i) => {
      for (const s of p.sources) if (s.kind === 'pods') this.entries.push({ policy: i, source: s });
    });
  }

  /** Whether any policy has pod selector sources (else the Kubernetes watch has nothing to do). */
  get any(): boolean {
    return this.entries.length > 0;
  }

  /** Indices of the policies selecting this pod, ascending, without repeats; empty = unmanaged. */
  select(pod: PodFacts): number[] {
    const out: number[] = [];
    for (const e of this.entries) if (out[out.length - 1] !== e.policy && sourceSelects(e.source, pod)) out.push(e.policy);
    return out;
  }
}
