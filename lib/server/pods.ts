// Wiring of pod identity into the daemon: the API connection from the `kubernetes:` key, the
// watch, and the kernel side (only in enforce mode).
import type { Logger } from 'pino';
import type { Config } from '../config/types';
import type { PolicyIndex } from '../policy/index';
import type { Programmer } from './daemon';
import { resolveNodeName } from '../config/kubernetes';
import { fromKubeconfig, inCluster } from '../kube/connection';
import { KubeClient } from '../kube/client';
import { PodSelectors } from '../policy/pods';
import { PodIdentity } from '../identity/pod/resolver';
import { NftPodKernel } from '../identity/pod/kernel';
import { HostPods } from '../identity/pod/host';
import type { CgroupIdentity } from '../identity/cgroup/identity';
import { ownCgroupPath } from '../identity/cgroup/mount';

export type { PodIdentity, PodListing } from '../identity/pod/resolver';
import type { Handler } from '../control/server';

/** Control op `pods`: every pod of this node the daemon knows, one item each (`dnswall list`, `explain --pod`). */
export function podsHandler(pods: () => PodIdentity | undefined): Handler {
  return (_req, reply) => {
    const p = pods();
    if (!p) return reply.error('this daemon does not watch Kubernetes (no kubernetes: key with pod selector sources)');
    if (!p.ready) return reply.error('the pod list is not in yet; try again in a moment');
    for (const item of p.listPods()) reply.item(item);
    reply.end();
  };
}

/** Starts the watch when the configuration has pod selector sources; undefined otherwise. Throws KubeConfigError for a bad connection. */
export function startPodIdentity(cfg: Config, index: () => PolicyIndex, programmer: Programmer | undefined, log: Logger, cgroups?: CgroupIdentity): PodIdentity | undefined {
  const k = cfg.kubernetes;
  if (!k) return undefined;
  if (!new PodSelectors(cfg.policies).any) {
    log.warn('kubernetes: no policy has pod selector sources; the API server is not watched');
    return undefined;
  }
  const conn = k.kubeconfig ? fromKubeconfig(k.kubeconfig) : inCluster();
  const node = resolveNodeName(k);
  const kernel = programmer ? new NftPodKernel(cfg.nftables.table, programmer) : null;
  const pods = new PodIdentity(k, new KubeClient(conn, 'dnswall'), node, cfg.policies, index, kernel, log, { idleMs: k.watchIdleMs ?? 90_000 });
  if (cgroups) {
    // hostNetwork pods: by their pod cgroup, through the cgroup identity of local senders
    pods.host = new HostPods(cgroups.tree.mount, k.cgroupRoot ?? '/', ownCgroupPath(), log);
    pods.hostSync = () => cgroups.update();
    cgroups.setPods(pods);
  }
  log.info({ api: conn.describe, node }, 'kubernetes: watching the pods of this node');
  pods.start();
  return pods;
}
