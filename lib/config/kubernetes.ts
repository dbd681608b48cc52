// The `kubernetes:` key and the pod selector entries of `policies[].sources`
// ({namespaceSelector, podSelector} as in a NetworkPolicy peer), validated with the API
// server's label rules (lib/kube/selector.ts).
import { hostname } from 'node:os';
import type { Node } from 'yaml';
import { isMap, isScalar } from 'yaml';
import type { Reader } from './reader';
import type { KubernetesConfig, SourceSpec } from './types';
import { failed, parseCIDR, parseCgroupPath } from './addresses';
import { labelKeyError, labelValueError, OPERATORS, requirementError, type LabelSelector, type Requirement } from '../kube/selector';

export const KUBERNETES_KEYS = ['kubeconfig', 'nodeName', 'unknownPodHoldMs', 'podCIDRs', 'cgroupRoot', 'watchIdleMs'] as const;
export const KUBERNETES_DEFAULTS = { unknownPodHoldMs: 2000, cgroupRoot: '/', watchIdleMs: 90_000 } as const;
/** The API server sends a bookmark about once a minute: a no-data timer far below that reconnects healthy watches. */
const IDLE_MIN_MS = 1000;
const IDLE_MAX_MS = 3_600_000;
/** A held query may wait at most this long; beyond it clients have long retried. */
const HOLD_MAX_MS = 30_000;
/** Node names are DNS subdomains (RFC 1123). */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function readKubernetes(r: Reader, node: Node | null, fallback: Node): KubernetesConfig | null {
  const m = r.map(node, 'kubernetes', KUBERNETES_KEYS, fallback);
  if (!m) return null;
  const out: KubernetesConfig = {
    kubeconfig: null,
    nodeName: null,
    unknownPodHoldMs: KUBERNETES_DEFAULTS.unknownPodHoldMs,
    podCIDRs: null,
    cgroupRoot: KUBERNETES_DEFAULTS.cgroupRoot,
    watchIdleMs: KUBERNETES_DEFAULTS.watchIdleMs,
  };
  const get = (k: string) => {
    const e = m.get(k);
    return e && !r.absent(e.value) ? e : undefined;
  };
  let e = get('kubeconfig');
  if (e) {
    const s = r.string(e.value, 'kubernetes.kubeconfig', e.key);
    if (s !== undefined && !s.startsWith('/')) r.report(e.value, `kubernetes.kubeconfig "${s}" must be an absolute path`);
    else if (s !== undefined) out.kubeconfig = s;
  }
  if ((e = get('nodeName'))) {
    const s = r.string(e.value, 'kubernetes.nodeName', e.key);
    if (s !== undefined && (s.length > 253 || !NODE_NAME.test(s))) r.report(e.value, `kubernetes.nodeName "${s}" is not a node name (a lowercase DNS subdomain)`);
    else if (s !== undefined) out.nodeName = s;
  }
  if ((e = get('unknownPodHoldMs'))) {
    const v = r.int(e.value, 'kubernetes.unknownPodHoldMs', 0, e.key);
    if (v !== undefined && v > HOLD_MAX_MS) r.report(e.value, `kubernetes.unknownPodHoldMs must be at most ${HOLD_MAX_MS}, got ${v}`);
    else if (v !== undefined) out.unknownPodHoldMs = v;
  }
  if ((e = get('podCIDRs'))) {
    const items = r.seq(e.value, 'kubernetes.podCIDRs', e.key) ?? [];
    out.podCIDRs = [];
    for (const [i, item] of items.entries()) {
      const s = r.string(item, `kubernetes.podCIDRs[${i}]`, e.key);
      if (s === undefined) continue;
      const c = parseCIDR(s);
      if (failed(c)) r.report(item, `kubernetes.podCIDRs[${i}]: ${c.error}`);
      else out.podCIDRs.push(c);
    }
  }
  if ((e = get('watchIdleMs'))) {
    const v = r.int(e.value, 'kubernetes.watchIdleMs', 0, e.key);
    if (v !== undefined && (v < IDLE_MIN_MS || v > IDLE_MAX_MS))
      r.report(
        e.value,
        `kubernetes.watchIdleMs must be ${IDLE_MIN_MS}..${IDLE_MAX_MS} (a list or watch silent this long is reconnected; bookmarks come about once a minute), got ${v}`,
      );
    else if (v !== undefined) out.watchIdleMs = v;
  }
  if ((e = get('cgroupRoot'))) {
    // kubelet's --cgroup-root, relative to the cgroup v2 mount ("/" is allowed here: it is a root, not a source)
    const s = r.string(e.value, 'kubernetes.cgroupRoot', e.key);
    const p = s === undefined || s === '/' ? s : parseCgroupPath(s);
    if (p !== undefined && failed(p))
      r.report(
        e.value,
        `kubernetes.cgroupRoot "${s}" is not a cgroup path (kubelet's --cgroup-root under the cgroup v2 mount, e.g. "/" or "/kubelet"): ${p.error.replace(/, e\.g\. cgroup:\S+$/, '')}`,
      );
    else if (p !== undefined) out.cgroupRoot = p;
  }
  return out;
}

