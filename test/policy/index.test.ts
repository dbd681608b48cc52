// PolicyIndex.decide semantics: selection by CIDR, allows adding up, first match in config
// order, ports union, unmanaged and malformed sources, managed CIDRs and cgroups.
import t from 'tap';
import { PolicyIndex } from '../../lib/policy/index';
import { SOURCE_CACHE_MAX } from '../../lib/policy/sources';
import { parseConfig } from '../../lib/config/load';

const cfg = parseConfig(
  `
policies:
  - name: web
    sources: ["10.244.1.0/24", "fd00:10:244:1::/64", "10.244.1.0/24"]
    allow:
      - "api.example.com"
      - name: "**.googleapis.com"
        ports: ["tcp/443"]
      - name: "storage.googleapis.com"
        ports: ["tcp/443", "tcp/8443"]
  - name: wide
    sources: ["10.244.0.0/16", "10.244.1.7"]
    allow:
      - name: "*.googleapis.com"
        ports: ["udp/443", "tcp/443"]
      - "cdn.example.com"
  - name: host
    sources: ["cgroup:/system.slice/backup.service", "10.9.0.0/16"]
  - name: host2
    sources: ["cgroup:/system.slice/backup.service"]
    allow: ["*"]
`,
  'inline.yaml',
);
const ix = PolicyIndex.compile(cfg.policies);
const v4 = (address: string) => ({ address, family: 4 as const });
const v6 = (address: string) => ({ address, family: 6 as const });

t.test('no policy selects: unmanaged', async (t) => {
  const d = ix.decideAddress(v4('192.0.2.1'), 'api.example.com');
  t.equal(d.verdict, 'unmanaged');
  t.same(d.policies, []);
  t.equal(ix.decideAddress(v6('2001:db8::1'), 'x').verdict, 'unmanaged');
});

t.test('selected with no matching rule: deny, policies listed', async (t) => {
  const d = ix.decideAddress(v4('10.244.1.5'), 'evil.com');
  t.equal(d.verdict, 'deny');
  t.same(d.policies, ['web', 'wide']);
  t.equal(d.policy, undefined);
  t.equal(d.pattern, undefined);
  const h = ix.decideAddress(v4('10.9.1.1'), 'api.example.com');
  t.same([h.verdict, h.policies], ['deny', ['host']], 'a policy without allow is default deny');
});

t.test('allows add up across policies', async (t) => {
  t.equal(ix.decideAddress(v4('10.244.1.5'), 'cdn.example.com').policy, 'wide', 'allowed by the second policy');
  t.equal(ix.decideAddress(v4('10.244.2.5'), 'cdn.example.com').verdict, 'allow', 'only wide selects 10.244.2.5');
  t.equal(ix.decideAddress(v4('10.244.2.5'), 'api.example.com').verdict, 'deny', 'web does not select 10.244.2.5');
});

t.test('first match in config order, ports are the union', async (t) => {
  const d = ix.decideAddress(v4('10.244.1.5'), 'storage.googleapis.com');
  t.equal(d.verdict, 'allow');
  t.equal(d.policy, 'web');
  t.equal(d.pattern, '**.googleapis.com');
  t.equal(d.allPorts, false);
  t.same(d.ports, [
    { proto: 'tcp', port: 443 },
    { proto: 'tcp', port: 8443 },
    { proto: 'udp', port: 443 },
  ]);
  const w = ix.decideAddress(v4('10.244.2.5'), 'storage.googleapis.com');
  t.same([w.policy, w.pattern, w.ports.length], ['wide', '*.googleapis.com', 2]);
});

t.test('a rule without ports makes allPorts', async (t) => {
  const d = ix.decideAddress(v4('10.244.1.5'), 'API.example.com.');
  t.same([d.verdict, d.allPorts, d.ports], ['allow', true, []]);
});

t.test('IPv6 sources, and IPv4-mapped addresses treated as IPv4', async (t) => {
  t.equal(ix.decideAddress(v6('fd00:10:244:1::99'), 'api.example.com').verdict, 'allow');
  t.equal(ix.decideAddress(v6('fd00:10:244:2::99'), 'api.example.com').verdict, 'unmanaged');
  t.equal(ix.decideAddress(v6('::ffff:10.244.1.5'), 'api.example.com').verdict, 'allow');
});

t.test('host routes and prefix boundaries', async (t) => {
  t.same(ix.decideAddress(v4('10.244.1.7'), 'x').policies, ['web', 'wide']);
  t.same(ix.decideAddress(v4('10.244.255.255'), 'x').policies, ['wide']);
  t.equal(ix.decideAddress(v4('10.245.0.0'), 'x').verdict, 'unmanaged');
  t.equal(ix.decideAddress(v4('10.243.255.255'), 'x').verdict, 'unmanaged');
});

t.test('malformed source addresses fail closed and do not throw', async (t) => {
  for (const a of ['', 'x', '10.244.1', '10.244.1.500', '::g', '010.244.1.5']) {
    const d = ix.decideAddress(v4(a), 'api.example.com');
    t.equal(d.verdict, 'deny', JSON.stringify(a));
  }
});

