// The pod list/watch against the test API server, one fault at a time. Each case is judged by
// the reflector's resulting store and the add/update/delete calls it made, never by logs.
import t from 'tap';
import { requireOrSkip } from '../sandbox/need-root';
import { opensslMissing } from './pki';
import { startEnv, waitFor, quiet, pod, prng, type Env } from './helpers';
import { Reflector } from '../../lib/kube/reflector';
import type { Pod } from '../../lib/kube/types';

interface Seen {
  log: string[];
  r: Reflector<Pod>;
}

function reflect(env: Env, opts: Partial<ConstructorParameters<typeof Reflector>[1]> = {}): Seen {
  const log: string[] = [];
  const id = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}@${p.metadata.uid.slice(0, 8)}`;
  const r = new Reflector<Pod>(
    env.client,
    { path: '/api/v1/pods', fieldSelector: 'spec.nodeName=n1', idleMs: 2000, backoff: { initialMs: 20, maxMs: 200 }, random: prng(7), ...opts },
    {
      add: (p) => log.push(`add ${id(p)}`),
      update: (_o, p) => log.push(`update ${id(p)}`),
      delete: (p) => log.push(`delete ${id(p)}`),
    },
    quiet,
  );
  r.start();
  return { log, r };
}

const ips = (r: Reflector<Pod>) => [...r.store.values()].map((p) => `${p.metadata.name}=${p.status?.podIP}`).sort();
const uidOf = (env: Env, key: string) => env.server.get('pods', key)!.metadata.uid!.slice(0, 8);

if (requireOrSkip(t, opensslMissing())) {
  t.test('list (paged) then watch: only this node, add/update/delete in order', async (t) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    for (let i = 0; i < 5; i++) env.server.create('pods', pod('shop', `a${i}`, 'n1', `10.244.1.${i + 1}`));
    env.server.create('pods', pod('shop', 'other', 'n2', '10.244.2.1'));
    const { r, log } = reflect(env, { pageSize: 2 });
    await r.synced();
    t.same(ips(r), ['a0=10.244.1.1', 'a1=10.244.1.2', 'a2=10.244.1.3', 'a3=10.244.1.4', 'a4=10.244.1.5'], 'all five, paged by 2, none of n2');
    t.equal(env.server.requests.filter((q) => q.path === '/api/v1/pods' && !q.query.watch).length, 3, 'three pages');
    await waitFor('watch open', () => env.server.openWatches === 1);
    const w = env.server.requests.find((q) => q.query.watch)!;
    t.equal(w.query.allowWatchBookmarks, 'true', 'asks for bookmarks');
    t.equal(w.query.fieldSelector, 'spec.nodeName=n1');
    t.ok(Number(w.query.timeoutSeconds) > 0, 'asks for a server-side timeout');
    log.length = 0;
    env.server.patch('pods', 'shop/a1', (p) => (p.metadata.labels = { app: 'x' }));
    env.server.delete('pods', 'shop/a2');
    env.server.create('pods', pod('shop', 'a9', 'n1', '10.244.1.9'));
    env.server.create('pods', pod('shop', 'b9', 'n2', '10.244.2.9'));
    await waitFor('three events', () => log.length === 3);
    t.same(
      log.map((l) => l.split('@')[0]),
      ['update shop/a1', 'delete shop/a2', 'add shop/a9'],
    );
    t.equal(r.resourceVersion, String(env.server.resourceVersion - 1), 'RV of the last event seen (the n2 pod is not ours)');
    await r.stop();
  });

  for (const mode of ['http', 'stream'] as const) {
    t.test(`410 Gone as ${mode === 'http' ? 'HTTP status' : 'in-stream ERROR'}: relist reconciles deletes, UID replacement and adds`, async (t) => {
      const env = await startEnv({ goneMode: mode });
      t.teardown(() => env.close());
      env.server.create('pods', pod('shop', 'keep', 'n1', '10.244.1.1'));
      env.server.create('pods', pod('shop', 'gone', 'n1', '10.244.1.2'));
      env.server.create('pods', pod('shop', 'same-name', 'n1', '10.244.1.3'));
      const oldUid = uidOf(env, 'shop/same-name');
      const { r, log } = reflect(env);
      await r.synced();
      await waitFor('watch open', () => env.server.openWatches === 1);
      log.length = 0;
      // during a disconnect: changes, then the history is compacted away
      env.server.closeWatches();
      env.server.delete('pods', 'shop/gone');
      env.server.delete('pods', 'shop/same-name');
      env.server.create('pods', pod('shop', 'same-name', 'n1', '10.244.1.7'));
      env.server.create('pods', pod('shop', 'new', 'n1', '10.244.1.4'));
      env.server.compact();
      const newUid = uidOf(env, 'shop/same-name');
      await waitFor('relisted', () => r.stats.relists === 1 && env.server.openWatches === 1);
      t.same(ips(r), ['keep=10.244.1.1', 'new=10.244.1.4', 'same-name=10.244.1.7']);
      t.same(
        log.sort(),
        [
          `add shop/new@${uidOf(env, 'shop/new')}`,
          `add shop/same-name@${newUid}`,
          `delete shop/gone@${log.find((l) => l.startsWith('delete shop/gone'))!.split('@')[1]}`,
          `delete shop/same-name@${oldUid}`,
        ].sort(),
        'old UID deleted, new UID added',
      );
      t.equal(r.stats.gone, 1);
      // events after the relist still arrive
      env.server.delete('pods', 'shop/keep');
      await waitFor('delete after relist', () => !r.store.has('shop/keep'));
      await r.stop();
    });
  }

  t.test('in-stream 410 on a live watch (expired while open)', async (t) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    env.server.create('pods', pod('shop', 'p', 'n1', '10.244.1.1'));
    const { r } = reflect(env);
    await r.synced();
    await waitFor('watch open', () => env.server.openWatches === 1);
    env.server.expireWatches();
    env.server.create('pods', pod('shop', 'q', 'n1', '10.244.1.2'));
    await waitFor('relist after in-stream ERROR', () => r.stats.relists === 1 && r.store.has('shop/q'));
    t.equal(r.stats.gone, 1);
    await r.stop();
  });

  t.test('bookmarks keep the RV fresh: a reconnect after much unrelated churn needs no relist', async (t) => {
    const env = await startEnv({ historySize: 5, bookmarkMs: 50 });
    t.teardown(() => env.close());
    env.server.create('pods', pod('shop', 'p', 'n1', '10.244.1.1'));
    const { r } = reflect(env);
    await r.synced();
    await waitFor('watch open', () => env.server.openWatches === 1);
    // 20 changes on another node: none reaches our watch, all push our RV out of the history
    for (let i = 0; i < 20; i++) env.server.create('pods', pod('shop', `x${i}`, 'n2', `10.244.2.${i + 1}`));
    const target = String(env.server.resourceVersion);
    await waitFor('a bookmark carried the RV', () => r.resourceVersion === target);
    t.ok(r.stats.bookmarks >= 1);
    env.server.closeWatches();
    env.server.create('pods', pod('shop', 'q', 'n1', '10.244.1.2'));
    await waitFor('event after reconnect', () => r.store.has('shop/q'));
    t.equal(r.stats.relists, 0, 'no relist');
    t.equal(r.stats.gone, 0, 'no 410');
    await r.stop();
  });

  t.test('server-side close: re-watch from the last RV, no event lost, no relist', async (t) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    const { r, log } = reflect(env);
    await r.synced();
    for (let round = 0; round < 5; round++) {
      await waitFor('watch open', () => env.server.openWatches === 1);
      env.server.closeWatches();
      env.server.create('pods', pod('shop', `p${round}`, 'n1', `10.244.1.${round + 1}`));
    }
    await waitFor('all five', () => r.store.size === 5);
    t.equal(log.length, 5, 'each add once');
    t.equal(r.stats.lists, 1, 'no relist');
    t.ok(r.stats.watches >= 6);
    await r.stop();
  });

  t.test('429 with Retry-After and 500s: retried with backoff, never stops, state converges', async (t) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    env.server.faults.push({ on: 'list', kind: 'status', code: 500 }, { on: 'list', kind: 'status', code: 503 });
    const { r } = reflect(env);
    await r.synced();
    t.equal(r.stats.errors, 2, 'two failed lists, then synced');
    await waitFor('watch open', () => env.server.openWatches === 1);
    env.server.faults.push(
      { on: 'watch', kind: 'status', code: 429, retryAfterSeconds: 1 },
      { on: 'watch', kind: 'status', code: 500 },
      { on: 'watch', kind: 'status', code: 500 },
    );
    env.server.closeWatches();
    env.server.create('pods', pod('shop', 'late', 'n1', '10.244.1.9'));
    await waitFor('event after the faults', () => r.store.has('shop/late'));
    const watches = env.server.requests.filter((q) => q.query.watch);
    const i429 = watches.findIndex((q) => q.status === 429);
    t.ok(i429 >= 0, 'the 429 was served');
    t.ok(watches[i429 + 1].at - watches[i429].at >= 950, `Retry-After honoured (${watches[i429 + 1].at - watches[i429].at} ms > backoff max 200)`);
    t.equal(r.stats.errors, 5);
    t.equal(r.stats.lists, 1, 'errors other than 410 resume the watch, no relist');
    await r.stop();
  });

  t.test('a stalled watch (headers, then silence) is detected by the no-data timer and replaced', async (t) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    const { r } = reflect(env, { idleMs: 400 });
    await r.synced();
    await waitFor('watch open', () => env.server.openWatches === 1);
    env.server.faults.push({ on: 'watch', kind: 'stall' });
    env.server.closeWatches();
    // the next watch stalls; an event happens meanwhile
    await waitFor('stalled watch taken', () => env.server.faults.length === 0);
    env.server.create('pods', pod('shop', 'during-stall', 'n1', '10.244.1.5'));
    await waitFor('event after the stall', () => r.store.has('shop/during-stall'), 5000);
    t.equal(r.stats.stalls, 1);
    t.equal(r.stats.lists, 1, 'resumed from the RV, nothing missed');
    await r.stop();
  });

  t.test('a stalled LIST and a reset connection are retried', async (t) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    env.server.create('pods', pod('shop', 'p', 'n1', '10.244.1.1'));
    env.server.faults.push({ on: 'list', kind: 'stall' }, { on: 'list', kind: 'reset' });
    const { r } = reflect(env, { idleMs: 300 });
    await r.synced();
    t.same(ips(r), ['p=10.244.1.1']);
    t.equal(r.stats.errors, 2);
    env.server.faults.push({ on: 'watch', kind: 'reset' });
    await waitFor('watch open', () => env.server.openWatches === 1);
    env.server.closeWatches();
    env.server.create('pods', pod('shop', 'q', 'n1', '10.244.1.2'));
    await waitFor('after reset', () => r.store.has('shop/q'));
    await r.stop();
  });

  t.test('a stale DELETED for an old UID never removes the pod that reuses the name', async (t) => {
    const env = await startEnv();
    t.teardown(() => env.close());
    env.server.create('pods', pod('shop', 'p', 'n1', '10.244.1.1'));
    const { r, log } = reflect(env);
    await r.synced();
    await waitFor('watch open', () => env.server.openWatches === 1);
    const old = env.server.get('pods', 'shop/p')!;
    // replaced under the same name (the new UID arrives as MODIFIED through a short-lived gap)
    env.server.update('pods', { ...pod('shop', 'p', 'n1', '10.244.1.2'), metadata: { name: 'p', namespace: 'shop', uid: 'new-uid-0000', labels: {} } });
    await waitFor('replaced', () => r.store.get('shop/p')?.metadata.uid === 'new-uid-0000');
    t.same(
      log.slice(-2).map((l) => l.split('@')[0]),
      ['delete shop/p', 'add shop/p'],
      'new UID = delete old + add new',
    );
    // now a delete event naming the old UID (a late event) must not touch the new pod
    (r as unknown as { apply(e: unknown): void }).apply({ type: 'DELETED', object: old });
    t.equal(r.store.get('shop/p')?.metadata.uid, 'new-uid-0000');
    await r.stop();
  });
}
