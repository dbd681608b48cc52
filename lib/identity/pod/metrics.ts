// Pod identity's metrics: the pods of this node the watch knows and selects, queries held for a
// pod the API had not shown yet, revocations, and the Kubernetes watch behind it (lists, 410s,
// stalls, errors per resource).
import type { Metrics } from '../../metrics/registry';
import type { PodIdentityStats } from './resolver';
import type { ReflectorStats } from '../../kube/reflector';

/** What the metrics read of a PodIdentity. */
export interface PodIdentityView {
  readonly stats: PodIdentityStats;
  readonly watch: { readonly hasSynced: boolean; stats(): Record<string, ReflectorStats> };
}

export function registerPodMetrics(m: Metrics, pods: () => PodIdentityView | undefined): void {
  m.gaugeFrom(
    'dnswall_pods',
    'Pods of this node the watch knows (watched: with an address; selected: by a policy), and hostNetwork pods (host_network; _selected; _cgroup_found: their pod cgroup found)',
    ['state'],
    (set) => {
      const p = pods();
      if (!p) return;
      set({ state: 'watched' }, p.stats.watchedPods);
      set({ state: 'selected' }, p.stats.selectedPods);
      set({ state: 'host_network' }, p.stats.hostNetworkPods);
      set({ state: 'host_network_selected' }, p.stats.selectedHostNetworkPods);
      set({ state: 'host_network_cgroup_found' }, p.stats.hostNetworkPodCgroups);
    },
  );
  m.counterFrom(
    'dnswall_pod_held_queries_total',
    'Queries from a pod-CIDR address no known pod held, held for the watch (outcome: held, timed_out = answered SERVFAIL after kubernetes.unknownPodHoldMs)',
    ['outcome'],
    (set) => {
      const p = pods();
      if (!p) return;
      set({ outcome: 'held' }, p.stats.held);
      set({ outcome: 'timed_out' }, p.stats.heldTimedOut);
    },
  );
  m.counterFrom('dnswall_pod_revoked_elements_total', 'Allow elements deleted because a pod went, changed address or lost policies', [], (set) => {
    const p = pods();
    if (p) set({}, p.stats.revokedElements);
  });
  m.counterFrom('dnswall_pod_kernel_errors_total', 'Pod set / revocation kernel updates that failed (retried with the next change)', [], (set) => {
    const p = pods();
    if (p) set({}, p.stats.kernelErrors);
  });
  m.gaugeFrom('dnswall_kube_synced', '1 once the first list of pods, namespaces and the node is in (pod identity active)', [], (set) => {
    const p = pods();
    if (p) set({}, p.watch.hasSynced ? 1 : 0);
  });
  m.counterFrom('dnswall_kube_watch_events_total', 'Kubernetes list/watch events by resource (lists, relists, watches, events, bookmarks)', ['resource', 'event'], (set) => {
    const p = pods();
    if (!p) return;
    for (const [resource, s] of Object.entries(p.watch.stats())) {
      for (const event of ['lists', 'relists', 'watches', 'events', 'bookmarks'] as const) set({ resource, event }, s[event]);
    }
  });
  m.counterFrom(
    'dnswall_kube_watch_errors_total',
    'Failed Kubernetes LIST/WATCH requests by resource and kind (gone: 410, stall: no data for the idle bound, other)',
    ['resource', 'kind'],
    (set) => {
      const p = pods();
      if (!p) return;
      for (const [resource, s] of Object.entries(p.watch.stats())) {
        set({ resource, kind: 'gone' }, s.gone);
        set({ resource, kind: 'stall' }, s.stalls);
        set({ resource, kind: 'other' }, Math.max(0, s.errors - s.gone - s.stalls));
      }
    },
  );
}
