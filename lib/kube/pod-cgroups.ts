// Where kubelet puts a pod's cgroup (pkg/kubelet/cm: pod_container_manager_linux.go
// GetPodContainerName, qos_container_manager_linux.go, cgroup_manager_linux.go ToCgroupfs /
// ToSystemd). The internal name is [<cgroup root>, kubepods, <qos>, pod<UID>], Guaranteed pods
// without the qos part. cgroupfs joins the parts with "/"; systemd replaces "-" by "_" in each
// part, joins them with "-" and expands the slice ("a-b-c.slice" → /a.slice/a-b.slice/a-b-c.slice).
// A static pod runs under the UID kubelet gave it (the config hash); its mirror pod in the API
// has another UID and carries that hash in kubernetes.io/config.mirror. Pure, no I/O.
import type { Pod } from './types';

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

type Qos = 'Guaranteed' | 'Burstable' | 'BestEffort';
const QOS_PART: Record<Qos, string[]> = { Guaranteed: [], Burstable: ['burstable'], BestEffort: ['besteffort'] };

/** The UID kubelet named the pod's cgroup after: a mirror pod's config hash, else metadata.uid. */
export function cgroupUid(p: Pod): string {
  return p.metadata.annotations?.[MIRROR_ANNOTATION] || p.metadata.uid;
}

/** kubelet's --cgroup-root as internal name parts (cgroupfs: the path's parts; systemd: the slice's). */
function rootParts(root: string, driver: 'cgroupfs' | 'systemd'): string[] {
  if (root === '/' || root === '') return [];
  if (driver === 'cgroupfs') return root.split('/').filter(Boolean);
  const base = root.slice(root.lastIndexOf('/') + 1).replace(/\.slice$/, '');
  return base.split('-').map((p) => p.replace(/_/g, '-'));
}

function toCgroupfs(parts: string[]): string {
  return '/' + parts.join('/');
}

function toSystemd(parts: string[]): string {
  const escaped = parts.map((p) => p.replace(/-/g, '_'));
  const out: string[] = [];
  for (let i = 1; i <= escaped.length; i++) out.push(escaped.slice(0, i).join('-') + '.slice');
  return '/' + out.join('/');
}

/**
 * The pod cgroup paths kubelet may have made for this pod under `root` (relative to the cgroup
 * v2 mount): both drivers, and every QoS class when status.qosClass is not known.
 */
export function podCgroupPaths(p: Pod, root = '/'): string[] {
  const uid = cgroupUid(p);
  if (!uid) return [];
  const q = p.status?.qosClass;
  const classes: Qos[] = q && q in QOS_PART ? [q] : ['Guaranteed', 'Burstable', 'BestEffort'];
  const out: string[] = [];
  for (const c of classes) {
    out.push(toCgroupfs([...rootParts(root, 'cgroupfs'), 'kubepods', ...QOS_PART[c], `pod${uid}`]));
    out.push(toSystemd([...rootParts(root, 'systemd'), 'kubepods', ...QOS_PART[c], `pod${uid}`]));
  }
  return [...new Set(out)];
}

/** The levels (`socket cgroupv2 level N`) pod cgroups sit at under `root`: Guaranteed, and Burstable/BestEffort. */
export function podCgroupLevels(root = '/'): number[] {
  const levels = new Set<number>();
  for (const d of ['cgroupfs', 'systemd'] as const) {
    const n = rootParts(root, d).length;
    levels.add(n + 2);
    levels.add(n + 3);
  }
  return [...levels].sort((a, b) => a - b);
}
