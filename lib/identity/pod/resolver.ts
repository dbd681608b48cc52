// Pod identity: a query from a pod of this node is that pod — keyed by its IPv4 podIP for A
// answers and its IPv6 podIP for AAAA answers, whichever family carried the query — and selected
// by the policies whose pod selectors match its labels and its namespace's labels. Fed by the
// Kubernetes watch (lib/kube); keeps the kernel in step: the pod addresses the forward path
// manages (pods4/pods6), and the allow elements of an address that changed hands (deleted,
// finished, re-addressed, reused by another pod: all of its elements go) or whose policies
// shrank (relabelled pod or namespace, reload: what is no longer allowed goes).
import type { Logger } from 'pino';
import ipaddr from 'ipaddr.js';
import type { Policy, KubernetesConfig } from '../../config/types';
import type { PolicyIndex } from '../../policy/index';
import type { Selection, Source } from '../types';
import type { Query, Resolved, Resolver } from '../resolver';
import { PodSelectors } from '../../policy/pods';
import { PodAddressTable, type PodHold } from '../../kube/pod-addresses';
import { ClusterWatch, type WatchTuning } from '../../kube/cluster';
import type { KubeClient } from '../../kube/client';
import type { KubeNode, Pod } from '../../kube/types';
import { addressBytes } from '../ip';
import { stillAllowed } from '../../server/revoke';
import type { PodKernel, RevokePlan } from './kernel';
import type { HostPods, HostPod } from './host';
import { cgroupIdBytes } from '../../nft/owner';

export interface PodIdentityStats {
  /** pods of this node the watch knows (with an address) */
  watchedPods: number;
  /** of which selected by at least one policy */
  selectedPods: number;
  /** queries held for a pod the API did not show yet; of which answered SERVFAIL after the hold */
  held: number;
  heldTimedOut: number;
  /** allow elements deleted because a pod went, changed address or lost policies */
  revokedElements: number;
  /** kernel updates that failed (retried with the next change) */
  kernelErrors: number;
  /** hostNetwork pods of this node the watch knows; of which selected; of which with a pod cgroup found */
  hostNetworkPods: number;
  selectedHostNetworkPods: number;
  hostNetworkPodCgroups: number;
}