t.test('hostile names do not throw', async (t) => {
  for (const n of ['', '.', '..', 'a'.repeat(5000), '\u0000.com', `${'a.'.repeat(2000)}example.com`]) {
    t.doesNotThrow(() => ix.decideAddress(v4('10.244.1.5'), n));
  }
});

t.test('managed CIDRs and cgroups', async (t) => {
  t.same(ix.managed, { v4: ['10.244.1.0/24', '10.244.0.0/16', '10.244.1.7/32', '10.9.0.0/16'], v6: ['fd00:10:244:1::/64'] });
  t.same(ix.cgroups, [{ path: '/system.slice/backup.service', policies: ['host', 'host2'] }]);
  t.equal(ix.decideAddress(v4('10.9.0.1'), 'anything').verdict, 'deny', 'cgroup policies do not apply to IPs');
});

t.test('the source cache stays bounded and correct after clearing', async (t) => {
  const big = PolicyIndex.compile(cfg.policies);
  for (let i = 0; i < SOURCE_CACHE_MAX + 10; i++) {
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    big.decideAddress(v4(a), 'x');
  }
  t.equal(big.decideAddress(v4('10.244.1.5'), 'api.example.com').verdict, 'allow');
  t.equal(big.decideAddress(v4('10.0.0.1'), 'api.example.com').verdict, 'unmanaged');
});

t.test('decisions do not share mutable state', async (t) => {
  const a = ix.decideAddress(v4('10.244.1.5'), 'storage.googleapis.com');
  a.ports.push({ proto: 'udp', port: 1 });
  t.throws(() => (a.policies as string[]).push('x'), TypeError, 'the policy names are frozen (shared by the decisions of one selection)');
  const b = ix.decideAddress(v4('10.244.1.5'), 'storage.googleapis.com');
  t.equal(b.ports.length, 3);
  t.same(b.policies, ['web', 'wide']);
});

t.test('no policies at all: everything unmanaged', async (t) => {
  const empty = PolicyIndex.compile([]);
  t.equal(empty.decideAddress(v4('10.0.0.1'), 'x').verdict, 'unmanaged');
  t.same(empty.managed, { v4: [], v6: [] });
});

t.test('cgroup sources: the path and its descendants', async (t) => {
  const c = parseConfig(
    `
policies:
  - name: backup
    sources: ["cgroup:/system.slice/backup.service"]
    allow: ["*.backup.example.com"]
  - name: slice
    sources: ["cgroup:/system.slice"]
    allow: ["ntp.example.com"]
`,
    'cg.yaml',
  );
  const cx = PolicyIndex.compile(c.policies);
  const d = cx.decideCgroup('/system.slice/backup.service', 's3.backup.example.com');
  t.same([d.verdict, d.policy, d.policies], ['allow', 'backup', ['backup', 'slice']]);
  t.equal(cx.decideCgroup('/system.slice/backup.service/worker', 'ntp.example.com').policy, 'slice', 'descendant');
  t.same(cx.decideCgroup('/system.slice/cron.service', 'x.backup.example.com').policies, ['slice']);
  t.equal(cx.decideCgroup('/system.slice/backup.service2', 'x.backup.example.com').verdict, 'deny', 'not a descendant');
  t.equal(cx.decideCgroup('/user.slice', 'ntp.example.com').verdict, 'unmanaged');
  t.equal(cx.decideCgroup('/', 'ntp.example.com').verdict, 'unmanaged');
  t.equal(cx.decideCgroup('', 'ntp.example.com').verdict, 'unmanaged', 'garbage does not throw');
  t.equal(cx.decideAddress({ address: '10.0.0.1', family: 4 }, 'ntp.example.com').verdict, 'unmanaged', 'IPs are separate');
});

t.test('decisions without a port list are made once per selection and rule; port decisions are their own', async (t) => {
  const ix = PolicyIndex.compile(
    parseConfig(
      `
policies:
  - name: a
    sources: ["10.0.0.0/8"]
    allow:
      - "*.example.com"
      - name: "db.example.net"
        ports: ["tcp/5432"]
  - name: b
    sources: ["10.1.0.0/16"]
    allow: ["*.example.com"]
`,
      'inline.yaml',
    ).policies,
  );
  const one = ix.selectAddress('10.0.0.1');
  const both = ix.selectAddress('10.1.0.1');
  t.equal(ix.decide(one, 'a.example.com'), ix.decide(one, 'b.example.com'), 'one allow per (selection, rule)');
  t.equal(ix.decide(one, 'x.example.org'), ix.decide(one, 'y.example.org'), 'one deny per selection');
  t.not(ix.decide(one, 'a.example.com'), ix.decide(both, 'a.example.com'), 'another selection, another decision');
  t.same(ix.decide(both, 'a.example.com').policies, ['a', 'b']);
  t.equal(ix.decide(one, 'x.example.org').verdict, 'deny');
  const p1 = ix.decide(one, 'db.example.net');
  const p2 = ix.decide(one, 'db.example.net');
  t.same(p1, { verdict: 'allow', policies: ['a'], policy: 'a', pattern: 'db.example.net', allPorts: false, ports: [{ proto: 'tcp', port: 5432 }] });
  t.not(p1.ports, p2.ports, 'a port list is made per decision');
});
