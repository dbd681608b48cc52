// Each plugin registers its own metrics with the registry handed to it at setup; the exposition
// of a real forwarder after real queries parses and lints clean under promtool.
import t from 'tap';
import http from 'node:http';
import { startForwarder, POLICY } from '../server/harness';
import { dnsQuery } from '../../lib/sandbox/agent-dns';
import { serveMetrics } from '../../lib/metrics/http';
import { MetricsRegistry } from '../../lib/metrics/registry';
import { requireOrSkip } from '../sandbox/need-root';
import { registerCgroupMetrics } from '../../lib/identity/cgroup/metrics';
import { registerPodMetrics, type PodIdentityView } from '../../lib/identity/pod/metrics';
import { promtoolMissing, promtoolProblems, samples, value } from './exposition';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

t.test('the exposition checker itself rejects a broken text', async (t) => {
  if (!requireOrSkip(t, promtoolMissing())) return;
  t.equal(promtoolProblems('# HELP a_total x\n# TYPE a_total counter\na_total 1\n'), null, 'a clean text');
  t.ok(promtoolProblems('# HELP a x\n# TYPE a counter\na{b="1} 1\n'), 'an unterminated label value is an error');
  t.ok(promtoolProblems('b 1\n'), 'no HELP is a lint problem');
});

t.test('scrape after real queries: per-plugin metrics, real histograms, build info', async (t) => {
  if (!requireOrSkip(t, promtoolMissing())) return;
  // cache.admission first-miss: the second api.example.com is a hit (with the default it is stored then)
  const f = await startForwarder(POLICY + 'cache: { admission: first-miss }\n');
  t.teardown(() => f.close());
  const server = await serveMetrics({ host: '127.0.0.1', port: 0, family: 4 }, f.chain.metrics as MetricsRegistry);
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  for (const name of ['api.example.com', 'www.example.com', 'evil.example.org', 'api.example.com']) {
    await dnsQuery({ server: '127.0.0.1', port: f.port, name, timeoutMs: 3000 });
  }
  const { status, body } = await get(port, '/metrics');
  t.equal(status, 200);
  t.equal(promtoolProblems(body), null, 'promtool check metrics: parses and lints clean');
  const s = samples(body);
  t.equal(value(s, 'dnswall_policy_decisions_total', { policy: 'loop', verdict: 'allow' }), 3);
  t.equal(value(s, 'dnswall_policy_decisions_total', { policy: 'loop', verdict: 'deny' }), 1);
  t.equal(value(s, 'dnswall_nftset_answers_total', { outcome: 'committed' }), 3);
  t.equal(value(s, 'dnswall_nftset_elements_total'), 4, 'api: 1 twice + www: 2 addresses');
  t.equal(value(s, 'dnswall_dns_responses_total', { rcode: 'NOERROR' }), 3);
  t.equal(value(s, 'dnswall_dns_responses_total', { rcode: 'NXDOMAIN' }), 1);
  t.equal(value(s, 'dnswall_dns_request_duration_seconds_count', { transport: 'udp', verdict: 'allow' }), 3);
  t.equal(value(s, 'dnswall_dns_request_duration_seconds_bucket', { transport: 'udp', verdict: 'allow', le: '+Inf' }), 3);
  t.equal(value(s, 'dnswall_nftset_hold_duration_seconds_count'), 3);
  t.equal(value(s, 'dnswall_cache_hits_total'), 1, 'the second api.example.com');
  t.equal(value(s, 'dnswall_cache_misses_total'), 2);
  t.equal(value(s, 'dnswall_build_info', { nodejs: process.version }), 1);
  t.notOk(
    s.some((x) => 'quantile' in x.labels),
    'no summary or quantile gauge',
  );
  t.equal((await get(port, '/other')).status, 404);
});

t.test('process_* under their standard names', async (t) => {
  if (!requireOrSkip(t, promtoolMissing())) return;
  const reg = new MetricsRegistry({ process: true, version: '1.2.3' });
  const text = await reg.text();
  t.equal(promtoolProblems(text), null);
  const s = samples(text);
  t.ok((value(s, 'process_resident_memory_bytes') ?? 0) > 0);
  t.ok(value(s, 'process_cpu_seconds_total') !== undefined);
  t.equal(value(s, 'dnswall_build_info', { version: '1.2.3' }), 1);
});

