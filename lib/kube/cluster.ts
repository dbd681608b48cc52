// The three watches pod identity needs, as one object: the pods of this node (field selector
// spec.nodeName), all namespaces (for namespaceSelector; namespaces are few and change rarely),
// and this Node (for spec.podCIDRs). Emits plain changes; no policy here.
import type { Logger } from 'pino';
import type { KubeClient } from './client';
import { Reflector, type ReflectorOptions, type ReflectorStats } from './reflector';
import type { KubeNode, Namespace, Pod } from './types';

export interface ClusterHandlers {
  /** old = undefined: added; now = undefined: deleted; both: updated (same UID) */
  pod(old: Pod | undefined, now: Pod | undefined): void;
  namespace(name: string): void;
  node(node: KubeNode | undefined): void;
}

export type WatchTuning = Partial<Omit<ReflectorOptions, 'path' | 'fieldSelector' | 'labelSelector'>>;

export class ClusterWatch {
  readonly pods: Reflector<Pod>;
  readonly namespaces: Reflector<Namespace>;
  readonly nodes: Reflector<KubeNode>;

  constructor(
    client: KubeClient,
    readonly nodeName: string,
    h: ClusterHandlers,
    log: Logger,
    tuning: WatchTuning = {},
  ) {
    this.pods = new Reflector<Pod>(
      client,
      { ...tuning, path: '/api/v1/pods', fieldSelector: `spec.nodeName=${nodeName}` },
      { add: (p) => h.pod(undefined, p), update: (o, p) => h.pod(o, p), delete: (p) => h.pod(p, undefined) },
      log.child({ watch: 'pods' }),
    );
    this.namespaces = new Reflector<Namespace>(
      client,
      { ...tuning, path: '/api/v1/namespaces' },
      { add: (n) => h.namespace(n.metadata.name), update: (_o, n) => h.namespace(n.metadata.name), delete: (n) => h.namespace(n.metadata.name) },
      log.child({ watch: 'namespaces' }),
    );
    this.nodes = new Reflector<KubeNode>(
      client,
      { ...tuning, path: '/api/v1/nodes', fieldSelector: `metadata.name=${nodeName}` },
      { add: (n) => h.node(n), update: (_o, n) => h.node(n), delete: () => h.node(undefined) },
      log.child({ watch: 'node' }),
    );
  }

  start(): void {
    // namespaces first: a pod's selection needs its namespace's labels
    this.namespaces.start();
    this.nodes.start();
    this.pods.start();
  }

  /** Resolves when namespaces, the node and the pods have each been listed once. */
  async synced(): Promise<void> {
    await Promise.all([this.namespaces.synced(), this.nodes.synced(), this.pods.synced()]);
  }

  get hasSynced(): boolean {
    return this.namespaces.hasSynced && this.nodes.hasSynced && this.pods.hasSynced;
  }

  namespaceLabels(name: string): Record<string, string> | undefined {
    const ns = this.namespaces.store.get(name);
    return ns ? (ns.metadata.labels ?? {}) : undefined;
  }

  node(): KubeNode | undefined {
    return this.nodes.store.get(this.nodeName);
  }

  stats(): Record<'pods' | 'namespaces' | 'node', ReflectorStats> {
    return { pods: this.pods.stats, namespaces: this.namespaces.stats, node: this.nodes.stats };
  }

  async stop(): Promise<void> {
    await Promise.all([this.pods.stop(), this.namespaces.stop(), this.nodes.stop()]);
  }
}
