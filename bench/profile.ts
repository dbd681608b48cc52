// Summarising a V8 .cpuprofile (node --cpu-prof): self time per function, highest first.
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  selfMs: number;
  pct: number;
}

/** Top `limit` functions by self time; `where` is file:line relative to cwd (or the V8 category). */
export function topSelfTime(file: string, limit = 20): { totalMs: number; top: SelfTime[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const dt = p.timeDeltas[i] ?? 0;
    if (!n || dt < 0) continue;
    total += dt;
    const cf = n.callFrame;
    const url = cf.url.replace(/^file:\/\//, '');
    const where = url ? `${path.relative(process.cwd(), url)}:${cf.lineNumber + 1}` : '(v8)';
    const key = `${cf.functionName}|${where}`;
    const e = self.get(key) ?? { fn: cf.functionName || '(anonymous)', where, us: 0 };
    e.us += dt;
    self.set(key, e);
  }
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({ fn: e.fn, where: e.where, selfMs: e.us / 1000, pct: total ? (100 * e.us) / total : 0 }));
  return { totalMs: total / 1000, top };
}

export function formatProfile(s: { totalMs: number; top: SelfTime[] }): string {
  const lines = [`profile: ${(s.totalMs / 1000).toFixed(1)} s sampled; top self time:`];
  for (const e of s.top) lines.push(`  ${e.pct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.fn}  ${e.where}`);
  return lines.join('\n');
}
