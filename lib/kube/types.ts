// The slices of Kubernetes objects dnswall reads (core/v1 Pod, Namespace, Node). Fields we do
// not use are left out; the API sends them and they are ignored.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

export interface KubeObject {
  metadata: ObjectMeta;
}

export interface Pod extends KubeObject {
  spec?: { nodeName?: string; hostNetwork?: boolean };
  status?: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    podIP?: string;
    podIPs?: { ip: string }[];
    qosClass?: 'Guaranteed' | 'Burstable' | 'BestEffort';
  };
}

export type Namespace = KubeObject;

export interface KubeNode extends KubeObject {
  spec?: { podCIDR?: string; podCIDRs?: string[] };
}

export interface ListOf<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** The store key: namespace/name (cluster-scoped objects: name). */
export function objectKey(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}
