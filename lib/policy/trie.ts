// All patterns of all policies compiled once into one trie of reversed labels (TLD first), so a
// lookup costs about one node per label of the queried name, whatever the number of patterns.
// Every trie node sits at a fixed depth and is entered at most once per lookup, so even
// configurations full of globs cost at most the size of the trie.
import { LabelGlob } from './pattern';

/** Which rule a pattern came from: indexes into the policy list and that policy's allow list. */
export interface Terminal {
  readonly policy: number;
  readonly rule: number;
}

class TrieNode {
  readonly children = new Map<string, TrieNode>();
  /** Patterns that end exactly here. */
  readonly exact: Terminal[] = [];
  /** '**.' patterns whose suffix ends here: they match one or more further labels. */
  readonly deep: Terminal[] = [];
  /** A lone '*' label: any single label. */
  any: TrieNode | null = null;
  /** Labels with '*' among other characters, e.g. api-*, each with its own subtree. */
  readonly globs: { glob: LabelGlob; node: TrieNode }[] = [];
}

export class NameTrie {
  private readonly root = new TrieNode();
  /** The lone '*' pattern: every name, the root included. */
  private readonly all: Terminal[] = [];
  private nodeCount = 1;

  /** Number of nodes, for tests and the summary. */
  get size(): number {
    return this.nodeCount;
  }

  /** Adds one expanded, normalized, valid pattern (see expandPattern). */
  insert(pattern: string, t: Terminal): void {
    if (pattern === '*') {
      this.all.push(t);
      return;
    }
    const labels = pattern.split('.');
    const deep = labels[0] === '**';
    let node = this.root;
    for (let i = labels.length - 1; i >= (deep ? 1 : 0); i--) node = this.child(node, labels[i]);
    (deep ? node.deep : node.exact).push(t);
  }

  private child(node: TrieNode, label: string): TrieNode {
    if (label === '*') return node.any ?? (this.nodeCount++, (node.any = new TrieNode()));
    if (label.includes('*')) {
      const found = node.globs.find((g) => g.glob.text === label);
      if (found) return found.node;
      const g = { glob: new LabelGlob(label), node: new TrieNode() };
      node.globs.push(g);
      this.nodeCount++;
      return g.node;
    }
    let c = node.children.get(label);
    if (!c) {
      c = new TrieNode();
      node.children.set(label, c);
      this.nodeCount++;
    }
    return c;
  }

  /**
   * Pushes every terminal whose pattern matches the normalized name onto `out` (unordered, may
   * repeat) and returns the number of trie nodes entered.
   */
  match(name: string, out: Terminal[]): number {
    for (const t of this.all) out.push(t);
    return walk(this.root, name, name === '' ? NO_LABELS : name.length, out);
  }

  /**
   * For the names of one more label under `parent` (normalized; not ''): which first labels can
   * change the match? Only those that some node the parent's labels lead to goes on by — an
   * exact label or a label glob; every other label goes on by '*' and '**.' patterns alone, so
   * all of them match the same patterns. Returns a test for "this label can matter", or null
   * when none can (the parent's nodes go on by '*' and '**.' only). Reload revocation decides
   * the other names once per parent (PolicyIndex.decider).
   */
  labelsThatMatter(parent: string): ((label: string) => boolean) | null {
    const nodes: TrieNode[] = [];
    reached(this.root, parent, parent.length, nodes);
    const routing = nodes.filter((n) => n.children.size > 0 || n.globs.length > 0);
    if (routing.length === 0) return null;
    return (label) => routing.some((n) => n.children.has(label) || n.globs.some((g) => g.glob.matches(label)));
  }
}

/** `rest` of walk(): no label left. */
const NO_LABELS = -1;

/** The dot before the last label of `name`'s first `rest` characters (-1: none; see walk). */
function dotBefore(name: string, rest: number): number {
  return rest === 0 ? -1 : name.lastIndexOf('.', rest - 1);
}

/**
 * Walks the labels of `name` right to left (TLD first) without splitting it: `rest` is the
 * length of the part not consumed yet (its last label is next), NO_LABELS when every label is.
 * A name of n dots has n + 1 labels, empty ones included ('' has none).
 */
function walk(node: TrieNode, name: string, rest: number, out: Terminal[]): number {
  let visited = 1;
  if (rest === NO_LABELS) {
    for (const t of node.exact) out.push(t);
    return visited;
  }
  for (const t of node.deep) out.push(t);
  const dot = dotBefore(name, rest);
  const label = name.slice(dot + 1, rest);
  const next = dot < 0 ? NO_LABELS : dot;
  const c = node.children.get(label);
  if (c) visited += walk(c, name, next, out);
  if (node.any) visited += walk(node.any, name, next, out);
  for (const g of node.globs) if (g.glob.matches(label)) visited += walk(g.node, name, next, out);
  return visited;
}

/** The nodes walk() would end in for `name` (terminals aside). */
function reached(node: TrieNode, name: string, rest: number, out: TrieNode[]): void {
  if (rest === NO_LABELS) {
    out.push(node);
    return;
  }
  const dot = dotBefore(name, rest);
  const label = name.slice(dot + 1, rest);
  const next = dot < 0 ? NO_LABELS : dot;
  const c = node.children.get(label);
  if (c) reached(c, name, next, out);
  if (node.any) reached(node.any, name, next, out);
  for (const g of node.globs) if (g.glob.matches(label)) reached(g.node, name, next, out);
}
