// DNS name patterns (lib/policy/README.md): exact names, '*' within one label, '**.' as the whole
// first label (one or more labels), a lone '*' (every name) and brace sets. Pure, no I/O.
import { braceExpand } from 'minimatch';

/** RFC 1035 2.3.4: a name is at most 253 characters in text form, a label at most 63 octets. */
export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;
/** Brace sets multiply; a pattern may stand for at most this many names. */
export const MAX_BRACE_EXPANSIONS = 256;
/** Longest pattern text accepted before any expansion (a bound for hostile input). */
export const MAX_PATTERN_TEXT = 1024;

// eslint-disable-next-line no-control-regex -- the range starts at NUL on purpose: "anything outside ASCII"
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Lowercase (ASCII only, RFC 4343: String#toLowerCase would fold e.g. U+212A KELVIN SIGN to 'k'
 * and let a different name match an ASCII pattern) and drop one trailing dot.
 */
export function normalizeName(name: string): string {
  let n = name;
  // A loop, not /[A-Z]/.test(): most names are lowercase already, and this runs once per query
  // and per name a reload revokes from (a million of them).
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      n = NON_ASCII.test(n) ? n.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : n.toLowerCase();
      break;
    }
  }
  return n.charCodeAt(n.length - 1) === 0x2e ? n.slice(0, -1) : n;
}

/** Checks brace syntax and returns how many names the pattern expands to, or an error. */
function braceCount(p: string): number | string {
  let count = 1;
  let open = -1;
  let items = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '{') {
      if (open >= 0) return 'nested brace sets are not supported';
      open = i;
      items = 1;
    } else if (c === '}') {
      if (open < 0) return "unbalanced '}'";
      const body = p.slice(open + 1, i);
      if (body.includes('..')) return 'brace ranges like {1..3} are not supported; list the names';
      if (items < 2) return 'a brace set needs at least two alternatives, e.g. {eu,us}';
      count *= items;
      if (count > MAX_BRACE_EXPANSIONS) return `brace sets expand to more than ${MAX_BRACE_EXPANSIONS} names`;
      open = -1;
    } else if (c === ',' && open >= 0) {
      items++;
    }
  }
  if (open >= 0) return "unbalanced '{'";
  return count;
}

function charError(c: string): string {
  if (c === '?') return "'?' is not supported; use '*' for any characters within one label";
  if (c === '[' || c === ']') return 'character classes like [a-z] are not supported';
  if ('()|+^$\\'.includes(c)) return `regular expressions are not supported (found '${c}')`;
  if (c === ',') return "',' is only allowed inside a brace set like {eu,us}";
  const shown = c >= ' ' && c <= '~' ? `'${c}'` : `U+${c.codePointAt(0)!.toString(16).padStart(4, '0')}`;
  return `invalid character ${shown}: labels may contain letters, digits, '-', '_' and '*'`;
}

const LABEL_OK = /^[a-z0-9_*-]+$/;

/** Validates one expanded, normalized name pattern. */
function validateExpanded(n: string): string | null {
  if (n === '*') return null;
  if (n === '') return 'empty pattern';
  const labels = n.split('.');
  let literal = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l === '') return `empty label in "${n}"`;
    if (i === 0 && l === '**') continue;
    if (l.includes('**')) return "'**' is allowed only as the whole first label, as in **.example.com";
    if (!LABEL_OK.test(l)) {
      for (const c of l) if (!/[a-z0-9_*-]/.test(c)) return charError(c);
    }
    const len = l.replace(/\*/g, '').length;
    if (len > MAX_LABEL_LENGTH) return `label "${l}" is longer than ${MAX_LABEL_LENGTH} characters`;
    literal += len + 1;
  }
  if (literal - 1 > MAX_NAME_LENGTH) return `pattern is longer than ${MAX_NAME_LENGTH} characters`;
  return null;
}

/** The error in a pattern as written in the config, or null when it is valid. */
export function validatePattern(p: string): string | null {
  if (typeof p !== 'string') return 'pattern must be a string';
  if (p.length > MAX_PATTERN_TEXT) return `pattern is longer than ${MAX_PATTERN_TEXT} characters`;
  const n = normalizeName(p);
  const count = braceCount(n);
  if (typeof count === 'string') return count;
  const names = count > 1 ? braceExpand(n) : [n];
  for (const e of names) {
    const err = validateExpanded(e);
    if (err) return names.length > 1 ? `${err} (in expansion "${e}")` : err;
  }
  return null;
}

/** The names a valid pattern stands for (brace sets expanded), normalized. Throws when invalid. */
export function expandPattern(p: string): string[] {
  const err = validatePattern(p);
  if (err) throw new Error(`bad pattern "${p}": ${err}`);
  const n = normalizeName(p);
  const names = n.includes('{') ? braceExpand(n) : [n];
  return [...new Set(names)];
}

/**
 * A label glob ('*' = any run of characters within the label), matched without regular
 * expressions so that a hostile name can never cause backtracking: prefix, suffix, and the
 * middle pieces found left to right (greedy leftmost is exact for '*'-only globs).
 */
export class LabelGlob {
  readonly text: string;
  private readonly prefix: string;
  private readonly suffix: string;
  private readonly middle: string[];
  private readonly minLength: number;

  constructor(text: string) {
    const parts = text.split('*');
    this.text = text;
    this.prefix = parts[0];
    this.suffix = parts[parts.length - 1];
    this.middle = parts.slice(1, -1).filter((s) => s !== '');
    this.minLength = parts.reduce((a, s) => a + s.length, 0);
  }

  matches(label: string): boolean {
    if (label.length < this.minLength) return false;
    if (!label.startsWith(this.prefix) || !label.endsWith(this.suffix)) return false;
    let at = this.prefix.length;
    const end = label.length - this.suffix.length;
    for (const m of this.middle) {
      const i = label.indexOf(m, at);
      if (i < 0 || i + m.length > end) return false;
      at = i + m.length;
    }
    return true;
  }
}