/** The node whose pods are watched: the key, else $NODE_NAME (downward API), else the host name. */
export function resolveNodeName(k: KubernetesConfig, env: NodeJS.ProcessEnv = process.env): string {
  return k.nodeName ?? (env.NODE_NAME || hostname().toLowerCase());
}

const SELECTOR_KEYS = ['matchLabels', 'matchExpressions'] as const;
const REQUIREMENT_KEYS = ['key', 'operator', 'values'] as const;
export const POD_SOURCE_KEYS = ['namespaceSelector', 'podSelector'] as const;

function stringValue(r: Reader, node: Node | null, what: string, fallback: Node): string | undefined {
  // YAML reads `true`, `1` and `null` as non-strings; a label value is always a string, so say so
  if (isScalar(node) && typeof node.value !== 'string' && node.value !== null) {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a YAML scalar's value is a boolean, number or bigint here
    r.report(node, `${what} must be a string; quote it ("${String(node.value)}")`);
    return undefined;
  }
  return r.string(node, what, fallback);
}

function selector(r: Reader, node: Node | null, what: string, fallback: Node): LabelSelector | undefined {
  const m = r.map(node, what, SELECTOR_KEYS, fallback);
  if (!m) return undefined;
  const sel: LabelSelector = { matchLabels: {}, matchExpressions: [] };
  let ok = true;
  const ml = m.get('matchLabels');
  if (ml && !r.absent(ml.value)) {
    if (!isMap(ml.value)) {
      r.report(ml.value, `${what}.matchLabels must be a mapping of label to value`);
      ok = false;
    } else {
      for (const pair of ml.value.items) {
        const k = pair.key as Node | null;
        if (!isScalar(k) || typeof k.value !== 'string') {
          r.report(k, `${what}.matchLabels: keys must be strings`, ml.value);
          ok = false;
          continue;
        }
        const ke = labelKeyError(k.value);
        if (ke) {
          r.report(k, `${what}.matchLabels: ${ke}`);
          ok = false;
          continue;
        }
        const v = stringValue(r, r.deref(pair.value), `${what}.matchLabels.${k.value}`, k);
        if (v === undefined) {
          ok = false;
          continue;
        }
        const ve = labelValueError(v);
        if (ve) {
          r.report(pair.value as Node, `${what}.matchLabels.${k.value}: ${ve}`);
          ok = false;
        } else sel.matchLabels[k.value] = v;
      }
    }
  }
  const me = m.get('matchExpressions');
  if (me && !r.absent(me.value)) {
    for (const [i, item] of (r.seq(me.value, `${what}.matchExpressions`, me.key) ?? []).entries()) {
      const w = `${what}.matchExpressions[${i}]`;
      const rm = r.map(item, w, REQUIREMENT_KEYS, me.key);
      if (!rm) {
        ok = false;
        continue;
      }
      const ke = rm.get('key');
      const oe = rm.get('operator');
      if (!ke || r.absent(ke.value) || !oe || r.absent(oe.value)) {
        r.report(item, `${w}: "key" and "operator" are required`);
        ok = false;
        continue;
      }
      const key = r.string(ke.value, `${w}.key`, ke.key);
      const op = r.oneOf(oe.value, `${w}.operator`, OPERATORS);
      const values: string[] = [];
      const ve = rm.get('values');
      if (ve && !r.absent(ve.value)) {
        for (const [j, v] of (r.seq(ve.value, `${w}.values`, ve.key) ?? []).entries()) {
          const s = stringValue(r, v, `${w}.values[${j}]`, ve.key);
          if (s !== undefined) values.push(s);
          else ok = false;
        }
      }
      if (key === undefined || op === undefined) {
        ok = false;
        continue;
      }
      const req: Requirement = { key, operator: op, values };
      const err = requirementError(req);
      if (err) {
        r.report(/key/.test(err) && !/values?\b/.test(err) ? ke.value : (ve?.value ?? item), `${w}: ${err}`);
        ok = false;
      } else sel.matchExpressions.push(req);
    }
  }
  return ok ? sel : undefined;
}

/** A `{namespaceSelector, podSelector}` entry of `sources`. */
export function readPodSource(r: Reader, node: Node | null, what: string, fallback: Node): SourceSpec | undefined {
  const m = r.map(node, what, POD_SOURCE_KEYS, fallback);
  if (!m) return undefined;
  const ns = m.get('namespaceSelector');
  const pod = m.get('podSelector');
  const hasNs = !!ns && !r.absent(ns.value);
  const hasPod = !!pod && !r.absent(pod.value);
  if (!hasNs && !hasPod) {
    r.report(node, `${what}: a pod source needs namespaceSelector and/or podSelector`, fallback);
    return undefined;
  }
  const namespaceSelector = hasNs ? selector(r, ns.value, `${what}.namespaceSelector`, ns.key) : null;
  const podSelector = hasPod ? selector(r, pod.value, `${what}.podSelector`, pod.key) : null;
  if (namespaceSelector === undefined || podSelector === undefined) return undefined;
  return { kind: 'pods', namespaceSelector, podSelector };
}