t.test('a pulled counter never goes backwards: a part registered again continues, a reset part counts on', async (t) => {
  const reg = new MetricsRegistry();
  const read = async () => samples(await reg.text());
  const a = { n: 5, m: 1 };
  const register = (stats: { n: number; m: number }) =>
    reg.counterFrom('x_total', 'x', ['k'], (set) => {
      set({ k: 'n' }, stats.n);
      set({ k: 'm' }, stats.m);
    });
  register(a);
  t.equal(value(await read(), 'x_total', { k: 'n' }), 5);
  a.n = 7; // counted after the last scrape, before the part is replaced
  const b = { n: 0, m: 0 };
  register(b); // a reload's new part
  t.equal(value(await read(), 'x_total', { k: 'n' }), 7, "the old part's count, including what it counted since the last scrape");
  b.n = 2;
  t.equal(value(await read(), 'x_total', { k: 'n' }), 9, "then the new part's counts on top");
  register(b); // the same part registered again (a cache kept across a reload): nothing doubles
  b.n = 3;
  t.equal(value(await read(), 'x_total', { k: 'n' }), 10);
  t.equal(value(await read(), 'x_total', { k: 'm' }), 1, 'a label set once reported stays');
  b.n = 1; // a part replaced behind the getter's back: a reset, not a decrease
  t.equal(value(await read(), 'x_total', { k: 'n' }), 11);
  const h1 = reg.histogram('h_seconds', 'h', [], [1]);
  h1.observe(0.5);
  t.equal(reg.histogram('h_seconds', 'h', [], [1]), h1, 'a histogram registered again is the same histogram');
});

t.test('cgroup lookups: counts by outcome and a real histogram of their time', async (t) => {
  const reg = new MetricsRegistry();
  const diag: { stats: { lookups: number; found: number; failed: number }; observe?: (s: number) => void } = { stats: { lookups: 5, found: 3, failed: 2 } };
  registerCgroupMetrics(reg, { diag });
  for (const s of [0.00002, 0.00003, 0.00004]) diag.observe!(s);
  const m = samples(await reg.text());
  t.equal(value(m, 'dnswall_cgroup_lookups_total', { outcome: 'found' }), 3);
  t.equal(value(m, 'dnswall_cgroup_lookups_total', { outcome: 'failed' }), 2);
  t.equal(value(m, 'dnswall_cgroup_lookup_duration_seconds_count'), 3);
  t.equal(value(m, 'dnswall_cgroup_lookup_duration_seconds_bucket', { le: '0.00005' }), 3, 'all three under 50 µs');
});

t.test('pod identity and the Kubernetes watch: pods, holds, revocations, 410s', async (t) => {
  const reg = new MetricsRegistry();
  const r = (o: Partial<Record<string, number>>) => ({ lists: 0, relists: 0, watches: 0, errors: 0, gone: 0, stalls: 0, events: 0, bookmarks: 0, ...o });
  const state: { pods?: PodIdentityView } = {};
  registerPodMetrics(reg, () => state.pods);
  t.notMatch(await reg.text(), /dnswall_pods\{/, 'no pod identity: no samples');
  state.pods = {
    stats: {
      watchedPods: 12,
      selectedPods: 5,
      held: 3,
      heldTimedOut: 1,
      revokedElements: 7,
      kernelErrors: 0,
      hostNetworkPods: 2,
      selectedHostNetworkPods: 1,
      hostNetworkPodCgroups: 1,
    },
    watch: {
      hasSynced: true,
      stats: () => ({ pods: r({ lists: 2, relists: 1, watches: 3, errors: 2, gone: 1, events: 40 }), namespaces: r({ lists: 1 }), node: r({ lists: 1 }) }),
    },
  };
  const m = samples(await reg.text());
  t.equal(value(m, 'dnswall_pods', { state: 'watched' }), 12);
  t.equal(value(m, 'dnswall_pods', { state: 'selected' }), 5);
  t.equal(value(m, 'dnswall_pods', { state: 'host_network_selected' }), 1);
  t.equal(value(m, 'dnswall_pod_held_queries_total', { outcome: 'timed_out' }), 1);
  t.equal(value(m, 'dnswall_pod_revoked_elements_total'), 7);
  t.equal(value(m, 'dnswall_kube_synced'), 1);
  t.equal(value(m, 'dnswall_kube_watch_events_total', { resource: 'pods', event: 'relists' }), 1);
  t.equal(value(m, 'dnswall_kube_watch_errors_total', { resource: 'pods', kind: 'gone' }), 1);
  t.equal(value(m, 'dnswall_kube_watch_errors_total', { resource: 'pods', kind: 'other' }), 1);
});
