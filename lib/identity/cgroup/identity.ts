// Wiring of the cgroup identity for the daemon: the configured cgroups on disk (tree), the
// sock_diag socket, the local addresses, and the kernel's managed-cgroup sets — kept current
// when a configured cgroup is created, re-created (a restarted service gets a new id) or removed:
// at once on an inotify event of its parent directory, every 2 s as a backstop, and before the
// first answer to a sender in a cgroup not seen before.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/types';
import type { PolicyIndex } from '../../policy/index';
import { CgroupTree } from './tree';
import { SockDiag } from './sockdiag';
import { LocalAddresses } from './local';
import { CgroupResolver, type ManagedIds, type HostPodSources } from './resolver';
import type { Selection } from '../types';
import { ManagedCgroups, type ManagedCgroup } from '../../nft/cgroups';

const CHECK_MS = 2000;

export interface CgroupIdentityOptions {
  /** the cgroup v2 mount point */
  mount: string;
  cfg: Config;
  index: PolicyIndex;
  /** write the kernel sets (enforce mode) */
  enforce: boolean;
  log: Logger;
}

export class CgroupIdentity implements ManagedIds {
  readonly tree: CgroupTree;
  readonly diag = new SockDiag();
  readonly local: LocalAddresses;
  readonly resolver: CgroupResolver;
  private readonly sets: ManagedCgroups | null;
  private cfg: Config;
  private index: PolicyIndex;
  private timer: NodeJS.Timeout | null = null;
  private watchers: fs.FSWatcher[] = [];
  private updating: Promise<void> | null = null;
  /** the last write failed: the next check writes again even without a change */
  private dirty = false;
  /** every id a configured path has had while we ran → that path (ids are never reused) */
  private readonly keyPaths = new Map<bigint, string>();
  /** hostNetwork pods (the Kubernetes watch): their pod cgroups are managed too */
  private pods?: HostPodSources & {
    hostManaged(index: PolicyIndex): { id: bigint; selection: Selection }[];
    /** looks for the pod cgroups kubelet has made since; true when one was found */
    refreshHost(): boolean;
  };

  constructor(private readonly opts: CgroupIdentityOptions) {
    this.cfg = opts.cfg;
    this.index = opts.index;
    this.tree = new CgroupTree(
      opts.mount,
      opts.index.cgroups.map((c) => c.path),
    );
    this.local = new LocalAddresses(opts.cfg.listen.map((e) => e.host));
    this.sets = opts.enforce ? new ManagedCgroups(opts.cfg.nftables.table) : null;
    this.resolver = new CgroupResolver(this.tree, this.diag, this.local, this.sets ? this : undefined, opts.log.child({ part: 'cgroup' }));
  }

  /** Write the managed sets, then follow the configured cgroups and the local addresses. */
  async start(): Promise<void> {
    await this.update();
    this.local.follow();
    this.watch();
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  /** hostNetwork pods are identified by their pod cgroup from now on (the pod identity runs). */
  setPods(pods: NonNullable<CgroupIdentity['pods']>): void {
    this.pods = pods;
    this.resolver.pods = pods;
  }

  has(id: bigint): boolean {
    return this.sets ? this.sets.has(id) : true;
  }

  /** Re-read the configured cgroups' ids and write the kernel sets; concurrent callers share one write. */
  update(): Promise<void> {
    if (this.updating) return this.updating;
    const p = (async () => {
      this.tree.refresh();
      for (const [path, id] of this.tree.ids()) this.keyPaths.set(id, path);
      if (!this.sets) return;
      try {
        await this.sets.write(this.wanted());
        this.dirty = false;
      } catch (e) {
        this.dirty = true;
        throw e;
      }
    })().finally(() => {
      if (this.updating === p) this.updating = null;
    });
    this.updating = p;
    return p;
  }

  /** A new configuration (reload): new paths, new static destinations; written before this resolves. */
  async reconfigure(cfg: Config, index: PolicyIndex): Promise<void> {
    this.cfg = cfg;
    this.index = index;
    this.tree.reconfigure(index.cgroups.map((c) => c.path));
    this.unwatch();
    this.watch();
    await this.update();
  }

  /**
   * The path of a cgroup id that keys elements (revocation): null when the cgroup is gone — its
   * elements can never match again — so revocation treats it as selected by no policy.
   */
  pathOf(id: bigint): string | null {
    const known = this.keyPaths.get(id);
    if (known !== undefined) return known;
    const p = this.tree.find(id);
    if (p !== null) this.keyPaths.set(id, p);
    return p;
  }

  /** Each existing configured cgroup with the allowCIDRs of every policy selecting it. */
  wanted(): ManagedCgroup[] {
    const cidrs = new Map(this.cfg.policies.map((p) => [p.name, p.allowCIDRs.map((c) => c.cidr)]));
    const of = (sel: Selection | null) => [...new Set((sel?.names ?? []).flatMap((n) => cidrs.get(n) ?? []))];
    return [
      ...[...this.tree.ids()].map(([p, id]) => ({ id, allowCIDRs: of(this.index.selectCgroup(p)) })),
      // selected hostNetwork pods, by pod cgroup (a pod that is also in a configured cgroup: both ids)
      ...(this.pods?.hostManaged(this.index) ?? []).map((h) => ({ id: h.id, allowCIDRs: of(h.selection) })),
    ];
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unwatch();
    this.local.close();
    this.diag.close();
    this.sets?.close();
  }

  /** inotify on each configured cgroup's parent (or nearest existing ancestor): mkdir/rmdir there is a (re)creation. */
  private watch(): void {
    const dirs = new Set<string>();
    for (const p of this.tree.paths) {
      let d = path.dirname(this.tree.dir(p));
      while (!fs.existsSync(d) && d.length > this.tree.mount.length) d = path.dirname(d);
      dirs.add(d);
    }
    for (const d of dirs) {
      try {
        const w = fs.watch(d, { persistent: false }, () => this.check());
        w.on('error', () => undefined); // the periodic check still runs
        this.watchers.push(w);
      } catch {
        // not watchable: the periodic check still runs
      }
    }
  }

  private unwatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  /** A configured cgroup changed (or the last write failed): write the sets again. */
  private check(): void {
    // (a hostNetwork pod's cgroup made by kubelet after the API showed the pod: managed within one check)
    const hostPods = this.pods?.refreshHost() ?? false;
    if (this.tree.refresh() || this.dirty || hostPods) void this.update().catch((e) => this.failed(e));
  }

  private failed(e: unknown): void {
    this.opts.log.error({ err: (e as Error).message }, 'writing the managed cgroups failed; retrying on the next change');
  }
}
