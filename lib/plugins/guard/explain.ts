// `dnswall explain --source IP NAME --address ADDR`: would the guard remove ADDR from an answer
// for this source, and which rule says so. One line per address.
import ipaddr from 'ipaddr.js';
import type { Decision } from '../../policy/types';
import { describeHit, type AnswerGuard } from './ranges';

export function explainAddress(g: AnswerGuard, d: Decision, address: string): string {
  const bytes = Buffer.from(ipaddr.parse(address).toByteArray());
  const size = bytes.length === 4 ? 4 : 16;
  const head = `guard  ${address}:`;
  if (d.verdict === 'unmanaged') return `${head} not applied (unmanaged source: answers are relayed unfiltered)`;
  const hit = g.check(bytes, 0, size);
  if (!hit) return `${head} kept (in no guarded range)`;
  const ex = g.exception(bytes, 0, size, d.policies);
  if (ex) return `${head} kept, not programmed: policy ${ex.policy} allowCIDRs ${ex.cidr} lets it through (guarded: ${describeHit(hit)})`;
  const only = d.verdict === 'deny' ? ' if the name were allowed' : '';
  return `${head} stripped${only} (${describeHit(hit)}); an answer with no other address gets SERVFAIL + EDE 15`;
}
