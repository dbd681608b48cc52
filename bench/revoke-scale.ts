// Reload revocation at scale, from the programmer's book (issue 13): N live elements (default
// 1M: 8 sources, every name distinct, one in ten under a name the new policy drops), then
// revokeDisallowed() with the new policy — the book decides each (source, name) once and the
// revoked keys are deleted; no set is read. Prints one JSON line with the time and CPU of the
// decision and of the deletions, and checks in the kernel that a revoked element is gone and a
// kept one is there. Run it in a namespace of its own, under the bench lock:
//   ip netns add dwrs && flock /work/notes/bench.lock ip netns exec dwrs node dist/bench/revoke-scale.js [N] [--kernel]; ip netns delete dwrs
// REVOKE_PROFILE=file.cpuprofile: a CPU profile of the revocation step.
// --exact-child: a new policy that names one host under keep.bench (the others still share).
// --distinct-parents: every name under a parent of its own (nothing shared: the worst case).
// --kernel: revoke from a dump of the sets instead (the path the book replaces), to compare.
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { parseConfig } from '../lib/config/load';
import { renderRuleset, installRuleset } from '../lib/nft/ruleset';
import { SetProgrammer } from '../lib/nft/programmer';
import { NfnlSocket } from '../lib/nft/netlink/socket';
import { NFPROTO_INET, NFT_MSG_GETSETELEM, NLM_F_ACK } from '../lib/nft/netlink/constants';
import { setElemMsg, encodeElement } from '../lib/nft/netlink/setelem';
import { encodeKey } from '../lib/nft/keys';
import { PolicyIndex } from '../lib/policy/index';
import { revokeDisallowed, groupVisitor } from '../lib/server/revoke';

// Paced (WAVE adds per tick, a 1 ms pause every tick): the change-notification socket must keep up
// (netlink@0.3.0 aborts the process when it overflows, see programmer.ts startWatch).
const WAVE = 100;
const MAX_OUTSTANDING = 50_000;
const DEADLINE_MS = 15 * 60_000;
const src = (i: number) => Buffer.from([192, 0, 2, 10 + (i & 7)]);
const dst = (i: number) => Buffer.from([198, 18 + ((i >>> 19) & 1), (i >>> 11) & 255, (i >>> 3) & 255]);
// --distinct-parents: every name under a parent of its own (u1.p1.keep.bench): nothing to share.
const distinctParents = process.argv.includes('--distinct-parents');
const name = (i: number) => `u${i}.${distinctParents ? `p${i}.` : ''}${i % 10 === 0 ? 'gone' : 'keep'}.bench`;
const config = (allow: string) =>
  parseConfig(
    `listen: ["127.0.0.1:53"]
upstreams: ["127.0.0.1:53"]
nftables: { table: dnswall }
limits: { maxElementsPerSource: 1000000, maxElements: 1000000 }
policies:
  - name: bench
    sources: ["192.0.2.0/24"]
    allow: [${allow}]
`,
    '<revoke-scale>',
  );

async function present(sock: NfnlSocket, i: number): Promise<boolean> {
  const key = encodeKey({ set: 'allow4', source: src(i), destination: dst(i) });
  try {
    await sock.get('get element', (seq) => setElemMsg(NFT_MSG_GETSETELEM, NLM_F_ACK, seq, NFPROTO_INET, 'dnswall', 'allow4', [encodeElement({ key })]));
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return false;
    throw e;
  }
}

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;

