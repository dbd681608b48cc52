// From (source, decision, addresses) to the set elements the kernel must hold before the reply goes.
import type { Decision } from '../../policy/types';
import type { AnswerAddress } from '../../dns/types';
import type { Element } from '../../nft/programmer';

export interface TtlPolicy {
  min: number;
  max: number;
  grace: number;
}

const IPPROTO = { tcp: 6, udp: 17 } as const;

/** element timeout = clamp(TTL, min, max) + grace (SPEC "TTLs"), in milliseconds. */
export function elementTimeoutMs(ttl: number, p: TtlPolicy): number {
  const clamped = Math.min(Math.max(ttl, p.min), p.max);
  return (clamped + p.grace) * 1000;
}

/**
 * One element per address of the source's own family (a pod connects from the address it asked
 * from; the other family's addresses stay closed) and per allowed port rule.
 */
export function buildElements(
  source: Buffer,
  sourceFamily: 4 | 6,
  name: string,
  d: Decision,
  addresses: readonly AnswerAddress[],
  ttl: TtlPolicy,
): Element[] {
  const out: Element[] = [];
  for (const a of addresses) {
    if (a.family !== sourceFamily) continue;
    const timeoutMs = elementTimeoutMs(a.ttl, ttl);
    if (d.allPorts) {
      out.push({ set: a.family === 4 ? 'allow4' : 'allow6', source, destination: a.bytes, timeoutMs, comment: name });
      continue;
    }
    for (const p of d.ports) {
      out.push({
        set: a.family === 4 ? 'allow4p' : 'allow6p',
        source,
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
