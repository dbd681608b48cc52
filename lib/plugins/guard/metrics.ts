// The guard plugin's metrics: answer addresses in a guarded range, by policy and outcome, and
// answers turned into SERVFAIL because every address was guarded.
import type { Metrics } from '../../metrics/registry';
import type { GuardStats } from './guard';

export function registerGuardMetrics(m: Metrics, stats: GuardStats): void {
  m.counterFrom(
    'dnswall_guard_addresses_total',
    'Answer addresses in a guarded range, by policy and outcome (stripped, excepted by allowCIDRs, would_strip in audit mode)',
    ['policy', 'outcome'],
    (set) => {
      for (const [policy, s] of stats.byPolicy) {
        set({ policy, outcome: 'stripped' }, s.stripped);
        set({ policy, outcome: 'excepted' }, s.excepted);
        set({ policy, outcome: 'would_strip' }, s.wouldStrip);
      }
    },
  );
  m.counterFrom('dnswall_guard_blocked_answers_total', 'Answers turned into SERVFAIL (EDE 15) because every address was guarded, by policy', ['policy'], (set) => {
    for (const [policy, s] of stats.byPolicy) set({ policy }, s.blocked);
  });
  m.counterFrom('dnswall_guard_unreadable_replies_total', 'Replies the guard could not read (answered SERVFAIL)', [], (set) => set({}, stats.unreadable));
}
