// Validation of the `policies` list: names, sources, allow rules (patterns and ports), allowCIDRs.
import type { Node } from 'yaml';
import { isMap, isScalar, isSeq } from 'yaml';
import type { AllowRule, Policy, PortRule, SourceSpec } from './types';
import type { Reader } from './reader';
import { failed, parseCIDR, parsePortRule, parseSource, type Cidr } from './addresses';
import { normalizeName, validatePattern } from '../policy/pattern';
import { readPodSource } from './kubernetes';

const POLICY_KEYS = ['name', 'sources', 'allow', 'allowCIDRs'] as const;
const RULE_KEYS = ['name', 'ports'] as const;
/** Policy names appear in logs, metrics labels and nftables comments. */
const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Parses each string of a list with `parse`, reporting failures at the item. */
function stringList<T>(r: Reader, node: Node | null, what: string, parse: (s: string) => T | { error: string }, fallback: Node): T[] {
  const out: T[] = [];
  for (const [i, item] of (r.seq(node, what, fallback) ?? []).entries()) {
    const s = r.string(item, `${what}[${i}]`, fallback);
    if (s === undefined) continue;
    const v = parse(s);
    if (failed(v)) r.report(item, `${what}[${i}]: ${v.error}`);
    else out.push(v);
  }
  return out;
}

function pattern(r: Reader, node: Node | null, what: string, fallback: Node): string | undefined {
  const s = r.string(node, what, fallback);
  if (s === undefined) return undefined;
  const err = validatePattern(s);
  if (err) {
    r.report(node, `${what}: bad pattern "${s}": ${err}`);
    return undefined;
  }
  return normalizeName(s);
}

function allowRule(r: Reader, node: Node | null, what: string, fallback: Node): AllowRule | undefined {
  if (isScalar(node)) {
    const p = pattern(r, node, what, fallback);
    return p === undefined ? undefined : { pattern: p, ports: [] };
  }
  if (!isMap(node)) {
    r.report(node, `${what} must be a pattern or a mapping {name, ports}`, fallback);
    return undefined;
  }
  const m = r.map(node, what, RULE_KEYS);
  if (!m) return undefined;
  const name = m.get('name');
  if (!name || r.absent(name.value)) {
    r.report(node, `${what}: "name" (the pattern) is required`);
    return undefined;
  }
  const p = pattern(r, name.value, `${what}.name`, name.key);
  let ports: PortRule[] = [];
  const pe = m.get('ports');
  if (pe && !r.absent(pe.value)) {
    if (isSeq(pe.value) && pe.value.items.length === 0) {
      r.report(pe.value, `${what}.ports is empty; omit "ports" to allow every port`);
      return undefined;
    }
    ports = stringList(r, pe.value, `${what}.ports`, parsePortRule, pe.key);
  }
  return p === undefined ? undefined : { pattern: p, ports };
}

/** `sources`: strings (IP, CIDR, cgroup:/path) and pod selector mappings. */
function sourceList(r: Reader, node: Node | null, what: string, fallback: Node, kubernetes: boolean): SourceSpec[] {
  const out: SourceSpec[] = [];
  for (const [i, item] of (r.seq(node, what, fallback) ?? []).entries()) {
    if (isMap(item)) {
      const s = readPodSource(r, item, `${what}[${i}]`, fallback);
      if (s && !kubernetes) r.report(item, `${what}[${i}]: pod selectors need the "kubernetes:" key (the API server to watch)`);
      else if (s) out.push(s);
      continue;
    }
    const s = r.string(item, `${what}[${i}]`, fallback);
    if (s === undefined) continue;
    const v = parseSource(s);
    if (failed(v)) r.report(item, `${what}[${i}]: ${v.error}`);
    else out.push(v);
  }
  return out;
}

function policy(r: Reader, node: Node | null, what: string, fallback: Node, names: Map<string, Node>, kubernetes: boolean): Policy | undefined {
  const m = r.map(node, what, POLICY_KEYS, fallback);
  if (!m) return undefined;
  const at = node as Node;
  let name: string | undefined;
  const ne = m.get('name');
  if (!ne || r.absent(ne.value)) r.report(at, `${what}: "name" is required`);
  else {
    name = r.string(ne.value, `${what}.name`, ne.key);
    if (name !== undefined && !POLICY_NAME.test(name)) {
      r.report(ne.value, `${what}.name "${name}" must be 1..63 of A-Z a-z 0-9 . _ - starting with a letter or digit`);
    } else if (name !== undefined && names.has(name)) {
      const first = names.get(name)!;
      r.report(ne.value, `duplicate policy name "${name}" (first defined at ${r.position(first)})`);
    } else if (name !== undefined) names.set(name, ne.value!);
  }
  const where = name ? `policy "${name}"` : what;
  let sources: SourceSpec[] = [];
  const se = m.get('sources');
  if (!se || r.absent(se.value)) r.report(se?.value ?? at, `${where}: "sources" is required (IPs, CIDRs, cgroup:/path or pod selectors)`, at);
  else {
    sources = sourceList(r, se.value, `${where}.sources`, se.key, kubernetes);
    if (isSeq(se.value) && se.value.items.length === 0) r.report(se.value, `${where}.sources is empty`);
  }
  const allow: AllowRule[] = [];
  const ae = m.get('allow');
  if (ae && !r.absent(ae.value)) {
    for (const [i, item] of (r.seq(ae.value, `${where}.allow`, ae.key) ?? []).entries()) {
      const rule = allowRule(r, item, `${where}.allow[${i}]`, ae.key);
      if (rule) allow.push(rule);
    }
  }
  let allowCIDRs: Cidr[] = [];
  const ce = m.get('allowCIDRs');
  if (ce && !r.absent(ce.value)) allowCIDRs = stringList(r, ce.value, `${where}.allowCIDRs`, parseCIDR, ce.key);
  if (name === undefined) return undefined;
  return { name, sources, allow, allowCIDRs };
}

export function readPolicies(r: Reader, node: Node | null, fallback: Node, kubernetes = false): Policy[] {
  const out: Policy[] = [];
  const names = new Map<string, Node>();
  for (const [i, item] of (r.seq(node, 'policies', fallback) ?? []).entries()) {
    const p = policy(r, item, `policies[${i}]`, fallback, names, kubernetes);
    if (p) out.push(p);
  }
  return out;
}
