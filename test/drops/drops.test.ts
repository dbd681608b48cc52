// Drops explained by who sent them: a pod's address carries the pod and its policies; a local
// process (the cgroup output chain's "dnswall cgdrop") is found by its socket and explained by its
// cgroup's answers; one whose socket is gone is said to be unattributed, not guessed. Filters for
// `dnswall drops --source/--pod/--cgroup`.
import t from 'tap';
import { DropsService, dropFilter, type Drop } from '../../lib/drops/drops';
import type { LoggedPacket } from '../../lib/drops/nflog';
import { PolicyIndex } from '../../lib/policy/index';
import { parseConfig } from '../../lib/config/load';
import { cgroupIdBytes } from '../../lib/nft/owner';
import { MetricsRegistry } from '../../lib/metrics/registry';
import { samples, value } from '../metrics/exposition';

const cfg = parseConfig(
  `
policies:
  - name: web
    sources: ["10.244.1.0/24"]
    allow: [api.example.com]
  - name: backup
    sources: ["cgroup:/system.slice/backup.service"]
    allow: ["*.backup.example.com"]
`,
  'test.yaml',
);
const index = PolicyIndex.compile(cfg.policies);
const v4 = (s: string) => Buffer.from(s.split('.').map(Number));
const packet = (p: Partial<LoggedPacket>): LoggedPacket => ({
  family: 4,
  source: '10.244.1.7',
  destination: '198.18.0.10',
  proto: 'tcp',
  port: 443,
  sport: 40000,
  prefix: 'dnswall drop',
  at: Date.now(),
  ...p,
});

function service(opts: { cgroupFound?: boolean } = {}) {
  const metrics = new MetricsRegistry();
  const lookedUp: LoggedPacket[] = [];
  const drops = new DropsService({
    group: 7,
    index: () => index,
    metrics,
    pod: (address, ix) => (address === '10.244.1.7' ? { name: 'shop/frontend-1', selection: ix.selectAddress(address) } : undefined),
    cgroup: async (p) => {
      lookedUp.push(p);
      return opts.cgroupFound === false ? undefined : { id: 4242n, path: '/system.slice/backup.service/worker' };
    },
  });
  const seen: Drop[] = [];
  drops.follow((d) => seen.push(d));
  return { drops, seen, lookedUp, metrics };
}

t.test('a pod address: the pod, its policies, and the reason from its answers', async (t) => {
  const { drops, seen } = service();
  drops.answered([{ set: 'allow4', source: v4('10.244.1.7'), destination: v4('198.18.0.10'), timeoutMs: 1000, comment: 'api.example.com' }], Date.now() - 5000);
  drops.onPacket(packet({}));
  t.equal(seen.length, 1);
  t.equal(seen[0].pod, 'shop/frontend-1');
  t.same(seen[0].policies, ['web']);
  t.equal(seen[0].reason, 'expired');
  t.match(seen[0].detail, /^answered api\.example\.com to this source, expired \d s ago$/);
  t.equal(seen[0].cgroup, undefined);
});

t.test("a local process: found by its socket, explained by its cgroup's answers", async (t) => {
  const { drops, seen, lookedUp, metrics } = service();
  // the cgroup's element: key = the 8-byte id (host order)
  drops.answered([{ set: 'cgroup4', source: cgroupIdBytes(4242n), destination: v4('198.18.0.20'), timeoutMs: 1000, comment: 'db.backup.example.com' }], Date.now() - 3000);
  drops.onPacket(packet({ source: '192.0.2.1', destination: '198.18.0.20', prefix: 'dnswall cgdrop', sport: 51000 }));
  await new Promise((r) => setImmediate(r));
  t.equal(lookedUp[0]?.sport, 51000, "the lookup got the sender's port");
  t.equal(seen.length, 1);
  t.equal(seen[0].cgroup, '/system.slice/backup.service/worker');
  t.same(seen[0].policies, ['backup'], "selected by its ancestor's policy");
  t.equal(seen[0].reason, 'expired');
  t.match(seen[0].detail, /db\.backup\.example\.com/);
  const m = samples(await metrics.text());
  t.equal(value(m, 'dnswall_kernel_drops_total', { reason: 'expired', policy: 'backup' }), 1);
});

t.test('a local process whose socket is gone: unattributed, not guessed', async (t) => {
  const { drops, seen } = service({ cgroupFound: false });
  drops.onPacket(packet({ source: '192.0.2.1', prefix: 'dnswall cgdrop' }));
  await new Promise((r) => setImmediate(r));
  t.equal(seen[0].reason, 'unattributed');
  t.equal(seen[0].cgroup, undefined);
  t.same(seen[0].policies, []);
});

t.test('audit prefixes mark the drop as let through', async (t) => {
  const { drops, seen } = service();
  drops.onPacket(packet({ prefix: 'dnswall audit' }));
  drops.onPacket(packet({ source: '192.0.2.1', prefix: 'dnswall cgaudit' }));
  await new Promise((r) => setImmediate(r));
  t.same(
    seen.map((d) => d.audit),
    [true, true],
  );
});

t.test('filters: source, pod, cgroup with its descendants', async (t) => {
  const d = (x: Partial<Drop>): Drop => ({ time: '', source: '10.244.1.7', destination: '198.18.0.1', proto: 'tcp', reason: 'never_answered', detail: '', policies: [], ...x });
  const list = [
    d({ pod: 'shop/a' }),
    d({ source: '10.244.1.8', pod: 'shop/b' }),
    d({ source: '192.0.2.1', cgroup: '/system.slice/backup.service' }),
    d({ source: '192.0.2.1', cgroup: '/system.slice/backup.service/worker' }),
    d({ source: '192.0.2.1', cgroup: '/system.slice/backup.serviceX' }),
  ];
  t.equal(list.filter(dropFilter({ source: '10.244.1.7' })).length, 1);
  t.same(
    list.filter(dropFilter({ pod: 'shop/b' })).map((x) => x.source),
    ['10.244.1.8'],
  );
  t.same(
    list.filter(dropFilter({ cgroup: '/system.slice/backup.service/' })).map((x) => x.cgroup),
    ['/system.slice/backup.service', '/system.slice/backup.service/worker'],
    'a descendant, not a sibling with the same prefix',
  );
  t.equal(list.filter(dropFilter({ cgroup: '/' })).length, 3);
  t.equal(list.filter(dropFilter({})).length, 5);
});
