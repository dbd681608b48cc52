// Who asked: the one value the request path carries about a query's sender (docs/architecture.md,
// "Who asked").
// The identity plugin resolves it once per query; policy decides on its selection, nftset
// programs its key bytes into the set of its kind.
import type { Family } from '../config/types';
import type { Selection } from '../policy/sources';

export type { Selection } from '../policy/sources';

/** ip: a source address selected by CIDR; pod: a pod of this node (Kubernetes); cgroup: a local socket's cgroup v2. */
export type SourceKind = 'ip' | 'pod' | 'cgroup';

/** Where a query came from and where it arrived, as the listener saw it. */
export interface Peer {
  /** canonical textual address of the sender (IPv4-mapped IPv6 converted to IPv4) */
  address: string;
  family: Family;
  port: number;
}

/** The address and port the query was sent to (the listen address; a TCP socket's local end). */
export interface LocalEnd {
  address: string;
  port: number;
}

export interface Source {
  kind: SourceKind;
  /** The query's own sender address, family and port (whatever the kind). */
  address: string;
  family: Family;
  port: number;
  /** The policies selecting this source in the index that resolved it; null = unmanaged. */
  selection: Selection | null;
  /**
   * Kernel key bytes per answer family: an A answer is programmed under keys[4], an AAAA answer
   * under keys[6]; a family without a key is not programmed. ip: the query's own address in its
   * family only; pod: its IPv4 and IPv6 pod IPs; cgroup: the 8-byte host-order id of the deepest
   * configured ancestor, for both.
   */
  keys: { 4?: Buffer; 6?: Buffer };
  /** For logs, `list`, `explain`, `drops`: `10.244.1.7`, `10.244.1.7 shop/frontend-1`, `/system.slice/backup.service`. */
  display: string;
  /** cgroup sources: the socket's cgroup id and path, and the configured ancestor the keys name. */
  cgroup?: CgroupInfo;
  /** a hostNetwork pod (kind cgroup, keyed by its pod cgroup): which pod */
  pod?: { namespace: string; name: string; uid: string };
}

export interface CgroupInfo {
  /** the socket's own cgroup id (inode of its cgroup v2 directory) */
  id: bigint;
  /** its path relative to the cgroup v2 mount, "/system.slice/backup.service/x" */
  path: string;
  /** the deepest configured ancestor (or itself): the cgroup the element keys name */
  keyId: bigint;
  keyPath: string;
}
