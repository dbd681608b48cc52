// An address that changes hands: the revocation of the old owner's elements must not race the
// new owner's first answer, nor miss an answer of the old owner that was still on its way.
// PodIdentity against the test API server (in process) and a kernel whose revoke the test
// gates, so the ordering is forced rather than hoped for.
import t, { type Test } from 'tap';
import { parseConfig } from '../../lib/config/load';
import { PolicyIndex } from '../../lib/policy/index';
import { PodIdentity } from '../../lib/identity/pod/resolver';
import type { PodKernel, RevokePlan } from '../../lib/identity/pod/kernel';
import type { Query, Resolved } from '../../lib/identity/resolver';
import type { Source } from '../../lib/identity/types';
import { startEnv, waitFor, quiet, pod } from '../kube/helpers';
import { opensslMissing } from '../kube/pki';

class GatedKernel implements PodKernel {
  readonly revoked: RevokePlan[] = [];
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  close(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open();
  }
  async revoke(plan: RevokePlan): Promise<number> {
    if (plan.size === 0) return 0;
    await this.gate;
    this.revoked.push(plan);
    return plan.size;
  }
  async managed(): Promise<void> {}
  /** what a previous daemon left: pods4/pods6 and the sources of live elements */
  previous = new Set<string>();
  live = new Set<string>();
  async previousPods(): Promise<Set<string>> {
    return this.previous;
  }
  async liveSources(): Promise<Set<string>> {
    return this.live;
  }
}

const ADDR = '10.244.1.5';
const query = (address: string): Query => ({ peer: { address, family: 4, port: 40000 }, local: { address: '10.244.1.1', port: 53 }, transport: 'udp' });
const isSource = (r: Resolved): r is Source => r !== null && 'kind' in r;

if (opensslMissing()) {
  if (process.env.CI === 'true') t.fail(opensslMissing()!);
  else t.plan(0, `skip: ${opensslMissing()}`);
} else {
  const setup = async (t: Test, left?: { previous: string[]; live: string[] }) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    const cfg = parseConfig(
      'kubernetes: { podCIDRs: ["10.244.1.0/24"], unknownPodHoldMs: 3000 }\npolicies:\n  - name: web\n    sources: [{ podSelector: { matchLabels: { app: web } } }]\n    allow: ["*.example.com"]\n',
      'c.yaml',
    );
    const index = PolicyIndex.compile(cfg.policies);
    const kernel = new GatedKernel();
    if (left) {
      kernel.previous = new Set(left.previous);
      kernel.live = new Set(left.live);
    }
    env.server.create('namespaces', { metadata: { name: 'shop' } });
    env.server.create('nodes', { metadata: { name: 'n1' } });
    env.server.create('pods', pod('shop', 'old', 'n1', ADDR, { app: 'web' }));
    const ids = new PodIdentity(cfg.kubernetes!, env.client, 'n1', cfg.policies, () => index, kernel, quiet);
    ids.start();
    t.teardown(() => ids.stop());
    await ids.watch.synced();
    await waitFor('first list in and the startup sweep planned', () => ids.ready);
    return { env, ids, kernel, index };
  };

  t.test("the new owner is answered only after the old owner's elements are revoked", async (t) => {
    const { env, ids, kernel, index } = await setup(t);
    kernel.close();
    env.server.delete('pods', 'shop/old');
    env.server.create('pods', pod('shop', 'new', 'n1', ADDR, { app: 'web' }));
    await waitFor('the new pod is known', () => ids.podOf(ADDR)?.name === 'new');
    const got = ids.resolve(query(ADDR), index);
    t.ok(got instanceof Promise, 'held while the revocation is pending');
    let answered = false;
    void Promise.resolve(got).then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 100));
    t.notOk(answered, 'not answered before the revocation ran');
    kernel.release();
    const r = await got;
    t.ok(
      kernel.revoked.some((p) => p.has(ADDR) && p.get(ADDR) === null),
      'everything of the address was revoked',
    );
    t.ok(isSource(r) && r.display.includes('shop/new'), `then answered as the new pod (${isSource(r) ? r.display : JSON.stringify(r)})`);
    // settled: the next query is not held
    t.ok(isSource(ids.resolve(query(ADDR), index) as Resolved), 'the next query resolves at once');
  });

  t.test('an answer of the old owner still on its way is revoked after it lands', async (t) => {
    const { env, ids, kernel, index } = await setup(t);
    const r = ids.resolve(query(ADDR), index);
    t.ok(isSource(r as Resolved), 'the old pod resolves');
    let land: () => void = () => undefined;
    ids.settled(r as Source, new Promise<void>((res) => (land = res)));
    env.server.delete('pods', 'shop/old');
    await waitFor('the pod is gone', () => ids.podOf(ADDR) === undefined);
    await new Promise((r) => setTimeout(r, 150));
    t.equal(kernel.revoked.length, 0, 'the revocation waits for the answer on its way');
    land();
    await waitFor('revoked after it landed', () => kernel.revoked.some((p) => p.has(ADDR)));
    t.pass('revoked after the old answer landed');
  });

  t.test('startup sweep: what a previous daemon programmed for addresses no pod holds any more goes after the first list', async (t) => {
    // live elements for: ADDR (the listed pod, selected), 10.244.1.9 (pod CIDR, no pod: deleted
    // while no daemon ran), 10.9.9.9 (a previous pod address outside the CIDRs, no pod),
    // 10.8.8.8 (neither: another identity's source, not swept)
    const { ids, kernel } = await setup(t, { previous: [ADDR, '10.9.9.9'], live: [ADDR, '10.244.1.9', '10.9.9.9', '10.8.8.8'] });
    await waitFor('the first kernel pass', () => kernel.revoked.length > 0);
    const plan = kernel.revoked[0];
    t.same([...plan.keys()].sort(), ['10.244.1.5', '10.244.1.9', '10.9.9.9'], 'pod addresses only');
    t.equal(plan.get('10.244.1.9'), null, 'no pod holds it: everything goes');
    t.equal(plan.get('10.9.9.9'), null, 'a previous pod address outside the CIDRs likewise');
    const keep = plan.get(ADDR);
    t.type(keep, 'function', 'a selected pod holds it: judged by its policies');
    t.ok(keep!('api.example.com', { set: 'allow4', source: Buffer.alloc(4), destination: Buffer.alloc(4) }), "its policy's names stay");
    t.notOk(keep!('evil.example.org', { set: 'allow4', source: Buffer.alloc(4), destination: Buffer.alloc(4) }), 'others go');
    t.ok(ids.ready);
  });
}
