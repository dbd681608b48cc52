// The validated configuration: what lib/config/load.ts produces from YAML and every other
// part consumes. Defaults are filled in; nothing here is optional at run time.

import type { LabelSelector } from '../kube/selector';

export type Family = 4 | 6;

/** A host:port the daemon listens on or forwards to. IPv6 hosts are written "[fd00::53]:53". */
export interface Endpoint {
  host: string; // canonical textual address, no brackets
  port: number;
  family: Family;
}

export interface PortRule {
  proto: 'tcp' | 'udp';
  port: number;
}

/** One entry of a policy's `allow` list. */
export interface AllowRule {
  /** The pattern as written (lowercased, trailing dot removed). */
  pattern: string;
  /** Empty: every port and protocol. */
  ports: PortRule[];
}

export type SourceSpec = { kind: 'cidr'; cidr: string; family: Family; address: string; prefix: number } | { kind: 'cgroup'; path: string } | PodSourceSpec;

/** Pods of this node chosen as in a NetworkPolicy peer; null = that selector is absent. */
export interface PodSourceSpec {
  kind: 'pods';
  /** absent (null): every namespace */
  namespaceSelector: LabelSelector | null;
  /** absent (null): every pod of the selected namespaces */
  podSelector: LabelSelector | null;
}

/** The `kubernetes:` key: pod identity from the API server. */
export interface KubernetesConfig {
  /** absolute path; null = in-cluster service account */
  kubeconfig: string | null;
  /** null = $NODE_NAME, else the host name (resolveNodeName) */
  nodeName: string | null;
  /** ms a query from an unknown address of the pod CIDRs waits for its pod to appear; then SERVFAIL */
  unknownPodHoldMs: number;
  /** null = the Node object's spec.podCIDRs */
  podCIDRs: { cidr: string; family: Family; address: string; prefix: number }[] | null;
  /** kubelet's --cgroup-root relative to the cgroup v2 mount, where hostNetwork pods' cgroups are looked for (default "/") */
  cgroupRoot: string;
  /** ms a LIST or WATCH may send nothing (not even a bookmark) before it is taken as dead and reconnected (default 90000) */
  watchIdleMs: number;
}

export interface Policy {
  name: string;
  sources: SourceSpec[];
  allow: AllowRule[];
  /** Static destinations, canonical "addr/prefix". */
  allowCIDRs: { cidr: string; family: Family; address: string; prefix: number }[];
}

export type CacheAdmission = 'second-miss' | 'first-miss';
export const CACHE_ADMISSIONS: readonly CacheAdmission[] = ['second-miss', 'first-miss'];

export interface Config {
  /** The file it was read from (for messages); "<inline>" when built in memory. */
  file: string;
  listen: Endpoint[];
  upstreams: Endpoint[];
  denyResponse: 'nxdomain' | 'refused';
  ttl: { min: number; max: number; grace: number };
  enforce: { mode: 'enforce' | 'audit'; action: 'reject' | 'drop' };
  /**
   * `stateFile`: where a clean stop writes the programmer's book and the next start reads it
   * instead of dumping the allow sets (lib/nft/restore.ts); null: off. Absent (configs built in
   * memory, tests): off.
   */
  nftables: { table: string; stateFile?: string | null };
  limits: {
    /** ms one upstream try may take before failing over. */
    upstreamTimeoutMs: number;
    /** ms an allowed answer may be held waiting for the kernel's commit; then SERVFAIL. */
    commitTimeoutMs: number;
    /** ms a client TCP connection may sit idle. */
    tcpIdleTimeoutMs: number;
    /** concurrent client TCP connections per listen address. */
    tcpMaxConnections: number;
    /** UDP queries in flight per listen address before new ones are answered SERVFAIL. */
    maxPendingQueries: number;
    /** live elements one source may hold; beyond it its oldest are evicted. */
    maxElementsPerSource: number;
    /** live addresses one (source, name) may hold (NPEP-133 asks ≥ 100: S3-like names rotate many). */
    maxAddressesPerName: number;
    /** live elements in all allow sets together (the sets' size). */
    maxElements: number;
    /**
     * Queries per second one source address may send to the listen addresses (bursts of twice
     * that): the excess is dropped by the kernel (input chain) and by the daemon. 0 = off.
     */
    sourceQueriesPerSecond: number;
  };
  /** The answer cache (positive and negative, RFC 2308). */
  /** admission: 'second-miss' stores a question on its second miss (plugins/cache/doorkeeper.ts), 'first-miss' on its first */
  cache: { enabled: boolean; maxEntries: number; maxBytes: number; admission: CacheAdmission };
  /** Prometheus text exposition at http://HOST:PORT/metrics; null = off. */
  metrics: Endpoint | null;
  /** null (or absent in hand-built configs) = no pod identity: the key is not in the file */
  kubernetes?: KubernetesConfig | null;
  /** The answer guard's extra ranges, canonical "addr/prefix" (lib/plugins/guard). */
  answers: { denyCIDRs: { cidr: string; family: Family; address: string; prefix: number }[] };
  /** GET /healthz and /readyz at http://HOST:PORT; null = off. */
  health: Endpoint | null;
  /** The decision log: `denied` (default) logs denials, `all` every decision, `off` none. */
  queryLog: 'denied' | 'all' | 'off';
  /** Unix socket the CLI (`dnswall drops`) asks the daemon through; null = off. */
  control: string | null;
  /** Rejected new connections logged by the kernel to this netlink log group (NFLOG), rate-limited. */
  drops: { logGroup: number; perSecond: number };
  policies: Policy[];
}

export const DEFAULTS = {
  listen: ['169.254.20.10:53'],
  upstreams: ['10.96.0.10:53'],
  denyResponse: 'nxdomain',
  ttl: { min: 10, max: 86400, grace: 10 },
  enforce: { mode: 'enforce', action: 'reject' },
  // /run is tmpfs: a reboot forgets the state file, as the kernel forgets the sets
  nftables: { table: 'dnswall', stateFile: '/run/dnswall/nft.state' },
  limits: {
    upstreamTimeoutMs: 1500,
    commitTimeoutMs: 1000,
    tcpIdleTimeoutMs: 10000,
    tcpMaxConnections: 1000,
    maxPendingQueries: 20000,
    maxElementsPerSource: 10000,
    maxAddressesPerName: 256,
    maxElements: 1000000,
    sourceQueriesPerSecond: 2000,
  },
  cache: { enabled: true, maxEntries: 20000, maxBytes: 32 * 1024 * 1024, admission: 'second-miss' },
  queryLog: 'denied',
  control: '/run/dnswall/control.sock',
  // 0 is the group nft's plain `log` uses for the system logger; ulogd's default is 1.
  drops: { logGroup: 7, perSecond: 100 },
} as const;
