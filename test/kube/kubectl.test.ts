// The test API server checked with the real kubectl: if kubectl can list and watch pods through
// it (discovery, TLS with the test CA, client certificate and token auth, LIST, WATCH with the
// events arriving as they happen), the stand-in speaks the protocol, not just our client's
// dialect of it. Fails under CI=true when kubectl is missing; skips elsewhere.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { requireOrSkip } from '../sandbox/need-root';
import { opensslMissing } from './pki';
import { startEnv, waitFor, pod } from './helpers';

function kubectlMissing(): string | null {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? `needs kubectl: ${r.error?.message ?? r.stderr}` : null;
}

/** Async on purpose: the API server runs in this process, a spawnSync would block it. */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn('kubectl', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => c.kill(), 30_000);
    c.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

if (requireOrSkip(t, opensslMissing() ?? kubectlMissing())) {
  for (const auth of [{ clientCert: true }, { token: 'secret-token', inlineData: true }]) {
    t.test(`kubectl get pods -w against the test API server (${auth.clientCert ? 'client certificate' : 'token, inline CA'})`, async (t) => {
      const env = await startEnv();
      t.teardown(() => env.close());
      env.server.create('pods', pod('shop', 'frontend-1', 'n1', '10.244.1.7', { app: 'frontend' }));
      env.server.create('pods', pod('shop', 'backend-1', 'n1', '10.244.1.8', { app: 'backend' }));
      env.server.create('pods', pod('other', 'x', 'n1', '10.244.1.9', { app: 'frontend' }));
      const kc = env.server.kubeconfigIn(env.dir, auth);
      const env2 = { ...process.env, HOME: env.dir, KUBECACHEDIR: `${env.dir}/cache` };

      const list = await run(['--kubeconfig', kc, 'get', 'pods', '-n', 'shop', '-l', 'app=frontend', '-o', 'name'], env2);
      t.equal(list.status, 0, `kubectl get exits 0 (stderr: ${list.stderr.trim()})`);
      t.equal(list.stdout.trim(), 'pod/frontend-1', 'label selector and namespace honoured');

      const wide = await run(
        ['--kubeconfig', kc, 'get', 'pods', '-A', '--field-selector', 'spec.nodeName=n1', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.podIP} {end}'],
        env2,
      );
      t.equal(wide.status, 0, `field selector (stderr: ${wide.stderr.trim()})`);
      t.same(wide.stdout.trim().split(' ').sort(), ['backend-1=10.244.1.8', 'frontend-1=10.244.1.7', 'x=10.244.1.9']);

      const w = spawn('kubectl', ['--kubeconfig', kc, 'get', 'pods', '-n', 'shop', '-w', '-o', 'name'], { env: env2, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      w.stdout.on('data', (c) => (out += c));
      w.stderr.on('data', (c) => (err += c));
      t.teardown(() => void w.kill());
      await waitFor('kubectl lists', () => out.includes('pod/frontend-1') && out.includes('pod/backend-1'), 20_000).catch((e) => t.fail(`${e.message}; stderr: ${err}`));
      await waitFor('kubectl watches', () => env.server.openWatches === 1, 20_000).catch((e) => t.fail(`${e.message}; stderr: ${err}`));
      env.server.create('pods', pod('shop', 'frontend-2', 'n1', '10.244.1.10', { app: 'frontend' }));
      await waitFor('the new pod arrives through the watch', () => out.includes('pod/frontend-2'), 20_000).catch((e) => t.fail(`${e.message}; stderr: ${err}`));
      t.notOk(out.includes('pod/x'), 'other namespace not shown');
      const wreq = env.server.requests.find((r) => r.query.watch === 'true' || r.query.watch === '1');
      t.ok(wreq && wreq.path === '/api/v1/namespaces/shop/pods' && Number(wreq.query.resourceVersion) > 0, 'kubectl watched from the list RV');
    });
  }
}
