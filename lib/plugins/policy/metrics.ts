// policy's metrics: decisions by policy and verdict, counted in a map on the request path and
// read at scrape time.
import type { Metrics } from '../../metrics/registry';
import type { PolicyStats } from './policy';

/** A denial is labelled with every policy that selects the source (joined by ','), an allow with
 * the policy of the rule that allowed it, an unmanaged source with "". */
export function countDecision(stats: PolicyStats, policy: string, verdict: 'allow' | 'deny' | 'unmanaged' | 'would_deny'): void {
  const k = policy + '\0' + verdict;
  stats.byPolicy.set(k, (stats.byPolicy.get(k) ?? 0) + 1);
}

export function registerPolicyMetrics(m: Metrics, stats: PolicyStats): void {
  m.counterFrom('dnswall_policy_decisions_total', 'Policy decisions by policy and verdict (allow, deny, unmanaged, would_deny in audit mode)', ['policy', 'verdict'], (set) => {
    for (const [k, v] of stats.byPolicy) {
      const i = k.indexOf('\0');
      set({ policy: k.slice(0, i), verdict: k.slice(i + 1) }, v);
    }
  });
}
