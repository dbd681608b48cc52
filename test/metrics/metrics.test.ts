// Metrics are read from the live counters at scrape time and served over HTTP.
import t from 'tap';
import http from 'node:http';
import { startForwarder, POLICY } from '../server/harness';
import { dnsQuery } from '../../lib/sandbox/agent-dns';
import { createRegistry, serveMetrics, quantile } from '../../lib/metrics/metrics';
import type { PolicyPlugin } from '../../lib/plugins/policy/policy';
import type { NftsetPlugin } from '../../lib/plugins/nftset/nftset';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

t.test('quantile of a ring', async (t) => {
  const ring = new Float64Array(8);
  t.equal(quantile(ring, 0, 0.5), 0, 'empty');
  [5, 1, 4, 2, 3].forEach((v, i) => (ring[i] = v));
  t.equal(quantile(ring, 5, 0.5), 3);
  t.equal(quantile(ring, 5, 0.99), 5);
});

t.test('scrape after real queries', async (t) => {
  const f = await startForwarder(POLICY);
  t.teardown(() => f.close());
  const plugin = <T>(name: string) => f.chain.plugins.find((p) => p.name === name) as T | undefined;
  const reg = createRegistry({
    listeners: () => [{ transport: 'udp', listen: `127.0.0.1:${f.port}`, stats: f.udp.stats }, { transport: 'tcp', listen: `127.0.0.1:${f.port}`, stats: f.tcp.stats }],
    policy: () => plugin<PolicyPlugin>('policy')?.stats,
    nftset: () => plugin<NftsetPlugin>('nftset')?.stats,
    upstream: () => undefined,
    programmer: () => undefined,
  });
  const server = await serveMetrics({ host: '127.0.0.1', port: 0, family: 4 }, reg);
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  for (const name of ['api.example.com', 'www.example.com', 'evil.example.org']) {
    await dnsQuery({ server: '127.0.0.1', port: f.port, name, timeoutMs: 3000 });
  }
  const { status, body } = await get(port, '/metrics');
  t.equal(status, 200);
  t.match(body, /dnswall_policy_decisions_total\{verdict="allow"\} 2\n/);
  t.match(body, /dnswall_policy_decisions_total\{verdict="deny"\} 1\n/);
  t.match(body, /dnswall_nftset_answers_total\{outcome="committed"\} 2\n/);
  t.match(body, /dnswall_nftset_elements_total 3\n/, 'api: 1 + www: 2 addresses');
  t.match(body, /dnswall_requests_total\{transport="udp",listen="127\.0\.0\.1:\d+"\} 3\n/);
  t.match(body, /dnswall_nftset_hold_seconds\{quantile="0\.99"\} [0-9.e-]+\n/);
  t.match(body, /dnswall_process_resident_memory_bytes \d+/);
  t.equal((await get(port, '/other')).status, 404);
});

t.test('cgroup lookups: counts by outcome and the lookup time', async (t) => {
  const latency = new Float64Array(16);
  [20_000, 30_000, 40_000].forEach((v, i) => (latency[i] = v)); // ns
  const reg = createRegistry({
    listeners: () => [],
    policy: () => undefined,
    nftset: () => undefined,
    upstream: () => undefined,
    programmer: () => undefined,
    cgroup: () => ({ lookups: 5, found: 3, failed: 2, latency, latencyCount: 3 }),
  });
  const body = await reg.metrics();
  t.match(body, /dnswall_cgroup_lookups_total\{outcome="found"\} 3\n/);
  t.match(body, /dnswall_cgroup_lookups_total\{outcome="failed"\} 2\n/);
  t.match(body, /dnswall_cgroup_lookup_seconds\{quantile="0\.5"\} 0\.00003\n/);
  const none = createRegistry({ listeners: () => [], policy: () => undefined, nftset: () => undefined, upstream: () => undefined, programmer: () => undefined });
  t.notMatch(await none.metrics(), /dnswall_cgroup_lookups_total\{/, 'no cgroup sources: no samples');
});
