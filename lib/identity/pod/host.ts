// hostNetwork pods of this node, by their pod cgroup: they share the node's addresses, so the
// query's socket (sock_diag, lib/identity/cgroup) tells who asked. Each such pod's cgroup is
// found by stat of the paths kubelet may have made for it (lib/kube/pod-cgroups.ts: both
// drivers, its QoS class, a mirror pod's config hash); a socket's cgroup id maps to the pod whose
// cgroup is it or an ancestor (a walk of the known pod cgroups on a miss, cached both ways).
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Pod } from '../../kube/types';
import { isFinished } from '../../kube/pod-addresses';
import { podCgroupPaths } from '../../kube/pod-cgroups';
import { walkCgroups } from '../cgroup/tree';

/** Directories one walk may visit (a pod has a handful of containers). */
const WALK_MAX_DIRS = 20_000;
/** Socket cgroup ids remembered before the cache is cleared. */
const LOCATE_MAX = 65_536;

export interface HostPod {
  uid: string;
  namespace: string;
  name: string;
  pod: Pod;
  /** the pod cgroup, relative to the cgroup v2 mount, once it exists */
  path?: string;
  id?: bigint;
}

export interface HostPodHit {
  pod: HostPod;
  /** the socket's own cgroup path (the pod cgroup or a container below it) */
  path: string;
}

export class HostPods {
  private readonly pods = new Map<string, HostPod>();
  private readonly byId = new Map<bigint, string>();
  /** socket cgroup id → [pod uid, its path]; null: in no known pod's cgroup */
  private readonly located = new Map<bigint, [string, string] | null>();
  private readonly warned = new Set<string>();

  constructor(
    /** the cgroup v2 mount point */
    readonly mount: string,
    /** kubelet's --cgroup-root, relative to the mount */
    readonly root: string,
    /** dnswall's own cgroup: a pod holding it is never managed (its upstream queries would be rejected) */
    private readonly own: string | null,
    private readonly log?: Logger,
  ) {}

  get size(): number {
    return this.pods.size;
  }

  get(uid: string): HostPod | undefined {
    return this.pods.get(uid);
  }

  all(): IterableIterator<HostPod> {
    return this.pods.values();
  }

  /** Adds or updates a hostNetwork pod; a finished one is removed (its processes are gone). */
  set(p: Pod): void {
    const uid = p.metadata.uid;
    if (isFinished(p)) return void this.remove(uid);
    const old = this.pods.get(uid);
    const h: HostPod = { uid, namespace: p.metadata.namespace ?? '', name: p.metadata.name, pod: p, path: old?.path, id: old?.id };
    this.pods.set(uid, h);
    if (h.id === undefined) this.find(h);
    this.located.clear();
  }

  remove(uid: string): void {
    const h = this.pods.get(uid);
    if (!h) return;
    if (h.id !== undefined) this.byId.delete(h.id);
    this.pods.delete(uid);
    this.located.clear();
  }

  /** Looks again for the cgroups of pods that have none yet (kubelet makes it after the API shows the pod); true when one was found. */
  refresh(): boolean {
    let found = false;
    for (const h of this.pods.values()) if (h.id === undefined && this.find(h)) found = true;
    if (found) this.located.clear();
    return found;
  }

  /** The hostNetwork pod whose cgroup is `id` or one of its ancestors; null when none is. */
  locate(id: bigint): HostPodHit | null {
    let hit = this.located.get(id);
    if (hit === undefined) {
      this.refresh();
      hit = this.walk(id);
      if (this.located.size >= LOCATE_MAX) this.located.clear();
      this.located.set(id, hit);
    }
    if (!hit) return null;
    const pod = this.pods.get(hit[0]);
    return pod ? { pod, path: hit[1] } : null;
  }

  private find(h: HostPod): boolean {
    for (const p of podCgroupPaths(h.pod, this.root)) {
      let id: bigint;
      try {
        id = fs.statSync(this.dir(p), { bigint: true }).ino;
      } catch {
        continue;
      }
      if (this.own && (this.own === p || this.own.startsWith(p + '/'))) {
        if (!this.warned.has(h.uid)) {
          this.warned.add(h.uid);
          this.log?.warn(
            { pod: `${h.namespace}/${h.name}`, cgroup: p },
            'kubernetes: dnswall runs in this hostNetwork pod; it is never managed (its own upstream queries would be rejected)',
          );
        }
        return false;
      }
      h.path = p;
      h.id = id;
      this.byId.set(id, h.uid);
      return true;
    }
    return false;
  }

  private dir(p: string): string {
    return path.join(this.mount, p);
  }

  /** Breadth first below each known pod cgroup for the directory whose inode is `want`. */
  private walk(want: bigint): [string, string] | null {
    const direct = this.byId.get(want);
    if (direct !== undefined) return [direct, this.pods.get(direct)!.path!];
    let visited = 0;
    for (const h of this.pods.values()) {
      if (h.path === undefined || visited >= WALK_MAX_DIRS) continue;
      let hit: string | null = null;
      visited += walkCgroups(this.mount, [h.path], WALK_MAX_DIRS - visited, (child, id) => {
        if (id === want) hit = child;
        return hit !== null;
      });
      if (hit !== null) return [h.uid, hit];
    }
    return null;
  }
}
