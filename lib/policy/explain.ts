// One line that says why a (source, name) gets its verdict; printed by `dnswall explain`.
import type { PolicyIndex } from './index';
import type { Decision, AddressSource } from './types';
import { normalizeName } from './pattern';

export function formatPorts(d: Decision): string {
  return d.allPorts ? 'all' : d.ports.map((p) => `${p.proto}/${p.port}`).join(',');
}

/** `who`: the source as shown to the operator (an address, a cgroup path). */
export function explainDecision(d: Decision, who: string, name: string): string {
  const n = normalizeName(name) || '.';
  switch (d.verdict) {
    case 'allow':
      return `allow  policy=${d.policy} pattern=${d.pattern} ports=${formatPorts(d)}`;
    case 'deny':
      return d.policies.length === 0 ? `deny  ${who} is not an IP address` : `deny  policy(s)=${d.policies.join(',')}: no pattern matches ${n}`;
    default:
      return `unmanaged  no policy selects ${who}`;
  }
}

export function explain(index: PolicyIndex, source: AddressSource, name: string): string {
  return explainDecision(index.decideAddress(source, name), source.address, name);
}
