// Fairness metrics (limits.sourceQueriesPerSecond and the per-source shares): what the daemon's
// budget turned away (budget.ts) and what the kernel meter dropped (kernel.ts, read with
// `nft -j` and cached). Kernel meter drops are counted here, never logged per packet: they are
// floods by definition, and the per-source counters in offenders4/6 name the sources.
import type { Metrics } from '../metrics/registry';
import type { SourceBudget } from './budget';
import type { KernelFairnessReader } from './kernel';

export function registerFairnessMetrics(m: Metrics, budget: () => SourceBudget | undefined, kernel: () => KernelFairnessReader | undefined): void {
  m.counterFrom(
    'dnswall_fairness_rejected_total',
    'Queries and connections the daemon turned away per source (rate_dropped: UDP over the rate, rate_paused: TCP reads paused, pending: over the share of maxPendingQueries, connections: over the share of tcpMaxConnections, bad_input_silenced: malformed UDP dropped instead of FORMERR over 100/s)',
    ['reason'],
    (set) => {
      const s = budget()?.stats;
      if (!s) return;
      set({ reason: 'rate_dropped' }, s.rateDropped);
      set({ reason: 'rate_paused' }, s.ratePaused);
      set({ reason: 'pending' }, s.pendingRejected);
      set({ reason: 'connections' }, s.connectionsRejected);
      set({ reason: 'bad_input_silenced' }, s.badInputSilenced);
    },
  );
  m.gaugeFrom('dnswall_fairness_sources', 'Sources the daemon keeps per-source state for', [], (set) => set({}, budget()?.size ?? 0));
  m.counterFrom(
    'dnswall_fairness_kernel_dropped_total',
    'Packets to the listen addresses dropped by the kernel meter (over limits.sourceQueriesPerSecond), by family',
    ['family'],
    async (set) => {
      const k = await kernel()?.read();
      if (!k) return;
      set({ family: '4' }, k.dropped[4]);
      set({ family: '6' }, k.dropped[6]);
    },
  );
  m.gaugeFrom(
    'dnswall_fairness_kernel_top_source_dropped',
    'Packets the kernel meter dropped for each of the 10 sources with the most drops (a source is forgotten 10 min after its last drop)',
    ['source'],
    async (set) => {
      const k = await kernel()?.read();
      for (const o of k?.top ?? []) set({ source: o.source }, o.packets);
    },
  );
}
