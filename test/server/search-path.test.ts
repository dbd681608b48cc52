// Kubernetes search paths (ndots:5): a pod asks name.ns.svc.cluster.local, name.svc.cluster.local,
// name.cluster.local, name.<node domain> before the name itself. With denyResponse nxdomain the
// expansions are answered NXDOMAIN by policy at once (never forwarded), so resolvers move on to
// the real name; and a flood of denials writes only a rate-limited number of log lines.
import t from 'tap';
import { startForwarder, POLICY } from './harness';
import { dnsQuery, type DnsOk } from '../../lib/sandbox/agent-dns';
import type { PolicyPlugin } from '../../lib/plugins/policy/policy';
import { DENIED_LINES_PER_SECOND } from '../../lib/plugins/querylog/querylog';
import { capture } from '../log-capture';

const NAME = 'api.example.com';
const EXPANSIONS = ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'example.internal'].map((d) => `${NAME}.${d}`);
const FLOOD = 1000;
const BATCH = 50;
/** The querylog plugin's denial lines: a burst of 20, then 20 lines per second. */
const LOG_PER_SECOND = DENIED_LINES_PER_SECOND;

t.test('search-path expansions: NXDOMAIN by policy without upstream, then the real name', async (t) => {
  const f = await startForwarder(POLICY + 'denyResponse: nxdomain\n');
  t.teardown(() => f.close());
  for (const q of EXPANSIONS) {
    const r = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: q, timeoutMs: 2000 })) as DnsOk;
    t.equal(r.ok && r.rcode, 'NXDOMAIN', `${q}: NXDOMAIN`);
    t.ok(r.ok && r.ede.some((e) => e.code === 18), `${q}: EDE 18 (Prohibited)`);
  }
  const real = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: NAME, timeoutMs: 2000 })) as DnsOk;
  t.equal(real.rcode, 'NOERROR', 'the real name is answered');
  t.equal(real.answers[0]?.data, '198.18.0.10');
  t.same(
    f.upstreamQueries.map((q) => q.q.toLowerCase().replace(/\.$/, '')),
    [NAME],
    'only the real name went upstream',
  );
});

t.test(`${FLOOD} denied queries: the "denied" log lines are rate-limited`, async (t) => {
  const { log, lines } = capture();
  const f = await startForwarder(POLICY, { log });
  t.teardown(() => f.close());
  const started = Date.now();
  let nx = 0;
  for (let i = 0; i < FLOOD; i += BATCH) {
    const batch = Array.from({ length: BATCH }, (_, j) => dnsQuery({ server: '127.0.0.1', port: f.port, name: `${EXPANSIONS[(i + j) % 4]}`, timeoutMs: 2000 }));
    for (const r of await Promise.all(batch)) if (r.ok && r.rcode === 'NXDOMAIN') nx++;
  }
  const seconds = (Date.now() - started) / 1000;
  t.equal(nx, FLOOD, 'every one answered NXDOMAIN');
  const policy = f.chain.plugins.find((p) => p.name === 'policy') as PolicyPlugin;
  t.equal(policy.stats.denied, FLOOD, 'every one counted as denied');
  const denied = lines.filter((l) => l.msg === 'denied');
  const allowedLines = Math.ceil(LOG_PER_SECOND + LOG_PER_SECOND * seconds) + 1;
  t.ok(denied.length >= 1 && denied.length <= allowedLines, `${denied.length} "denied" lines for ${FLOOD} denials in ${seconds.toFixed(2)} s (at most ${allowedLines})`);
  const reported = denied.reduce((n, l) => n + 1 + (l.suppressed as number), 0);
  t.ok(reported <= FLOOD && reported > denied.length, `suppressed counts carried on the lines: ${reported} of ${FLOOD} accounted for`);
  t.equal(f.upstreamQueries.length, 0, 'nothing forwarded');
});
