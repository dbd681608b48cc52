// The scale run's driver: scale-main.js inside the bench's node namespace, its JSON line back.
import path from 'node:path';
import type { Topology } from '../lib/sandbox/topology';

interface Lookup {
  element: string;
  ms: number;
  found: boolean;
  error?: string;
}

export interface ScaleResult {
  elements: number;
  programmed: number;
  failed: number;
  firstError: string;
  seconds: number;
  elementsPerSec: number;
  batches: number;
  messages: number;
  rssMiB: number;
  hwmMiB: number;
  rssBeforeMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** single-key NFT_MSG_GETSETELEM (the kernel lookup) */
  lookups: Lookup[];
  absentLookup?: Lookup;
  /** `nft get element` (the CLI reads the whole set first) */
  nftCli: Lookup[];
  /** GETSETELEM dump of allow4, as SetProgrammer.open() seeds its book */
  dump: { ms: number; elements: number; error?: string };
  checks: { what: string; value: number; goal: string; pass: boolean }[];
}

export async function runScale(topo: Topology, elements: number): Promise<ScaleResult> {
  const log = (s: string) => process.stderr.write(s + '\n');
  log(`scale: programming ${elements} distinct elements through SetProgrammer in ${topo.ns.node}`);
  // bounded: programming (15 min deadline inside) + 6 lookups + nft CLI 20 s + dump 60 s
  const r = await topo.exec(topo.ns.node, [process.execPath, '--expose-gc', path.join(__dirname, 'scale-main.js'), String(elements)], { timeoutMs: 20 * 60_000 });
  if (r.code !== 0) throw new Error(`scale run failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const res = JSON.parse(line) as ScaleResult;
  res.checks = [
    { what: 'programming elements/s', value: res.elementsPerSec, goal: '>= 80000', pass: res.elementsPerSec >= 80_000 },
    { what: `RSS MiB with ${res.programmed} live elements`, value: res.rssMiB, goal: '<= 300 MB (286 MiB)', pass: res.rssMiB * 1.048576 <= 300 },
  ];
  const out = [
    `scale: ${res.programmed}/${res.elements} elements in ${res.seconds.toFixed(1)} s = ${res.elementsPerSec.toFixed(0)} elements/s (${res.batches} batches, ${res.failed} failed${res.firstError ? `: ${res.firstError}` : ''})`,
    `scale: RSS ${res.rssMiB.toFixed(1)} MiB (peak ${res.hwmMiB.toFixed(1)}, before ${res.rssBeforeMiB.toFixed(1)}), JS heap used ${res.heapUsedMiB.toFixed(1)} MiB`,
    `scale: JS heap ${res.heapUsedMiB.toFixed(1)} used / ${res.heapTotalMiB.toFixed(1)} MiB total`,
    ...res.lookups.map((l) => `scale: GETSETELEM allow4 { ${l.element} }: ${l.ms.toFixed(2)} ms ${l.found ? 'found' : `NOT FOUND (${l.error})`}`),
    ...(res.absentLookup
      ? [`scale: GETSETELEM absent { ${res.absentLookup.element} }: ${res.absentLookup.ms.toFixed(2)} ms ${res.absentLookup.found ? 'FOUND (wrong)' : 'not found (right)'}`]
      : []),
    ...res.nftCli.map((l) => `scale: nft get element allow4 '{ ${l.element} }': ${l.ms.toFixed(0)} ms ${l.found ? 'found' : `failed: ${l.error}`}`),
    `scale: GETSETELEM dump of allow4 (what open() seeds from): ${res.dump.error ? `failed after ${res.dump.ms.toFixed(0)} ms: ${res.dump.error}` : `${res.dump.elements} elements in ${res.dump.ms.toFixed(0)} ms`}`,
    ...res.checks.map((c) => `  ${c.pass ? 'PASS' : 'FAIL'}  ${c.what} = ${c.value.toFixed(1)} (goal ${c.goal})`),
  ];
  process.stdout.write(out.join('\n') + '\n');
  return res;
}
