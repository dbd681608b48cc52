// The answer guard's range matcher: a table of accept/reject cases, IPv4-mapped forms, denyCIDRs
// and per-policy allowCIDRs exceptions.
import t from 'tap';
import ipaddr from 'ipaddr.js';
import { AnswerGuard, BUILT_IN, describeHit, guardRevokes } from '../../lib/plugins/guard/ranges';
import { parseConfig } from '../../lib/config/load';

function bytes(ip: string): Buffer {
  return Buffer.from(ipaddr.parse(ip).toByteArray());
}

function check(g: AnswerGuard, ip: string): string | null {
  const b = bytes(ip);
  const h = g.check(b, 0, b.length === 4 ? 4 : 16);
  return h ? describeHit(h) : null;
}

const builtIn = new AnswerGuard([], []);

// [address, expected description or null (not guarded)]
const CASES: [string, string | null][] = [
  ['169.254.169.254', 'link-local 169.254.0.0/16'],
  ['169.254.0.0', 'link-local 169.254.0.0/16'],
  ['169.254.255.255', 'link-local 169.254.0.0/16'],
  ['169.253.255.255', null],
  ['169.255.0.0', null],
  ['127.0.0.1', 'loopback 127.0.0.0/8'],
  ['127.255.255.254', 'loopback 127.0.0.0/8'],
  ['126.255.255.255', null],
  ['128.0.0.0', null],
  ['0.0.0.0', 'unspecified ("this network") 0.0.0.0/8'],
  ['0.1.2.3', 'unspecified ("this network") 0.0.0.0/8'],
  ['1.0.0.0', null],
  ['224.0.0.1', 'multicast 224.0.0.0/4'],
  ['239.255.255.255', 'multicast 224.0.0.0/4'],
  ['223.255.255.255', null],
  ['240.0.0.1', null],
  ['255.255.255.255', 'broadcast 255.255.255.255/32'],
  ['255.255.255.254', null],
  ['10.0.0.1', null],
  ['198.18.0.10', null],
  ['8.8.8.8', null],
  ['::', 'unspecified ::/128'],
  ['::1', 'loopback ::1/128'],
  ['::2', null],
  ['fe80::1', 'link-local fe80::/10'],
  ['febf:ffff::1', 'link-local fe80::/10'],
  ['fec0::1', null],
  ['fe7f::1', null],
  ['ff02::1', 'multicast ff00::/8'],
  ['ff00::', 'multicast ff00::/8'],
  ['feff::1', null],
  ['2001:db8::1', null],
  ['fd00:ec2::254', null],
  // IPv4-mapped: checked by the embedded IPv4 address
  ['::ffff:169.254.169.254', 'link-local 169.254.0.0/16 (IPv4-mapped)'],
  ['::ffff:127.0.0.1', 'loopback 127.0.0.0/8 (IPv4-mapped)'],
  ['::ffff:0.0.0.0', 'unspecified ("this network") 0.0.0.0/8 (IPv4-mapped)'],
  ['::ffff:224.0.0.251', 'multicast 224.0.0.0/4 (IPv4-mapped)'],
  ['::ffff:255.255.255.255', 'broadcast 255.255.255.255/32 (IPv4-mapped)'],
  ['::ffff:198.18.0.10', null],
  ['::ffff:8.8.8.8', null],
  // not mapped: IPv4-compatible (deprecated) and NAT64 forms are other addresses
  ['::a9fe:a9fe', null], // ::169.254.169.254; ipaddr.js reads that text as mapped, so written in hex
  ['64:ff9b::a9fe:a9fe', null],
  ['::fffe:a9fe:a9fe', null],
  ['0:1::ffff:a9fe:a9fe', null],
];

t.test('built-in ranges: accept/reject table', async (t) => {
  for (const [ip, want] of CASES) t.equal(check(builtIn, ip), want, ip);
});

t.test('the built-in list is the documented one', async (t) => {
  t.same(
    BUILT_IN.map((r) => r.cidr),
    ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '255.255.255.255/32', '::/128', '::1/128', 'fe80::/10', 'ff00::/8'],
  );
});

