// Typed, position-aware access to a parsed YAML document. Every check that fails records an
// issue at the offending node and returns undefined, so validation carries on and reports all
// problems in one pass.
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Scalar } from 'yaml';
import type { ConfigIssue } from './errors';

/** Alias dereferences allowed in one document: anchors may share lists, not build bombs. */
export const MAX_ALIAS_RESOLUTIONS = 200;

export type Entry = { key: Scalar; value: Node | null };

export class Reader {
  readonly issues: ConfigIssue[] = [];
  private aliases = 0;

  constructor(
    readonly file: string,
    private readonly lc: LineCounter,
    private readonly doc: Document,
  ) {}

  at(offset: number, message: string): void {
    const { line, col } = this.lc.linePos(offset);
    this.issues.push({ file: this.file, line, col, message });
  }

  /** "line L, column C" of a node, for messages that point at a second place. */
  position(node: Node): string {
    const { line, col } = this.lc.linePos(node.range?.[0] ?? 0);
    return `line ${line}, column ${col}`;
  }

  report(node: Node | null | undefined, message: string, fallback?: Node): void {
    const n = node ?? fallback;
    this.at(n?.range?.[0] ?? 0, message);
  }

  /** Follows an alias to its anchored node. */
  deref(node: unknown): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      if (++this.aliases > MAX_ALIAS_RESOLUTIONS) {
        this.report(node, `more than ${MAX_ALIAS_RESOLUTIONS} alias uses`);
        return null;
      }
      const target = node.resolve(this.doc);
      if (!target) this.report(node, `unknown alias *${node.source}`);
      return (target as Node | undefined) ?? null;
    }
    return node as Node;
  }

  /** null, ~ or nothing after the colon all mean "not set". */
  absent(node: Node | null): boolean {
    return node === null || (isScalar(node) && node.value === null);
  }

  /** A mapping whose keys must come from `keys`; unknown keys are reported, first occurrence wins. */
  map(node: Node | null, what: string, keys: readonly string[], fallback?: Node): Map<string, Entry> | undefined {
    if (!isMap(node)) {
      this.report(node, `${what} must be a mapping`, fallback);
      return undefined;
    }
    const out = new Map<string, Entry>();
    for (const pair of node.items) {
      const key = pair.key as Node | null;
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.report(key, `${what}: keys must be plain strings`, node);
        continue;
      }
      const name = key.value;
      if (!keys.includes(name)) {
        const close = keys.find((k) => k.toLowerCase() === name.toLowerCase()) ?? keys.find((k) => editDistance(k, name) <= 2);
        const hint = close ? `did you mean "${close}"?` : `expected one of: ${keys.join(', ')}`;
        this.report(key, `unknown key "${name}" in ${what}; ${hint}`);
        continue;
      }
      if (!out.has(name)) out.set(name, { key, value: this.deref(pair.value) });
    }
    return out;
  }

  /** A sequence's items, aliases resolved. */
  seq(node: Node | null, what: string, fallback?: Node): (Node | null)[] | undefined {
    if (!isSeq(node)) {
      this.report(node, `${what} must be a list`, fallback);
      return undefined;
    }
    return node.items.map((i) => this.deref(i));
  }

  string(node: Node | null, what: string, fallback?: Node): string | undefined {
    if (!isScalar(node) || typeof node.value !== 'string') {
      this.report(node, `${what} must be a string${describe(node)}`, fallback);
      return undefined;
    }
    return node.value;
  }

  int(node: Node | null, what: string, min: number, fallback?: Node): number | undefined {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isSafeInteger(node.value)) {
      this.report(node, `${what} must be an integer${describe(node)}`, fallback);
      return undefined;
    }
    if (node.value < min) {
      this.report(node, `${what} must be ${min === 0 ? 'non-negative' : `at least ${min}`}, got ${node.value}`);
      return undefined;
    }
    return node.value;
  }

  bool(node: Node | null, what: string, fallback?: Node): boolean | undefined {
    if (!isScalar(node) || typeof node.value !== 'boolean') {
      this.report(node, `${what} must be true or false${describe(node)}`, fallback);
      return undefined;
    }
    return node.value;
  }

  oneOf<T extends string>(node: Node | null, what: string, values: readonly T[]): T | undefined {
    const s = this.string(node, what);
    if (s === undefined) return undefined;
    if (!(values as readonly string[]).includes(s)) {
      this.report(node, `${what} must be ${values.join(' or ')}, got "${s}"`);
      return undefined;
    }
    return s as T;
  }
}

/** Levenshtein distance, for "did you mean" hints on short key names. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function describe(node: Node | null): string {
  if (node === null) return ', got nothing';
  if (isMap(node)) return ', got a mapping';
  if (isSeq(node)) return ', got a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return ', got null';
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a YAML scalar's value is a string, number, boolean or bigint
    return `, got ${typeof v} ${JSON.stringify(node.source ?? String(v)).slice(0, 60)}`;
  }
  return '';
}
