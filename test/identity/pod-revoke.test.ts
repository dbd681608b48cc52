// Pod lifecycle on the real kernel, in a fresh netns: the test API server (in process), the real
// watch, PodIdentity and the programmer. A deleted pod, a finished pod and a pod whose address
// changed lose every element at once; the other pods keep theirs; pods4 follows the selected
// pods. Prints the time from the API event to the kernel pass that removed the elements
// (p50/p99 over the deletes) — a measurement, not a bound.
import { execFileSync } from 'node:child_process';
import { runInNetns } from '../nft/netns';
import { openProgrammer, ip4 } from '../nft/fixtures';
import { listElements } from '../../lib/nft/list';
import { parseConfig } from '../../lib/config/load';
import { PolicyIndex } from '../../lib/policy/index';
import { PodIdentity } from '../../lib/identity/pod/resolver';
import { NftPodKernel } from '../../lib/identity/pod/kernel';
import { startEnv, waitFor, quiet, pod } from '../kube/helpers';
import { opensslMissing } from '../kube/pki';
import type { Element } from '../../lib/nft/programmer';

runInNetns(__filename, async (t) => {
  if (opensslMissing()) {
    if (process.env.CI === 'true') t.fail(opensslMissing()!);
    else t.plan(0, `skip: ${opensslMissing()}`);
    return;
  }
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  t.test('delete / finish / re-address: elements gone, others kept', async (t) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    const cfg = parseConfig(
      'kubernetes: { podCIDRs: ["10.244.1.0/24"] }\npolicies:\n  - name: web\n    sources: [{ podSelector: { matchLabels: { app: web } } }]\n    allow: ["*.example.com"]\n',
      'c.yaml',
    );
    const index = PolicyIndex.compile(cfg.policies);
    const p = await openProgrammer();
    t.teardown(() => p.close());
    const N = 40;
    env.server.create('namespaces', { metadata: { name: 'shop' } });
    env.server.create('nodes', { metadata: { name: 'n1' } });
    for (let i = 0; i < N; i++) env.server.create('pods', pod('shop', `web-${i}`, 'n1', `10.244.1.${i + 1}`, { app: 'web' }));
    const ids = new PodIdentity(cfg.kubernetes!, env.client, 'n1', cfg.policies, () => index, new NftPodKernel('dnswall', p), quiet);
    const passes: number[] = [];
    let waiting: { ip: string; done: () => void } | undefined;
    ids.onKernelPass = (revoked) => {
      if (waiting && revoked.includes(waiting.ip)) waiting.done();
    };
    ids.start();
    t.teardown(() => ids.stop());
    await ids.watch.synced();
    await waitFor('first list in and the startup sweep planned', () => ids.ready);
    const els: Element[] = [];
    for (let i = 0; i < N; i++)
      for (let d = 0; d < 20; d++)
        els.push({ set: 'allow4', source: ip4(`10.244.1.${i + 1}`), destination: ip4(`198.18.${i}.${d + 1}`), timeoutMs: 300_000, comment: `n${d}.example.com` });
    await p.add(els);
    await waitFor('pods4 filled', () => ids.stats.selectedPods === N);
    const pods4 = () => execFileSync('nft', ['list', 'set', 'inet', 'dnswall', 'pods4'], { encoding: 'utf8' });
    await waitFor('pods4 in the kernel', () => pods4().includes('10.244.1.40'), 10_000);

    const gone = async (ip: string) => !(await listElements('dnswall')).some((e) => e.source === ip);
    for (let i = 0; i < N - 2; i++) {
      const done = new Promise<void>((r) => (waiting = { ip: `10.244.1.${i + 1}`, done: r }));
      const t0 = performance.now();
      env.server.delete('pods', `shop/web-${i}`);
      await done;
      passes.push(performance.now() - t0);
      t.ok(await gone(`10.244.1.${i + 1}`), `web-${i}: elements gone after its delete`);
    }
    // finished: Succeeded keeps its podIP in the API
    env.server.patch('pods', `shop/web-${N - 2}`, (o) => ((o.status as { phase: string }).phase = 'Succeeded'));
    await waitFor('finished pod revoked', () => ids.stats.selectedPods === 1);
    await waitFor('finished pod elements gone', () => ids.stats.revokedElements === 20 * (N - 1), 10_000);
    t.ok(await gone(`10.244.1.${N - 1}`), 'finished pod: elements gone');
    // re-addressed
    env.server.patch('pods', `shop/web-${N - 1}`, (o) => ((o.status as { podIP: string; podIPs: { ip: string }[] }).podIPs = [{ ip: '10.244.1.200' }]));
    await waitFor('re-addressed pod revoked', () => ids.stats.revokedElements === 20 * N, 10_000);
    t.ok(await gone(`10.244.1.${N}`), 're-addressed pod: elements of the old address gone');
    await waitFor('pods4 follows', () => pods4().includes('10.244.1.200') && !pods4().includes('10.244.1.40'), 10_000);
    passes.sort((a, b) => a - b);
    const q = (f: number) => passes[Math.min(passes.length - 1, Math.floor(f * passes.length))].toFixed(1);
    t.comment(
      `API delete → elements gone (kernel pass done), ${passes.length} deletes, ${N * 20} elements live at start: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${passes[passes.length - 1].toFixed(1)} ms`,
    );
  });
});
