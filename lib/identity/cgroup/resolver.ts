// The cgroup identity of local senders: a query whose source address is this namespace's own
// (loopback or a local address) came from a socket here — a host process or a hostNetwork pod —
// and that socket's cgroup is who asked. One sock_diag lookup per such query; pods in their own
// namespaces never get here (LocalAddresses says no in one Set lookup).
import type { Logger } from 'pino';
import type { PolicyIndex } from '../../policy/index';
import type { Resolver, Resolved, Query } from '../resolver';
import type { Source } from '../types';
import type { CgroupTree } from './tree';
import type { LocalAddresses } from './local';
import type { SockDiag } from './sockdiag';
import { deepestConfigured } from './ancestors';
import { cgroupIdBytes } from '../../nft/owner';

/** Makes a configured cgroup's current id managed in the kernel before its sender is answered. */
export interface ManagedIds {
  has(id: bigint): boolean;
  /** Re-read the configured cgroups and write the managed set; resolves once committed. */
  update(): Promise<void>;
}

/** hostNetwork pods by pod cgroup (lib/identity/pod): asked first for a local socket's cgroup id. */
export interface HostPodSources {
  /** Whether local senders may be selected hostNetwork pods (before the first list: maybe). */
  wantsLocal(): boolean;
  hostSource(id: bigint, q: Query, index: PolicyIndex): Resolved | Promise<Resolved>;
  settled?(source: Source, done: Promise<unknown>): void;
}

export class CgroupResolver implements Resolver {
  readonly name = 'cgroup';
  private readonly keys = new Map<bigint, Buffer>();
  /** set once the Kubernetes watch runs (hostNetwork pods) */
  pods?: HostPodSources;

  constructor(
    private readonly tree: CgroupTree,
    private readonly diag: Pick<SockDiag, 'lookup'>,
    private readonly local: Pick<LocalAddresses, 'has'>,
    /** absent in audit mode: nothing is written to the kernel */
    private readonly managed?: ManagedIds,
    private readonly log?: Logger,
  ) {}

  resolve(q: Query, index: PolicyIndex): Resolved | Promise<Resolved> {
    // no cgroup sources and no selected hostNetwork pod: local senders are judged by address, no lookup
    if ((index.cgroups.length === 0 && !this.pods?.wantsLocal()) || !this.local.has(q.peer.address)) return null;
    return this.lookup(q, index);
  }

  /** A hostNetwork pod's query is handed to the pod identity (a revocation waits for it). */
  settled(source: Source, done: Promise<unknown>): void {
    if (source.pod) this.pods?.settled?.(source, done);
  }

  private async lookup(q: Query, index: PolicyIndex): Promise<Resolved> {
    const r = await this.diag.lookup({ transport: q.transport, family: q.peer.family, peer: q.peer, local: q.local });
    if ('error' in r) return { unattributable: `no socket found for ${q.transport} ${q.peer.address}:${q.peer.port} (${r.error})` };
    if (this.pods?.wantsLocal()) {
      const pod = await this.pods.hostSource(r.id, q, index);
      if (pod !== null) return 'unattributable' in pod ? pod : this.managedFirst(pod);
    }
    if (index.cgroups.length === 0) return null;
    const path = this.tree.locate(r.id);
    // Under no configured cgroup: its address decides, as for any sender (usually unmanaged).
    if (path === null) return null;
    const keyPath = deepestConfigured(
      index.cgroups.map((c) => c.path),
      path,
    );
    if (keyPath === undefined) return null;
    let keyId = this.tree.idOf(keyPath);
    if (keyId === undefined || (this.managed && !this.managed.has(keyId))) {
      // Created or re-created since the last look: managed in the kernel before the answer.
      if (this.managed) await this.managed.update();
      else this.tree.refresh();
      keyId = this.tree.idOf(keyPath);
      if (keyId === undefined || (this.managed && !this.managed.has(keyId))) return { unattributable: `cgroup ${keyPath} could not be made managed` };
      this.log?.info({ cgroup: keyPath, id: String(keyId) }, 'cgroup (re)created: managed');
    }
    const key = this.keyFor(keyId);
    const source: Source = {
      kind: 'cgroup',
      address: q.peer.address,
      family: q.peer.family,
      port: q.peer.port,
      selection: index.selectCgroup(path),
      keys: { 4: key, 6: key },
      display: path,
      cgroup: { id: r.id, path, keyId, keyPath },
    };
    return source;
  }

  /** A hostNetwork pod's cgroup seen for the first time: in the managed sets before its answer. */
  private async managedFirst(s: Source): Promise<Resolved> {
    const id = s.cgroup!.keyId;
    if (!this.managed || this.managed.has(id)) return s;
    await this.managed.update();
    if (!this.managed.has(id)) return { unattributable: `the cgroup of ${s.display} could not be made managed` };
    this.log?.info({ pod: s.display, cgroup: s.cgroup!.keyPath, id: String(id) }, 'hostNetwork pod cgroup: managed');
    return s;
  }

  private keyFor(id: bigint): Buffer {
    let k = this.keys.get(id);
    if (!k) {
      if (this.keys.size >= 4096) this.keys.clear();
      k = cgroupIdBytes(id);
      this.keys.set(id, k);
    }
    return k;
  }
}