/** The revocation key of a hostNetwork pod's elements: its pod cgroup id (pod addresses are keyed by their text). */
export function cgroupKey(id: bigint): string {
  return `cgroup:${id}`;
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** A pod of this node as the daemon knows it (control op `pods`: `dnswall list`, `explain --pod`). */
export interface PodListing {
  namespace: string;
  name: string;
  uid: string;
  /** the addresses it holds now (a shared address: only its owner's) */
  addresses: string[];
  hostNetwork: boolean;
  /** hostNetwork pods: the pod cgroup, once it exists (id as decimal text) */
  cgroup?: { id: string; path: string };
  /** the policies selecting it (empty: unmanaged, judged by its address or cgroup) */
  policies: string[];
}

/** How long a revocation waits for answers already on their way for the address (an upstream's timeout). */
const INFLIGHT_WAIT_MS = 5000;

export class PodIdentity implements Resolver {
  readonly name = 'pod';
  readonly stats: PodIdentityStats = {
    watchedPods: 0,
    selectedPods: 0,
    held: 0,
    heldTimedOut: 0,
    revokedElements: 0,
    kernelErrors: 0,
    hostNetworkPods: 0,
    selectedHostNetworkPods: 0,
    hostNetworkPodCgroups: 0,
  };
  readonly watch: ClusterWatch;
  private readonly table = new PodAddressTable();
  private selectors: PodSelectors;
  private policies: readonly Policy[];
  /** policy ids per pod UID under the current selectors */
  private readonly selected = new Map<string, number[]>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private syncWaiters = new Set<() => void>();
  private podRanges: Range[] = [];
  /** addresses whose elements must be re-checked (null = drop all) */
  private plan: RevokePlan = new Map();
  /** the addresses the running kernel pass revokes */
  private passing: RevokePlan = new Map();
  private readonly fenceWaiters = new Map<string, Set<() => void>>();
  /** pod queries resolved and not yet answered, per pod address (both of a dual-stack pod's) */
  private readonly inflight = new Map<string, number>();
  private readonly idleWaiters = new Map<string, Set<() => void>>();
  private working?: Promise<void>;
  /** the first list is in and the startup sweep is planned: pod identity answers */
  ready = false;
  private previous: Promise<Set<string>> = Promise.resolve(new Set());
  private dirty = false;
  /** for tests and measurements: called after each kernel pass with the addresses it revoked */
  onKernelPass?: (revoked: string[]) => void;
  /** hostNetwork pods by pod cgroup (absent without a cgroup v2 mount: they are not identified) */
  host?: HostPods;
  /** writes the managed cgroup sets (the cgroup identity's update): a kernel pass calls it when hostNetwork pods changed */
  hostSync?: () => Promise<void>;
  private hostChanged = false;

  constructor(
    private readonly cfg: KubernetesConfig,
    private readonly client: KubeClient,
    nodeName: string,
    policies: readonly Policy[],
    private readonly index: () => PolicyIndex,
    private readonly kernel: PodKernel | null,
    private readonly log: Logger,
    tuning: WatchTuning = {},
  ) {
    this.policies = policies;
    this.selectors = new PodSelectors(policies);
    this.setRanges(cfg.podCIDRs?.map((c) => c.cidr) ?? []);
    this.watch = new ClusterWatch(client, nodeName, { pod: (o, n) => this.onPod(o, n), namespace: (ns) => this.onNamespace(ns), node: (n) => this.onNode(n) }, log, tuning);
  }

  start(): void {
    // what the previous daemon managed as pod addresses, read before this one's first write
    this.previous = this.kernel
      ? this.kernel.previousPods().catch((err: unknown) => {
          this.log.warn({ err: (err as Error).message }, 'kubernetes: the previous pod addresses (pods4/pods6) could not be read; only pod-CIDR addresses are swept');
          return new Set<string>();
        })
      : Promise.resolve(new Set<string>());
    this.watch.start();
    void this.watch.synced().then(async () => {
      const swept = await this.sweepPlan();
      this.ready = true;
      this.log.info(
        { pods: this.table.size, selected: this.stats.selectedPods, podCIDRs: this.podRanges.map(([a, p]) => `${a.toString()}/${p}`), sweep: swept },
        'kubernetes: first list in; pod identity active',
      );
      for (const w of this.syncWaiters) w();
      this.syncWaiters.clear();
      this.schedule();
    });
  }

  /**
   * Startup cleanup, once the first list is in: the live elements of an address that was a pod's
   * (the previous daemon's pods4/pods6, or inside the pod CIDRs) are judged like a reload — no
   * pod holds it now (deleted while no daemon ran): all go; a selected pod holds it: what its
   * policies do not allow goes; an unselected pod: what its address's CIDR policies do not allow.
   * The first kernel pass carries it out. Returns how many addresses were planned.
   */
  private async sweepPlan(): Promise<number> {
    if (!this.kernel) return 0;
    let n = 0;
    try {
      const previous = await this.previous;
      const live = await this.kernel.liveSources();
      for (const a of live) {
        if (!previous.has(a) && !this.inPodCIDRs(a)) continue;
        const owner = this.table.owner(a);
        if (!owner) this.plan.set(a, null);
        else if ((this.selected.get(owner.uid) ?? []).length) this.plan.set(a, this.keeper(owner.uid));
        else this.plan.set(a, this.addressKeeper(a));
        n++;
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'kubernetes: the startup sweep could not read the live elements; they expire on their own');
    }
    return n;
  }

  /** An address judged as an IP source (its CIDR policies), as reload does. */
  private addressKeeper(address: string): (name: string, k: Parameters<typeof stillAllowed>[0]) => boolean {
    const family = address.includes(':') ? 6 : 4;
    return (name, k) => stillAllowed(k, this.index().decideAddress({ address, family }, name));
  }

  async stop(): Promise<void> {
    await this.watch.stop();
    await this.working;
    this.client.close();
  }

  // ---- the query path

  resolve(q: Query, index: PolicyIndex): Resolved | Promise<Resolved> {
    const address = q.peer.address;
    const owner = this.table.owner(address);
    if (owner && this.ready) {
      // The address changed hands or its policies shrank and the revocation has not run yet:
      // an answer now would program elements that the revocation then deletes (or that it must
      // delete and does not see). Wait for the pass, bounded like a hold.
      if (this.fenced(address)) {
        return this.afterFence(address).then((ok) =>
          ok ? this.resolve(q, this.index()) : { unattributable: `the revocation for ${address} did not finish within ${this.cfg.unknownPodHoldMs} ms` },
        );
      }
      return this.sourceOf(owner, q, index);
    }
    if (!this.inPodCIDRs(address)) return null;
    // an address of this node's pods that no known pod holds (yet): wait for the pod, bounded
    this.stats.held++;
    return this.hold(address).then((h) => {
      if (h) return this.resolve(q, this.index());
      this.stats.heldTimedOut++;
      return { unattributable: this.ready ? `no pod of this node holds ${address} (waited ${this.cfg.unknownPodHoldMs} ms)` : 'the pod list is not in yet' };
    });
  }

  /** The identity plugin hands over each pod query's completion: a revocation waits for them. */
  settled(source: Source, done: Promise<unknown>): void {
    const addrs: string[] = [];
    if (source.kind === 'cgroup') {
      if (source.cgroup) addrs.push(cgroupKey(source.cgroup.keyId)); // a hostNetwork pod
    } else for (const k of [source.keys[4], source.keys[6]]) if (k) addrs.push(ipaddr.fromByteArray([...k]).toString());
    for (const a of addrs) this.inflight.set(a, (this.inflight.get(a) ?? 0) + 1);
    const end = () => {
      for (const a of addrs) {
        const n = (this.inflight.get(a) ?? 1) - 1;
        if (n > 0) {
          this.inflight.set(a, n);
          continue;
        }
        this.inflight.delete(a);
        wake(this.idleWaiters, a);
      }
    };
    done.then(end, end);
  }

  /**
   * hostNetwork pods (asked by the cgroup resolver for a local socket's cgroup id): the Source of
   * a selected hostNetwork pod whose pod cgroup is `id` or an ancestor — keyed by the pod
   * cgroup's id in the cgroup sets — or null (not such a pod's: configured cgroups, then the
   * address decide). Before the first list is in, a local sender waits for it (bounded).
   */
  hostSource(id: bigint, q: Query, index: PolicyIndex): Resolved | Promise<Resolved> {
    const host = this.host;
    if (!host) return null;
    if (!this.ready) {
      return this.afterSync().then((ok) =>
        ok ? this.hostSource(id, q, this.index()) : { unattributable: 'the pod list is not in yet (a local sender may be a hostNetwork pod)' },
      );
    }
    if (host.size === 0) return null;
    const hit = host.locate(id);
    if (!hit || hit.pod.id === undefined) return null;
    const h = hit.pod;
    const key = cgroupKey(h.id!);
    if (this.fenced(key)) {
      return this.afterFence(key).then((ok) =>
        ok ? this.hostSource(id, q, this.index()) : { unattributable: `the revocation for ${h.namespace}/${h.name} did not finish within ${this.cfg.unknownPodHoldMs} ms` },
      );
    }
    const ids = this.selected.get(h.uid) ?? [];
    const selection = ids.length ? index.selectPolicies(ids) : null;
    if (!selection) return null;
    const k = cgroupIdBytes(h.id!);
    return {
      kind: 'cgroup',
      address: q.peer.address,
      family: q.peer.family,
      port: q.peer.port,
      selection,
      keys: { 4: k, 6: k },
      display: `${q.peer.address} ${h.namespace}/${h.name} (hostNetwork)`,
      cgroup: { id, path: hit.path, keyId: h.id!, keyPath: h.path! },
      pod: { namespace: h.namespace, name: h.name, uid: h.uid },
    };
  }

  /** Local senders may be selected hostNetwork pods: before the first list (not known yet), or while one is selected. */
  wantsLocal(): boolean {
    return !!this.host && (!this.ready || this.stats.selectedHostNetworkPods > 0);
  }

  /** The selected hostNetwork pods' cgroup ids with their selection in `index` (the managed cgroup sets). */
  hostManaged(index: PolicyIndex): { id: bigint; path: string; selection: Selection }[] {
    const out: { id: bigint; path: string; selection: Selection }[] = [];
    for (const h of this.host?.all() ?? []) {
      const ids = this.selected.get(h.uid) ?? [];
      const sel = ids.length && h.id !== undefined ? index.selectPolicies(ids) : null;
      if (sel && h.id !== undefined) out.push({ id: h.id, path: h.path!, selection: sel });
    }
    return out;
  }

  /** Looks for hostNetwork pods' cgroups made since (the cgroup identity's periodic check); true when one was found. */
  refreshHost(): boolean {
    const found = this.host?.refresh() ?? false;
    if (found) this.updateStats();
    return found;
  }

  /** Resolves true once the first list is in; false after the hold bound. */
  private afterSync(): Promise<boolean> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.syncWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.syncWaiters.delete(done);
        resolve(false);
      }, this.cfg.unknownPodHoldMs);
      this.syncWaiters.add(done);
    });
  }

  private fenced(address: string): boolean {
    return this.kernel !== null && (this.plan.has(address) || this.passing.has(address));
  }

  /** Resolves true once no pending or running revocation covers `address`; false after the hold bound. */
  private afterFence(address: string): Promise<boolean> {
    return waitOn(this.fenceWaiters, address, this.cfg.unknownPodHoldMs);
  }

  /** Waits until no query resolved for these addresses is still on its way to the kernel (bounded). */
  private async quiesce(addresses: Iterable<string>): Promise<void> {
    await Promise.all([...addresses].filter((a) => this.inflight.has(a)).map((a) => waitOn(this.idleWaiters, a, INFLIGHT_WAIT_MS)));
  }

  private sourceOf(h: PodHold, q: Query, index: PolicyIndex): Resolved {
    const ids = this.selected.get(h.uid) ?? [];
    const selection: Selection | null = ids.length ? index.selectPolicies(ids) : null;
    if (!selection) return null; // not selected by a pod selector: the IP identity decides (CIDR sources)
    const keys: Source['keys'] = {};
    if (h.addresses[4]) keys[4] = addressBytes(h.addresses[4]);
    if (h.addresses[6]) keys[6] = addressBytes(h.addresses[6]);
    return { kind: 'pod', address: q.peer.address, family: q.peer.family, port: q.peer.port, selection, keys, display: `${q.peer.address} ${h.namespace}/${h.name}` };
  }

  private hold(address: string): Promise<PodHold | undefined> {
    return new Promise((resolve) => {
      let done = false;
      const check = () => {
        if (done) return;
        const h = this.ready ? this.table.owner(address) : undefined;
        if (!h) return;
        finish(h);
      };
      const finish = (h: PodHold | undefined) => {
        done = true;
        clearTimeout(timer);
        this.waiters.get(address)?.delete(check);
        this.syncWaiters.delete(check);
        resolve(h);
      };
      const timer = setTimeout(() => finish(undefined), this.cfg.unknownPodHoldMs);
      const set = this.waiters.get(address) ?? new Set();
      set.add(check);
      this.waiters.set(address, set);
      this.syncWaiters.add(check);
      check();
    });
  }

  private inPodCIDRs(address: string): boolean {
    if (this.podRanges.length === 0) return false;
    let a: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      a = ipaddr.parse(address);
    } catch {
      return false;
    }
    return this.podRanges.some((r) => r[0].kind() === a.kind() && a.match(r));
  }

  private setRanges(cidrs: string[]): void {
    this.podRanges = cidrs.flatMap((c) => {
      try {
        return [ipaddr.parseCIDR(c)];
      } catch {
        return [];
      }
    });
  }

  // ---- changes from the watch

  private facts(p: Pod) {
    return { labels: p.metadata.labels, namespaceLabels: this.watch.namespaceLabels(p.metadata.namespace ?? '') };
  }

  private owners(addresses: Iterable<string>): Map<string, string | undefined> {
    const m = new Map<string, string | undefined>();
    for (const a of addresses) m.set(a, this.table.owner(a)?.uid);
    return m;
  }

  /** After a change: an address whose owner changed loses everything; one whose owner's policies changed is re-decided. */
  private settle(before: Map<string, string | undefined>, reselectUids: Set<string>): void {
    // Before the first list is in, only who is there is learned: the startup sweep (sweepPlan) judges what a previous daemon programmed.
    if (!this.ready) return this.updateStats();
    for (const [a, was] of before) {
      const now = this.table.owner(a)?.uid;
      if (now !== was) this.plan.set(a, null);
      else if (now && reselectUids.has(now) && !this.plan.has(a)) this.plan.set(a, this.keeper(now));
    }
    this.schedule();
  }

  private onPod(old: Pod | undefined, now: Pod | undefined): void {
    if ((now ?? old)!.spec?.hostNetwork) return this.onHostPod(old, now);
    const touched = new Set<string>();
    const uid = (now ?? old)!.metadata.uid;
    for (const a of Object.values(this.table.get(uid)?.addresses ?? {})) touched.add(a as string);
    const before = this.owners([...touched, ...addrsOf(now)]);
    for (const a of addrsOf(now)) touched.add(a);
    if (now) this.table.set(now);
    else this.table.remove(uid);
    const reselect = new Set<string>();
    const h = this.table.get(uid);
    if (h) {
      const prev = this.selected.get(uid);
      const ids = this.selectors.select(this.facts(h.pod));
      this.selected.set(uid, ids);
      if (prev && !sameIds(prev, ids)) reselect.add(uid);
    } else this.selected.delete(uid);
    this.settle(before, reselect);
    for (const a of touched) for (const w of this.waiters.get(a) ?? []) w();
  }

  /** A hostNetwork pod: known by its pod cgroup; deleted or finished → its elements go; selection changed → re-decided. */
  private onHostPod(old: Pod | undefined, now: Pod | undefined): void {
    const host = this.host;
    if (!host) return this.updateStats();
    const uid = (now ?? old)!.metadata.uid;
    const before = host.get(uid)?.id;
    const prev = this.selected.get(uid);
    if (now) host.set(now);
    else host.remove(uid);
    const h = host.get(uid);
    let reselect = false;
    if (h) {
      const ids = this.selectors.select(this.facts(h.pod));
      this.selected.set(uid, ids);
      reselect = !!prev && !sameIds(prev, ids);
    } else this.selected.delete(uid);
    this.hostChanged = true;
    if (this.ready && before !== undefined) {
      const key = cgroupKey(before);
      if (!h || h.id !== before) this.plan.set(key, null);
      else if (reselect && !this.plan.has(key)) this.plan.set(key, this.keeper(uid));
    }
    this.schedule();
  }

  private onNamespace(ns: string): void {
    this.reselectWhere((h) => h.namespace === ns);
  }

  private onNode(n: KubeNode | undefined): void {
    if (this.cfg.podCIDRs) return; // configured: the Node object does not override it
    const cidrs = n?.spec?.podCIDRs?.length ? n.spec.podCIDRs : n?.spec?.podCIDR ? [n.spec.podCIDR] : [];
    this.setRanges(cidrs);
  }

  /** A reload: new policies (and a new index, swapped by the caller in the same tick). */
  setPolicies(policies: readonly Policy[]): void {
    this.policies = policies;
    this.selectors = new PodSelectors(policies);
    this.reselectWhere(() => true, true);
  }

  private reselectWhere(pred: (h: { namespace: string }) => boolean, all = false): void {
    this.reselectHost(pred, all);
    const changed = new Set<string>();
    const addrs: string[] = [];
    for (const h of this.table.holds()) {
      if (!pred(h)) continue;
      const prev = this.selected.get(h.uid) ?? [];
      const ids = this.selectors.select(this.facts(h.pod));
      this.selected.set(h.uid, ids);
      if (all || !sameIds(prev, ids)) {
        changed.add(h.uid);
        addrs.push(...(Object.values(h.addresses) as string[]));
      }
    }
    if (changed.size) this.settle(this.owners(addrs), changed);
  }

  private reselectHost(pred: (h: HostPod) => boolean, all: boolean): void {
    let changed = false;
    for (const h of this.host?.all() ?? []) {
      if (!pred(h)) continue;
      const prev = this.selected.get(h.uid) ?? [];
      const ids = this.selectors.select(this.facts(h.pod));
      this.selected.set(h.uid, ids);
      if (!all && sameIds(prev, ids)) continue;
      changed = true;
      const key = h.id !== undefined ? cgroupKey(h.id) : undefined;
      if (key && this.ready && !this.plan.has(key)) this.plan.set(key, this.keeper(h.uid));
    }
    if (changed) {
      this.hostChanged = true;
      this.schedule();
    }
  }

  /** Whether an element of pod `uid` is still allowed by its current policies (as reload does). */
  private keeper(uid: string): (name: string, k: Parameters<typeof stillAllowed>[0]) => boolean {
    return (name, k) => {
      const ids = this.selected.get(uid) ?? [];
      const index = this.index();
      const sel = ids.length ? index.selectPolicies(ids) : null;
      return sel !== null && stillAllowed(k, index.decide(sel, name));
    };
  }

  /** For reload revocation: the decision basis of a pod address (undefined = not a selected pod). */
  podSelection(address: string, index: PolicyIndex): Selection | null | undefined {
    if (address.startsWith('cgroup:')) {
      // a hostNetwork pod's cgroup id: its pod's selection (a removed pod's: none, revoked)
      const id = BigInt(address.slice('cgroup:'.length));
      for (const h of this.host?.all() ?? []) {
        if (h.id !== id) continue;
        const ids = this.selected.get(h.uid) ?? [];
        return ids.length ? index.selectPolicies(ids) : null;
      }
      return undefined;
    }
    const h = this.table.owner(address);
    if (!h) return undefined;
    const ids = this.selected.get(h.uid) ?? [];
    return ids.length ? index.selectPolicies(ids) : undefined;
  }

  /** Every pod of this node the watch knows (with an address, or hostNetwork). */
  listPods(): PodListing[] {
    const names = (uid: string) => (this.selected.get(uid) ?? []).map((i) => this.policies[i]?.name).filter((n): n is string => n !== undefined);
    const out: PodListing[] = [];
    for (const h of this.table.holds()) {
      const addresses = (Object.values(h.addresses) as string[]).filter((a) => this.table.owner(a)?.uid === h.uid);
      out.push({ namespace: h.namespace, name: h.name, uid: h.uid, addresses, hostNetwork: false, policies: names(h.uid) });
    }
    for (const h of this.host?.all() ?? []) {
      out.push({
        namespace: h.namespace,
        name: h.name,
        uid: h.uid,
        addresses: [],
        hostNetwork: true,
        ...(h.id !== undefined ? { cgroup: { id: String(h.id), path: h.path! } } : {}),
        policies: names(h.uid),
      });
    }
    return out;
  }

  /** The pod holding an address, for logs / list / explain. */
  podOf(address: string): { namespace: string; name: string; uid: string } | undefined {
    const h = this.table.owner(address);
    return h && { namespace: h.namespace, name: h.name, uid: h.uid };
  }

  findPod(namespace: string, name: string): PodHold | undefined {
    for (const h of this.table.holds()) if (h.namespace === namespace && h.name === name) return h;
    return undefined;
  }

  // ---- kernel pass (one at a time; changes during a pass make another)

  private schedule(): void {
    this.updateStats();
    if (!this.kernel || !this.ready) return;
    this.dirty = true;
    if (this.working) return;
    this.working = (async () => {
      while (this.dirty) {
        this.dirty = false;
        const plan = this.plan;
        this.plan = new Map();
        this.passing = plan;
        try {
          await this.previous; // read before the first write replaces pods4/pods6
          await this.kernel!.managed(this.selectedAddresses());
          if (this.hostChanged && this.hostSync) {
            // hostNetwork pods: the managed cgroup sets first (a pod no longer selected is unmanaged)
            this.hostChanged = false;
            await this.hostSync().catch((e: unknown) => {
              this.hostChanged = true;
              throw e;
            });
          }
          // answers already on their way for these addresses land first, then are judged
          await this.quiesce(plan.keys());
          this.stats.revokedElements += await this.kernel!.revoke(plan);
          this.passing = new Map();
          for (const a of plan.keys()) {
            if (this.plan.has(a)) continue; // changed again meanwhile: the next pass releases it
            wake(this.fenceWaiters, a);
          }
          this.onKernelPass?.([...plan.keys()]);
        } catch (err) {
          this.passing = new Map();
          this.stats.kernelErrors++;
          this.log.error({ err: (err as Error).message }, 'kubernetes: kernel update for pod changes failed; retrying');
          for (const [a, k] of plan) if (!this.plan.has(a)) this.plan.set(a, k);
          await new Promise((r) => setTimeout(r, 500));
          this.dirty = true;
        }
      }
      this.working = undefined;
    })();
  }

  private selectedAddresses(): Set<string> {
    const out = new Set<string>();
    for (const h of this.table.holds()) {
      if (this.table.owner(h.addresses[4] ?? h.addresses[6]!)?.uid !== h.uid && this.table.owner(h.addresses[6] ?? h.addresses[4]!)?.uid !== h.uid) continue;
      if ((this.selected.get(h.uid) ?? []).length === 0) continue;
      for (const a of Object.values(h.addresses) as string[]) if (this.table.owner(a)?.uid === h.uid) out.add(a);
    }
    return out;
  }

  private updateStats(): void {
    this.stats.watchedPods = this.table.size;
    let n = 0;
    let hostSelected = 0;
    let hostFound = 0;
    for (const h of this.host?.all() ?? []) {
      if ((this.selected.get(h.uid) ?? []).length) hostSelected++;
      if (h.id !== undefined) hostFound++;
    }
    for (const ids of this.selected.values()) if (ids.length) n++;
    this.stats.selectedPods = n - hostSelected;
    this.stats.hostNetworkPods = this.host?.size ?? 0;
    this.stats.selectedHostNetworkPods = hostSelected;
    this.stats.hostNetworkPodCgroups = hostFound;
  }
}

function addrsOf(p: Pod | undefined): string[] {
  if (!p) return [];
  const out: string[] = [];
  for (const x of p.status?.podIPs ?? (p.status?.podIP ? [{ ip: p.status.podIP }] : [])) {
    try {
      out.push(ipaddr.process(x.ip).toString());
    } catch {
      /* not an address */
    }
  }
  return out;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Resolves true when `wake(waiters, key)` runs, false after `ms`. */
function waitOn(waiters: Map<string, Set<() => void>>, key: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiters.get(key)?.delete(done);
      resolve(false);
    }, ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const set = waiters.get(key) ?? new Set();
    set.add(done);
    waiters.set(key, set);
  });
}

function wake(waiters: Map<string, Set<() => void>>, key: string): void {
  for (const w of waiters.get(key) ?? []) w();
  waiters.delete(key);
}
