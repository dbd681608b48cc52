// Kubernetes label selectors (metav1.LabelSelector): syntax checks with the API server's rules
// and matching. Pure, no I/O. Rules from apimachinery validation: a label key is an optional DNS
// subdomain prefix (≤ 253) and "/", then a name of ≤ 63 [A-Za-z0-9_.-] starting and ending
// alphanumeric; a value is empty or the same as a name; In/NotIn need values, Exists/DoesNotExist
// take none. An empty selector selects everything.

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export const OPERATORS: readonly Operator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: Requirement[];
}

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkName(s: string, what: string): string | null {
  if (s.length === 0) return `${what} must not be empty`;
  if (s.length > 63) return `${what} "${s}" is longer than 63 characters`;
  if (!NAME.test(s)) return `${what} "${s}" must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric`;
  return null;
}

/** null when `k` is a valid label key, else why not. */
export function labelKeyError(k: string): string | null {
  const slash = k.indexOf('/');
  if (slash === -1) return checkName(k, 'label key');
  if (k.indexOf('/', slash + 1) !== -1) return `label key "${k}" has more than one '/'`;
  const prefix = k.slice(0, slash);
  if (!prefix) return `label key "${k}" has an empty prefix`;
  if (prefix.length > 253) return `label key prefix "${prefix}" is longer than 253 characters`;
  if (!prefix.split('.').every((l) => DNS1123_LABEL.test(l))) return `label key prefix "${prefix}" must be a lowercase DNS subdomain`;
  return checkName(k.slice(slash + 1), `label key "${k}": name part`);
}

/** null when `v` is a valid label value (empty is valid), else why not. */
export function labelValueError(v: string): string | null {
  return v === '' ? null : checkName(v, 'label value');
}

/** null when the requirement is well formed, else why not. */
export function requirementError(r: Requirement): string | null {
  if (!OPERATORS.includes(r.operator)) return `operator "${r.operator}" is not one of ${OPERATORS.join(', ')}`;
  const ke = labelKeyError(r.key);
  if (ke) return ke;
  if ((r.operator === 'In' || r.operator === 'NotIn') && r.values.length === 0) return `operator ${r.operator} needs at least one value`;
  if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && r.values.length > 0) return `operator ${r.operator} takes no values`;
  for (const v of r.values) {
    const ve = labelValueError(v);
    if (ve) return ve;
  }
  return null;
}

export function matches(sel: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  for (const k in sel.matchLabels) if (!Object.prototype.hasOwnProperty.call(l, k) || l[k] !== sel.matchLabels[k]) return false;
  for (const r of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.operator) {
      case 'In':
        if (!has || !r.values.includes(l[r.key])) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(l[r.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** The selector in kubectl's -l syntax, for logs and summaries. */
export function formatSelector(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const r of sel.matchExpressions) {
    if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator.toLowerCase()} (${r.values.join(',')})`);
  }
  return parts.length ? parts.join(',') : '(all)';
}