/** REVOKE_PROFILE=file.cpuprofile: a V8 CPU profile of the revocation step only (open it in Chrome's DevTools). */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await post('Profiler.start');
  return async (file) => {
    const { profile } = (await post('Profiler.stop')) as { profile: object };
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

(async () => {
  const n = Math.min(Number(process.argv[2] ?? 1_000_000), 1 << 20);
  if (!Number.isInteger(n) || n < 10) throw new Error(`element count must be 10..${1 << 20}`);
  const before = config('"**.bench"');
  await installRuleset(renderRuleset(before, { managed: { v4: ['192.0.2.0/24'], v6: [] } }));
  const p = new SetProgrammer({ table: 'dnswall', limits: before.limits, refreshSlackMs: 5_000 });
  await p.open();
  let done = 0,
    failed = 0,
    firstError = '';
  const t0 = performance.now();
  for (let i = 0; i < n;) {
    if (performance.now() - t0 > DEADLINE_MS) throw new Error(`programming over ${DEADLINE_MS / 60000} min at ${done} elements`);
    if (i - done - failed > MAX_OUTSTANDING) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    for (const end = Math.min(n, i + WAVE); i < end; i++) {
      p.add([{ set: 'allow4', source: src(i), destination: dst(i), timeoutMs: 3600_000, comment: name(i) }]).then(
        () => {
          done++;
        },
        (e: Error) => {
          failed++;
          firstError ||= e.message;
        },
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  while (done + failed < n) await new Promise((r) => setTimeout(r, 5));
  const programSec = (performance.now() - t0) / 1000;
  process.stderr.write(`programmed ${done} in ${programSec.toFixed(1)} s\n`);
  if (failed) throw new Error(`${failed} adds failed: ${firstError}`);

  // 1. Decide only (the book's visit, nothing deleted): the CPU a reload spends on 1M elements.
  // --exact-child: the new policy also names one host under keep.bench, so no name there can
  // share its parent's decision (PolicyIndex.decider): every name is decided on its own.
  const after = PolicyIndex.compile(config(process.argv.includes('--exact-child') ? '"**.keep.bench", "x.keep.bench"' : '"**.keep.bench"').policies);
  const c0 = process.cpuUsage();
  const d0 = performance.now();
  let wouldGo = 0;
  const visit = groupVisitor(after);
  const dry = await p.revokeFromBook((s, nm) => {
    const v = visit(s, nm);
    if (v === false) wouldGo++;
    return true;
  });
  const decideMs = performance.now() - d0;
  const decideCpuMs = cpuMs(process.cpuUsage(c0));
  if (!dry) throw new Error(`the book is not whole: ${p.bookIncomplete}`);

  process.stderr.write(`decided in ${decideMs.toFixed(0)} ms\n`);
  // 2. The reload's revocation: decide + delete what the new policy drops. With --kernel: the
  //    path the book replaces (a dump of the sets), for comparison.
  const fromKernel = process.argv.includes('--kernel');
  const live = fromKernel ? { readLive: p.readLive.bind(p), remove: p.remove.bind(p), nameOf: p.nameOf.bind(p) } : p;
  const profiler = process.env.REVOKE_PROFILE ? await startProfile() : null;
  const c1 = process.cpuUsage();
  const r0 = performance.now();
  const r = await revokeDisallowed(live, after);
  const revokeMs = performance.now() - r0;
  const revokeCpuMs = cpuMs(process.cpuUsage(c1));
  if (profiler) await profiler(process.env.REVOKE_PROFILE!);

  // 3. A second reload that revokes nothing (the common case).
  const c2 = process.cpuUsage();
  const s0 = performance.now();
  const again = await revokeDisallowed(live, after);
  const againMs = performance.now() - s0;
  const againCpuMs = cpuMs(process.cpuUsage(c2));

  const sock = new NfnlSocket();
  const probes = {
    revokedGone: !(await present(sock, 0)) && !(await present(sock, 10 * Math.floor((n - 1) / 10))),
    keptThere: (await present(sock, 1)) && ((await present(sock, n - 1)) || (n - 1) % 10 === 0),
  };
  sock.close();
  console.log(
    JSON.stringify({
      elements: n,
      programSec,
      wouldGo,
      decide: { ms: decideMs, cpuMs: decideCpuMs, checked: dry.checked },
      revoke: { ...r, wallMs: revokeMs, cpuMs: revokeCpuMs },
      second: { ...again, wallMs: againMs, cpuMs: againCpuMs },
      probes,
      book: p.sizes(),
    }),
  );
  await p.close();
})().catch((e) => {
  console.error(`revoke-scale: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
