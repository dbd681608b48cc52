// Checks a /metrics body with Prometheus's own parser and linter (`promtool check metrics`,
// Debian package prometheus), then reads samples out of the validated text.
import { spawnSync } from 'node:child_process';

/** null when the text parses and lints clean; otherwise promtool's complaint. Throws if promtool is missing. */
export function promtoolProblems(text: string): string | null {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool not runnable (apt-get install prometheus): ${r.error.message}`);
  if (r.status === 0) return null;
  return `promtool exit ${r.status}: ${(r.stdout + r.stderr).trim()}`;
}

export function promtoolMissing(): string | null {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? 'needs promtool (Debian package prometheus)' : null;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text that promtool accepted (so each line is `name{l="v",…} value`). */
export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unexpected exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name and (a subset of) these labels; undefined if none. */
export function value(all: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}
