// Absent keys take DEFAULTS; empty files and missing policies are valid (nothing managed).
import t from 'tap';
import { parseConfig } from '../../lib/config/load';
import { DEFAULTS } from '../../lib/config/types';

const DEFAULT_VIEW = {
  listen: [{ host: '169.254.20.10', port: 53, family: 4 }],
  upstreams: [{ host: '10.96.0.10', port: 53, family: 4 }],
  denyResponse: DEFAULTS.denyResponse,
  ttl: DEFAULTS.ttl,
  enforce: DEFAULTS.enforce,
  nftables: DEFAULTS.nftables,
  limits: DEFAULTS.limits,
  cache: DEFAULTS.cache,
  metrics: null,
  kubernetes: null,
  answers: { denyCIDRs: [] },
  health: null,
  queryLog: 'denied',
  control: '/run/dnswall/control.sock',
  drops: { logGroup: 7, perSecond: 100 },
  policies: [],
};

for (const [what, text] of [
  ['empty file', ''],
  ['only comments', '# nothing here\n\n'],
  ['explicit null document', '~\n'],
  ['null values everywhere', 'listen:\nupstreams: ~\nttl:\nenforce: null\nnftables:\nlimits:\npolicies:\n'],
  ['empty mappings', 'ttl: {}\nenforce: {}\nnftables: {}\nlimits: {}\npolicies: []\n'],
]) {
  t.test(what, async (t) => {
    const { file, ...rest } = parseConfig(text, 'd.yaml');
    t.equal(file, 'd.yaml');
    t.same(rest, DEFAULT_VIEW);
  });
}

t.test('partial sections keep the other defaults', async (t) => {
  const cfg = parseConfig('ttl: {max: 300}\nenforce: {mode: audit}\nlimits: {commitTimeoutMs: 250}\n', 'd.yaml');
  t.same(cfg.ttl, { min: 10, max: 300, grace: 10 });
  t.same(cfg.enforce, { mode: 'audit', action: 'reject' });
  t.same(cfg.limits, { ...DEFAULTS.limits, commitTimeoutMs: 250 });
});

t.test('values as written', async (t) => {
  const cfg = parseConfig('denyResponse: refused\nenforce: {action: drop}\nnftables: {table: dnswall_test_1}\nttl: {min: 0, max: 0, grace: 0}\n', 'd.yaml');
  t.equal(cfg.denyResponse, 'refused');
  t.equal(cfg.enforce.action, 'drop');
  t.equal(cfg.nftables.table, 'dnswall_test_1');
  t.same(cfg.ttl, { min: 0, max: 0, grace: 0 });
});

t.test('defaults are copies, not the shared constant', async (t) => {
  const a = parseConfig('', 'a');
  a.ttl.min = 999;
  a.limits.commitTimeoutMs = 1;
  const b = parseConfig('', 'b');
  t.equal(b.ttl.min, DEFAULTS.ttl.min);
  t.equal(b.limits.commitTimeoutMs, DEFAULTS.limits.commitTimeoutMs);
});

t.test('policies: patterns lowercased without trailing dot, bare IPs are host routes', async (t) => {
  const cfg = parseConfig(
    'policies:\n  - name: p\n    sources: [10.1.2.3, "FD00::1"]\n    allow: ["API.Example.COM.", {name: "*.CDN.net.", ports: ["TCP/443"]}]\n    allowCIDRs: [192.0.2.1]\n',
    'd.yaml',
  );
  const p = cfg.policies[0];
  t.same(p.sources, [
    { kind: 'cidr', cidr: '10.1.2.3/32', family: 4, address: '10.1.2.3', prefix: 32 },
    { kind: 'cidr', cidr: 'fd00::1/128', family: 6, address: 'fd00::1', prefix: 128 },
  ]);
  t.same(p.allow, [
    { pattern: 'api.example.com', ports: [] },
    { pattern: '*.cdn.net', ports: [{ proto: 'tcp', port: 443 }] },
  ]);
  t.same(p.allowCIDRs, [{ cidr: '192.0.2.1/32', family: 4, address: '192.0.2.1', prefix: 32 }]);
});

t.test('anchors and aliases may share lists; alias bombs are refused', async (t) => {
  const cfg = parseConfig('policies:\n  - name: a\n    sources: &pods [10.0.0.0/8]\n  - name: b\n    sources: *pods\n', 'd.yaml');
  t.same(cfg.policies[1].sources, cfg.policies[0].sources);
  const many = Array(250).fill('*x').join(', ');
  const err = t.throws(() => parseConfig(`policies:\n  - name: p\n    sources: [&x 10.0.0.0/8, ${many}]\n`, 'many.yaml')) as Error;
  t.match(err.message, /many\.yaml:3:\d+ more than 200 alias uses/);
});

