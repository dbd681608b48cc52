// Validation of the `answers` section: the answer guard's extra ranges (answers.denyCIDRs).
import type { Node } from 'yaml';
import type { Config } from './types';
import type { Reader } from './reader';
import { failed, parseCIDR } from './addresses';

const ANSWERS_KEYS = ['denyCIDRs'] as const;

export function readAnswers(r: Reader, node: Node | null, fallback: Node): Config['answers'] {
  const out: Config['answers'] = { denyCIDRs: [] };
  const e = r.map(node, 'answers', ANSWERS_KEYS, fallback)?.get('denyCIDRs');
  if (!e || r.absent(e.value)) return out;
  const seen = new Map<string, number>();
  for (const [i, item] of (r.seq(e.value, 'answers.denyCIDRs', e.key) ?? []).entries()) {
    const s = r.string(item, `answers.denyCIDRs[${i}]`, e.key);
    if (s === undefined) continue;
    const c = parseCIDR(s);
    if (failed(c)) {
      r.report(item, `answers.denyCIDRs[${i}]: ${c.error}`);
      continue;
    }
    const first = seen.get(c.cidr);
    if (first !== undefined) {
      r.report(item, `answers.denyCIDRs[${i}]: duplicate of answers.denyCIDRs[${first}] (${c.cidr})`);
      continue;
    }
    seen.set(c.cidr, i);
    out.denyCIDRs.push(c);
  }
  return out;
}
