// From (source, decision, addresses) to the set elements the kernel must hold before the reply goes.
import type { Decision } from '../../policy/types';
import type { AnswerAddress } from '../../dns/types';
import { IPPROTO, type AllowSet, type Element } from '../../nft/keys';
import type { Source, SourceKind } from '../../identity/types';

export interface TtlPolicy {
  min: number;
  max: number;
  grace: number;
}

/** element timeout = clamp(TTL, min, max) + grace (docs/architecture.md "Invariants"), in milliseconds. */
export function elementTimeoutMs(ttl: number, p: TtlPolicy): number {
  const clamped = Math.min(Math.max(ttl, p.min), p.max);
  return (clamped + p.grace) * 1000;
}

/**
 * The set of each source kind, answer family and port form: ip and pod sources are keyed by
 * address (allow*), cgroup sources by cgroup id (cgroup*). A new kind adds a row here and a set
 * and a rule in the ruleset — not a second programmer.
 */
export const SETS: Record<SourceKind, { 4: [AllowSet, AllowSet]; 6: [AllowSet, AllowSet] }> = {
  ip: { 4: ['allow4', 'allow4p'], 6: ['allow6', 'allow6p'] },
  pod: { 4: ['allow4', 'allow4p'], 6: ['allow6', 'allow6p'] },
  cgroup: { 4: ['cgroup4', 'cgroup4p'], 6: ['cgroup6', 'cgroup6p'] },
};

/**
 * One element per answer address whose family the source has a key for (source.keys), and per
 * allowed port rule: an ip source only its own family's (a pod that asks over IPv4 connects from
 * IPv4), a pod both of its addresses, a cgroup both families under its id.
 */
export function buildElements(source: Pick<Source, 'kind' | 'keys'>, name: string, d: Decision, addresses: readonly AnswerAddress[], ttl: TtlPolicy): Element[] {
  const out: Element[] = [];
  const sets = SETS[source.kind];
  for (const a of addresses) {
    const key = source.keys[a.family];
    if (!key) continue;
    const [all, withPort] = sets[a.family];
    const timeoutMs = elementTimeoutMs(a.ttl, ttl);
    if (d.allPorts) {
      out.push({ set: all, source: key, destination: a.bytes, timeoutMs, comment: name });
      continue;
    }
    for (const p of d.ports) {
      out.push({
        set: withPort,
        source: key,
        destination: a.bytes,
        proto: IPPROTO[p.proto],
        port: p.port,
        timeoutMs,
        comment: name,
      });
    }
  }
  return out;
}