t.test('metrics: off by default, an endpoint when given, a positioned error when bad', async (t) => {
  t.equal(parseConfig('', 'm.yaml').metrics, null);
  t.same(parseConfig('metrics: "127.0.0.1:9153"\n', 'm.yaml').metrics, { host: '127.0.0.1', port: 9153, family: 4 });
  t.same(parseConfig('metrics: "[::1]:9153"\n', 'm.yaml').metrics, { host: '::1', port: 9153, family: 6 });
  t.throws(() => parseConfig('metrics: "127.0.0.1"\n', 'm.yaml'), /m\.yaml:1:10 metrics: .*port/);
});

t.test('cache: defaults, overrides, bad values with positions', async (t) => {
  t.same(parseConfig('', 'c.yaml').cache, DEFAULTS.cache);
  t.same(parseConfig('cache: { enabled: false, maxEntries: 5 }\n', 'c.yaml').cache, { ...DEFAULTS.cache, enabled: false, maxEntries: 5 });
  t.throws(() => parseConfig('cache: { enabled: "yes" }\n', 'c.yaml'), /c\.yaml:1:19 cache\.enabled must be true or false/);
  t.throws(() => parseConfig('cache: { maxBytes: 0 }\n', 'c.yaml'), /c\.yaml:1:20 cache\.maxBytes must be at least 1/);
  t.throws(() => parseConfig('cache: { size: 1 }\n', 'c.yaml'), /unknown key "size"/);
});

t.test('health, queryLog, control, drops: defaults, values, positioned errors', async (t) => {
  const c = parseConfig('health: "127.0.0.1:8080"\nqueryLog: all\ncontrol: /tmp/dw.sock\ndrops: { logGroup: 9, perSecond: 5 }\n', 'o.yaml');
  t.same(c.health, { host: '127.0.0.1', port: 8080, family: 4 });
  t.equal(c.queryLog, 'all');
  t.equal(c.control, '/tmp/dw.sock');
  t.same(c.drops, { logGroup: 9, perSecond: 5 });
  t.equal(parseConfig('control: off\n', 'o.yaml').control, null);
  t.throws(() => parseConfig('health: "127.0.0.1"\n', 'o.yaml'), /o\.yaml:1:9 health: .*port/);
  t.throws(() => parseConfig('queryLog: some\n', 'o.yaml'), /o\.yaml:1:11 .*queryLog/);
  t.throws(() => parseConfig('control: run/x.sock\n', 'o.yaml'), /o\.yaml:1:10 control: .*absolute/);
  t.throws(() => parseConfig('drops: { logGroup: 70000 }\n', 'o.yaml'), /o\.yaml:1:20 drops\.logGroup must be at most 65535/);
  t.throws(() => parseConfig('drops: { perSecond: 0 }\n', 'o.yaml'), /o\.yaml:1:21 drops\.perSecond/);
  t.throws(() => parseConfig('drops: { group: 1 }\n', 'o.yaml'), /o\.yaml:1:10 .*unknown key "group"/);
});

t.test('nftables.stateFile: default under /run/dnswall, a path, off, positioned errors', async (t) => {
  t.equal(parseConfig('nftables: { table: dnswall }\n', 's.yaml').nftables.stateFile, '/run/dnswall/nft.state');
  t.equal(parseConfig('nftables: { stateFile: /var/lib/dnswall/book }\n', 's.yaml').nftables.stateFile, '/var/lib/dnswall/book');
  for (const off of ['off', '""', 'null', '~']) t.equal(parseConfig(`nftables: { stateFile: ${off} }\n`, 's.yaml').nftables.stateFile, null, `${off} = off`);
  t.throws(() => parseConfig('nftables: { stateFile: run/x }\n', 's.yaml'), /s\.yaml:1:24 nftables\.stateFile: "run\/x" is not an absolute path \(or off\)/);
  t.throws(() => parseConfig('nftables: { stateFile: /run/dnswall/ }\n', 's.yaml'), /s\.yaml:1:24 nftables\.stateFile: .* is not a file path/);
  t.throws(() => parseConfig('nftables: { stateFile: 5 }\n', 's.yaml'), /s\.yaml:1:24 nftables\.stateFile must be a string/);
  t.throws(() => parseConfig('nftables: { state: /x }\n', 's.yaml'), /unknown key "state"/);
});
