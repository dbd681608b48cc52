// Bytes allocated per query by function: V8's sampling heap profiler (node:inspector) over one
// piece of work, objects collected since included, so short-lived garbage counts (bench/chain-micro.ts,
// bench/cpu.ts --alloc). Sampled: each line is an estimate, the total too.
import { Session } from 'node:inspector';

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** --alloc: bytes allocated per query by function (V8's sampling heap profiler, collected objects included). */
export async function allocationProfile(work: () => Promise<unknown>, queriesDone: number | (() => number)): Promise<void> {
  const s = new Session();
  s.connect();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) => s.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await work();
  const { profile } = await post<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling');
  s.disconnect();
  const by = new Map<string, number>();
  let total = 0;
  const walk = (n: SamplingNode) => {
    const f = n.callFrame;
    const where = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/dist\//, '').replace(/.*node_modules\//, '')}:${f.lineNumber + 1}`;
    by.set(where, (by.get(where) ?? 0) + n.selfSize);
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  const queries = typeof queriesDone === 'number' ? queriesDone : queriesDone();
  console.log(`allocated ${(total / queries).toFixed(0)} bytes/query (sampled); top:`);
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${(v / queries).toFixed(0).padStart(6)} B  ${k}`);
}