t.test('answers.denyCIDRs add to the built-in ranges, IPv4-mapped forms included', async (t) => {
  const cfg = parseConfig('answers:\n  denyCIDRs: ["10.0.0.0/8", "100.64.0.0/10", "fd00:10:96::/112", "192.0.2.7"]\n', 'c.yaml');
  const g = AnswerGuard.fromConfig(cfg);
  t.equal(check(g, '10.96.0.1'), 'answers.denyCIDRs 10.0.0.0/8');
  t.equal(check(g, '::ffff:10.96.0.1'), 'answers.denyCIDRs 10.0.0.0/8 (IPv4-mapped)');
  t.equal(check(g, '100.127.255.255'), 'answers.denyCIDRs 100.64.0.0/10');
  t.equal(check(g, '100.128.0.0'), null);
  t.equal(check(g, 'fd00:10:96::ffff'), 'answers.denyCIDRs fd00:10:96::/112');
  t.equal(check(g, 'fd00:10:96::1:0'), null);
  t.equal(check(g, '192.0.2.7'), 'answers.denyCIDRs 192.0.2.7/32');
  t.equal(check(g, '192.0.2.8'), null);
  t.equal(check(g, '11.0.0.1'), null);
  t.equal(check(g, '169.254.169.254'), 'link-local 169.254.0.0/16', 'built-ins still apply');
  t.equal(g.ranges.length, BUILT_IN.length + 4);
});

t.test('a mapped-form denyCIDR matches the mapped address as IPv6', async (t) => {
  const g = AnswerGuard.fromConfig(parseConfig('answers: { denyCIDRs: ["::ffff:10.0.0.0/104"] }\n', 'c.yaml'));
  t.equal(check(g, '::ffff:10.1.2.3'), 'answers.denyCIDRs ::ffff:a00:0/104');
  t.equal(check(g, '10.1.2.3'), null, 'the IPv4 form is not what was written');
});

t.test('allowCIDRs exceptions are per policy, and cover mapped forms by the IPv4 entry', async (t) => {
  const cfg = parseConfig(
    `answers: { denyCIDRs: ["10.0.0.0/8"] }
policies:
  - name: meta
    sources: [192.0.2.10/32]
    allowCIDRs: [169.254.169.254/32, "fe80::/64"]
  - name: svc
    sources: [192.0.2.0/24]
    allowCIDRs: [10.96.0.0/12]
  - name: plain
    sources: [192.0.2.0/24]
`,
    'c.yaml',
  );
  const g = AnswerGuard.fromConfig(cfg);
  const ex = (ip: string, policies: string[]) => {
    const b = bytes(ip);
    return g.exception(b, 0, b.length === 4 ? 4 : 16, policies);
  };
  t.same(ex('169.254.169.254', ['meta', 'svc']), { policy: 'meta', cidr: '169.254.169.254/32' });
  t.same(ex('::ffff:169.254.169.254', ['meta']), { policy: 'meta', cidr: '169.254.169.254/32' });
  t.equal(ex('169.254.169.253', ['meta']), null, 'only the listed address');
  t.equal(ex('169.254.169.254', ['svc', 'plain']), null, 'not for sources the policy does not select');
  t.same(ex('fe80::1', ['meta']), { policy: 'meta', cidr: 'fe80::/64' });
  t.equal(ex('fe80:1::1', ['meta']), null);
  t.same(ex('10.96.0.10', ['plain', 'svc']), { policy: 'svc', cidr: '10.96.0.0/12' });
  t.equal(ex('10.0.0.1', ['svc']), null);
  t.equal(ex('10.96.0.10', []), null, 'no policies, no exception');
});

t.test('check reads at an offset inside a larger buffer', async (t) => {
  const buf = Buffer.concat([Buffer.from([1, 2, 3]), bytes('127.0.0.1'), bytes('fe80::5')]);
  t.ok(builtIn.check(buf, 3, 4));
  t.ok(builtIn.check(buf, 7, 16));
  t.notOk(builtIn.check(buf, 0, 4));
});

t.test('reload: guardRevokes says which live destinations the new guard refuses for a source', async (t) => {
  const g = new AnswerGuard([{ cidr: '198.18.0.10/32' }], [{ name: 'meta', allowCIDRs: [{ cidr: '169.254.169.254/32' }] }]);
  t.ok(guardRevokes(g, bytes('198.18.0.10'), ['web']));
  t.notOk(guardRevokes(g, bytes('198.18.0.11'), ['web']));
  t.ok(guardRevokes(g, bytes('169.254.169.254'), ['web']));
  t.notOk(guardRevokes(g, bytes('169.254.169.254'), ['web', 'meta']), 'excepted for the policy that lists it');
  t.ok(guardRevokes(g, bytes('::1'), ['meta']));
});
