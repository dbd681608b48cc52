// The contract between the identity plugin and the ways a sender can be known.
import type { PolicyIndex } from '../policy/index';
import type { Peer, LocalEnd, Source } from './types';
import type { Transport } from '../plugins/types';

/** A sender a resolver is responsible for but cannot name: the query gets SERVFAIL, never an unfiltered answer. */
export interface Unattributable {
  unattributable: string;
}

export interface Query {
  peer: Peer;
  local: LocalEnd;
  transport: Transport;
}

export type Resolved = Source | Unattributable | null;

/**
 * One way of knowing who asked (a local socket's cgroup, a pod of this node). resolve() returns
 * the Source, an Unattributable, or null when the sender is not this resolver's (the next one
 * is asked; the last word is the IP identity). A synchronous answer costs no promise: the pod
 * path must stay as cheap as it was.
 */
export interface Resolver {
  readonly name: string;
  resolve(q: Query, index: PolicyIndex): Resolved | Promise<Resolved>;
  /** Optional: told of each query this resolver named, with its completion (the pod resolver waits for them before revoking). */
  settled?(source: Source, done: Promise<unknown>): void;
}

export function isUnattributable(r: Resolved): r is Unattributable {
  return r !== null && (r as Unattributable).unattributable !== undefined;
}
