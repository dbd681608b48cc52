// Which pod holds an address right now. Pure bookkeeping over pod objects, no policy: the
// identity step asks "who is 10.244.1.7?" and is told when an address changes hands, so that a
// reused address never inherits what the previous pod was allowed.
//
// Rules (Cilium's and Calico's lessons, see lib/kube/README.md):
// - a pod holds its status.podIPs (at most one IPv4 and one IPv6) while it is not finished
//   (phase Succeeded/Failed keep their podIP in the API but have released it) and not hostNetwork
//   (those report the node's addresses);
// - two pods briefly holding one address (the terminating one and its successor): the owner is
//   the one without deletionTimestamp, then the newest (creationTimestamp, then UID order);
// - everything is keyed by UID, so a late delete of an old pod never removes a newer pod's hold.
import * as ipaddr from 'ipaddr.js';
import type { Pod } from './types';

export interface PodAddresses {
  4?: string;
  6?: string;
}

export interface PodHold {
  uid: string;
  namespace: string;
  name: string;
  addresses: PodAddresses;
  terminating: boolean;
  created: string;
  pod: Pod;
}

/** Canonical text of an address (IPv4-mapped as IPv4), or undefined if it is not one. */
export function canonicalAddress(s: string): { text: string; family: 4 | 6 } | undefined {
  if (typeof s !== 'string' || !ipaddr.isValid(s)) return undefined;
  const a = ipaddr.process(s);
  return { text: a.toString(), family: a.kind() === 'ipv4' ? 4 : 6 };
}

export function isFinished(p: Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

/** The addresses a pod holds now (none when finished, hostNetwork or not yet given any). */
export function podAddresses(p: Pod): PodAddresses {
  if (isFinished(p) || p.spec?.hostNetwork) return {};
  const out: PodAddresses = {};
  const list = p.status?.podIPs?.length ? p.status.podIPs.map((x) => x?.ip) : [p.status?.podIP];
  for (const ip of list) {
    const c = ip ? canonicalAddress(ip) : undefined;
    if (c && out[c.family] === undefined) out[c.family] = c.text;
  }
  return out;
}

/** a is a better owner than b */
function better(a: PodHold, b: PodHold): boolean {
  if (a.terminating !== b.terminating) return !a.terminating;
  if (a.created !== b.created) return a.created > b.created;
  return a.uid > b.uid;
}

export class PodAddressTable {
  private readonly byUid = new Map<string, PodHold>();
  private readonly byAddress = new Map<string, PodHold[]>();

  get size(): number {
    return this.byUid.size;
  }

  /** The pod that owns `address` (canonical text), if any. */
  owner(address: string): PodHold | undefined {
    const list = this.byAddress.get(address);
    if (!list?.length) return undefined;
    let best = list[0];
    for (const h of list) if (better(h, best)) best = h;
    return best;
  }

  get(uid: string): PodHold | undefined {
    return this.byUid.get(uid);
  }

  holds(): IterableIterator<PodHold> {
    return this.byUid.values();
  }

  /**
   * Adds or updates a pod (by UID). Returns the addresses whose owner may have changed (held
   * before or after by this pod): the caller compares owners before and after.
   */
  set(p: Pod): string[] {
    const uid = p.metadata.uid;
    const old = this.byUid.get(uid);
    const addresses = podAddresses(p);
    const touched = new Set<string>([...(Object.values(old?.addresses ?? {}) as string[]), ...(Object.values(addresses) as string[])]);
    if (old) this.unlink(old);
    if (addresses[4] === undefined && addresses[6] === undefined) {
      this.byUid.delete(uid);
      return [...touched];
    }
    const hold: PodHold = {
      uid,
      namespace: p.metadata.namespace ?? '',
      name: p.metadata.name,
      addresses,
      terminating: !!p.metadata.deletionTimestamp,
      created: p.metadata.creationTimestamp ?? '',
      pod: p,
    };
    this.byUid.set(uid, hold);
    for (const a of Object.values(addresses) as string[]) {
      const list = this.byAddress.get(a) ?? [];
      list.push(hold);
      this.byAddress.set(a, list);
    }
    return [...touched];
  }

  /** Removes the pod with this UID (a delete for an unknown UID changes nothing). */
  remove(uid: string): string[] {
    const old = this.byUid.get(uid);
    if (!old) return [];
    this.unlink(old);
    this.byUid.delete(uid);
    return Object.values(old.addresses) as string[];
  }

  private unlink(h: PodHold): void {
    for (const a of Object.values(h.addresses) as string[]) {
      const list = this.byAddress.get(a)?.filter((x) => x !== h);
      if (list?.length) this.byAddress.set(a, list);
      else this.byAddress.delete(a);
    }
  }
}
