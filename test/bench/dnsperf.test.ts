// dnsperf output parsing and the summary's goal checks of the bench (bench/dnsperf.ts, bench/report.ts).
import t from 'tap';
import { parseDnsperf, percentile } from '../../bench/dnsperf';
import { summarize, type RunRecord } from '../../bench/report';

const STATS = (sent: number, lost: number, qps: number) => `[Status] Testing complete (time limit)

Statistics:

  Queries sent:         ${sent}
  Queries completed:    ${sent - lost} (99.00%)
  Queries lost:         ${lost} (1.00%)

  Response codes:       NOERROR ${sent - lost - 3} (99.00%), SERVFAIL 3 (0.01%)
  Average packet size:  request 34, response 50
  Run time (s):         3.000201
  Queries per second:   ${qps}

  Average Latency (s):  0.000944 (min 0.000031, max 0.009893)
`;

t.test('saturation block', async (t) => {
  const r = parseDnsperf(STATS(1000, 10, 333.5), false);
  t.same([r.sent, r.completed, r.lost, r.qps], [1000, 990, 10, 333.5]);
  t.equal(r.avgLatencyMs, 0.944);
  t.same(r.rcodes, { NOERROR: 987, SERVFAIL: 3 });
  t.equal(r.p99Ms, undefined);
});

t.test('verbose lines give percentiles; timeouts (T) are not latencies', async (t) => {
  const lines = Array.from({ length: 100 }, (_, i) => `> NOERROR h${i}.example.bench A ${((i + 1) / 1e4).toFixed(6)}`);
  lines.push('> T h1.example.bench A');
  const r = parseDnsperf(lines.join('\n') + '\n' + STATS(101, 1, 100), true);
  t.equal(r.p50Ms, 5);
  t.equal(r.p99Ms, 9.9);
  t.equal(r.maxMs, 10);
});

t.test('missing statistics is an error naming the field', async (t) => {
  t.throws(() => parseDnsperf('[Status] Command line: dnsperf\n', false), /Queries sent/);
});

t.test('percentile picks the nearest rank', async (t) => {
  t.equal(percentile([1, 2, 3, 4], 0.5), 2);
  t.equal(percentile([1, 2, 3, 4], 0.99), 4);
  t.ok(Number.isNaN(percentile([], 0.5)));
});

t.test('summary: medians over rounds and the goal checks', async (t) => {
  const run = (target: RunRecord['target'], workload: RunRecord['workload'], qps: number, p99?: number): RunRecord => ({
    round: 1,
    target,
    workload,
    startMs: 1,
    result: { sent: 10, completed: 10, lost: 0, qps, avgLatencyMs: 1, rcodes: {}, p50Ms: p99, p99Ms: p99 },
  });
  const s = summarize([
    run('dnswall', 'unique', 100),
    run('dnswall', 'unique', 300),
    run('dnswall', 'unique', 200),
    run('dnsmasq-nftset', 'unique', 50),
    run('dnswall', 'latency', 2000, 3),
    run('direct', 'latency', 2000, 1.5),
    run('dnsmasq', 'latency', 2000, 2),
  ]);
  t.equal(s.qps.unique.dnswall, 200);
  const byWhat = Object.fromEntries(s.checks.map((c) => [c.what, c]));
  t.equal(byWhat['unique qps dnswall / dnsmasq-nftset'].value, 4);
  t.equal(byWhat['unique qps dnswall / dnsmasq-nftset'].pass, true, '4 >= 2.5 (the speed targets)');
  t.equal(byWhat['p99 at 2000 qps: dnswall - dnsmasq (ms)'].value, 1);
  t.equal(byWhat['p99 at 2000 qps: dnswall - dnsmasq (ms)'].pass, false, '1 ms over plain dnsmasq > 0.5');
  t.equal(byWhat['hot qps dnswall / dnsmasq'].pass, false, 'no data is no pass');
  t.equal(byWhat['unique qps dnswall / dnsmasq'].pass, false, 'no dnsmasq data is no pass');
});
