// One line that says why a (source, name) gets its verdict; printed by `dnswall explain`.
import type { PolicyIndex } from './index';
import type { Decision, Source } from './types';
import { normalizeName } from './pattern';

export function formatPorts(d: Decision): string {
  return d.allPorts ? 'all' : d.ports.map((p) => `${p.proto}/${p.port}`).join(',');
}

export function explainDecision(d: Decision, source: Source, name: string): string {
  const n = normalizeName(name) || '.';
  switch (d.verdict) {
    case 'allow':
      return `allow  policy=${d.policy} pattern=${d.pattern} ports=${formatPorts(d)}`;
    case 'deny':
      return d.policies.length === 0
        ? `deny  ${source.address} is not an IP address`
        : `deny  policy(s)=${d.policies.join(',')}: no pattern matches ${n}`;
    default:
      return `unmanaged  no policy selects ${source.address}`;
  }
}

export function explain(index: PolicyIndex, source: Source, name: string): string {
  return explainDecision(index.decide(source, name), source, name);
}
