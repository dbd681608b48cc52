// Connections: in-cluster (env + service account files, token re-read after rotation) and the
// kubeconfig forms we support; what we do not support is an error that names it.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireOrSkip } from '../sandbox/need-root';
import { opensslMissing } from './pki';
import { startEnv, waitFor, quiet, pod } from './helpers';
import { fromKubeconfig, inCluster, KubeConfigError } from '../../lib/kube/connection';
import { KubeClient, KubeHttpError } from '../../lib/kube/client';
import { Reflector } from '../../lib/kube/reflector';
import type { Pod } from '../../lib/kube/types';

const dir = mkdtempSync(join(tmpdir(), `dnswall-kubeconn-${process.pid}-`));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('in-cluster needs the service env', async (t) => {
  t.throws(() => inCluster({}, dir), /KUBERNETES_SERVICE_HOST/);
  t.throws(() => inCluster({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, join(dir, 'nope')), /service account CA: cannot read/);
});

t.test('kubeconfig errors name the problem', async (t) => {
  const cases: [string, RegExp][] = [
    [
      'current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "http://x"}}]\nusers: [{name: u, user: {}}]',
      /must be https/,
    ],
    [
      'current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://x"}}]\nusers: [{name: u, user: {exec: {command: aws}}}]',
      /"exec" is not supported/,
    ],
    [
      'current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://x"}}]\nusers: [{name: u, user: {auth-provider: {name: gcp}}}]',
      /"auth-provider" is not supported/,
    ],
    ['current-context: a\ncontexts: [{name: a, context: {cluster: zz}}]\nclusters: [{name: c, cluster: {server: "https://x"}}]', /no cluster named "zz"/],
    ['current-context: b\ncontexts: [{name: a, context: {cluster: c}}]\nclusters: []', /no context named "b"/],
    ['contexts: []', /no current-context/],
    [
      'current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://x", certificate-authority: /nonexistent/ca}}]\nusers: [{name: u, user: {}}]',
      /certificate-authority: cannot read \/nonexistent\/ca/,
    ],
    [
      'current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://x"}}]\nusers: [{name: u, user: {client-certificate-data: QQ==}}]',
      /go together/,
    ],
    ['[1, 2', /not YAML/],
  ];
  for (const [i, [text, re]] of cases.entries()) {
    const f = join(dir, `bad-${i}`);
    writeFileSync(f, text);
    t.throws(() => fromKubeconfig(f), re, `case ${i}: ${re}`);
  }
  t.throws(() => fromKubeconfig(join(dir, 'absent')), KubeConfigError);
});

if (requireOrSkip(t, opensslMissing())) {
  t.test('in-cluster with a rotating token: the new token is used after rotation', async (t) => {
    const env = await startEnv({ tokens: ['token-1'] });
    t.teardown(() => env.close());
    const sa = join(env.dir, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'ca.crt'), env.pki.caCert);
    writeFileSync(join(sa, 'token'), 'token-1\n');
    const conn = inCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(env.server.port) }, sa);
    t.equal(conn.server, `https://127.0.0.1:${env.server.port}`);
    const client = new KubeClient(conn);
    t.teardown(() => client.close());
    env.server.create('pods', pod('a', 'p', 'n1', '10.244.1.1'));
    const r = new Reflector<Pod>(client, { path: '/api/v1/pods', idleMs: 2000, backoff: { initialMs: 20, maxMs: 100 } }, { add() {}, update() {}, delete() {} }, quiet);
    r.start();
    t.teardown(() => r.stop());
    await r.synced();
    await waitFor('watch', () => env.server.openWatches === 1);
    // kubelet rotates the token; the old one stops working
    writeFileSync(join(sa, 'token'), 'token-2\n');
    env.server.tokens = ['token-2'];
    env.server.closeWatches();
    env.server.create('pods', pod('a', 'q', 'n1', '10.244.1.2'));
    await waitFor('event with the rotated token', () => r.store.has('a/q'));
    t.equal(env.server.requests.filter((q) => q.status === 401).length, 0, 'no request went out with the stale token');
  });

  t.test('kubeconfig: client certificate files and inline data; wrong CA fails TLS', async (t) => {
    const env = await startEnv({ tokens: [] });
    t.teardown(() => env.close());
    env.server.create('namespaces', { metadata: { name: 'shop', labels: { team: 'a' } } });
    for (const inlineData of [false, true]) {
      const c = new KubeClient(fromKubeconfig(env.server.kubeconfigIn(env.dir, { clientCert: true, inlineData })));
      const list = await c.get<{ items: { metadata: { name: string } }[] }>('/api/v1/namespaces', {}, 5000);
      t.same(
        list.items.map((i) => i.metadata.name),
        ['shop'],
        `client cert (${inlineData ? 'inline' : 'files'})`,
      );
      c.close();
    }
    const anon = new KubeClient(fromKubeconfig(env.server.kubeconfigIn(env.dir, {})));
    const e401 = await anon.get('/api/v1/namespaces', {}, 5000).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(e401 instanceof KubeHttpError && e401.status === 401, 'no credentials: 401');
    anon.close();
    const other = (await import('./pki')).makePki();
    t.teardown(() => other.cleanup());
    const kc = env.server.kubeconfigIn(env.dir, { clientCert: true });
    writeFileSync(kc, readFileSync(kc, 'utf8').replace(env.pki.files.ca, other.files.ca));
    const wrong = new KubeClient(fromKubeconfig(kc));
    await t.rejects(wrong.get('/api/v1/namespaces', {}, 5000), /certificate|self.signed|verify/i, 'a server not signed by the configured CA is refused');
    wrong.close();
  });
}
