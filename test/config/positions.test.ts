// Every kind of configuration error is reported at the exact line and column of the offending
// node, with a message naming the problem.
import t from 'tap';
import { parseConfig } from '../../lib/config/load';
import { ConfigError } from '../../lib/config/errors';

function issues(text: string): string[] {
  try {
    parseConfig(text, 'c.yaml');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.issues.map((i) => `${i.line}:${i.col} ${i.message}`);
  }
  return [];
}

const P = 'policies:\n  - name: a\n'; // policy bodies below start on line 3

// [what, yaml, "LINE:COL", fragment of the message]
const CASES: [string, string, string, string][] = [
  ['listen without port', 'listen: ["1.2.3.4"]', '1:10', 'missing port'],
  ['bracketed IPv6 without port', 'listen:\n  - "[fd00::53]"', '2:5', 'missing port'],
  ['unbracketed IPv6', 'listen: ["fd00::53"]', '1:10', 'in brackets'],
  ['listen port 0', 'listen: ["[fd00::53]:0"]', '1:10', 'out of range 1..65535'],
  ['listen port too big', 'listen: ["1.2.3.4:65536"]', '1:10', 'out of range'],
  ['duplicate listen', 'listen: ["1.2.3.4:53", "1.2.3.4:53"]', '1:24', 'duplicate address'],
  ['empty listen', 'listen: []', '1:9', 'at least one address'],
  ['listen not a list', 'listen: "1.2.3.4:53"', '1:9', 'must be a list'],
  ['upstream hostname', 'upstreams: [kube-dns:53]', '1:13', 'not an IP address'],
  ['upstream octal-ish IPv4', 'upstreams: ["010.0.0.1:53"]', '1:13', 'four decimal octets'],
  ['unknown top-level key', 'listen: ["1.2.3.4:53"]\nlisten_v6: []', '2:1', 'unknown key "listen_v6"'],
  ['unknown key with a hint', 'denyresponse: refused', '1:1', 'did you mean "denyResponse"'],
  ['unknown ttl key', 'ttl:\n  min: 5\n  mx: 3', '3:3', 'unknown key "mx" in ttl'],
  ['ttl min > max', 'ttl: {min: 20, max: 10}', '1:12', 'ttl.min (20) must not exceed ttl.max (10)'],
  ['negative grace', 'ttl:\n  grace: -1', '2:10', 'ttl.grace must be non-negative'],
  ['string for integer', 'ttl:\n  min: "10"', '2:8', 'ttl.min must be an integer, got string'],
  ['float for integer', 'ttl:\n  max: 1.5', '2:8', 'must be an integer'],
  ['ttl not a mapping', 'ttl: 10', '1:6', 'ttl must be a mapping'],
  ['denyResponse enum', 'denyResponse: servfail', '1:15', 'nxdomain or refused'],
  ['enforce.mode enum', 'enforce:\n  mode: permissive', '2:9', 'enforce or audit'],
  ['enforce.action enum', 'enforce:\n  action: accept', '2:11', 'reject or drop'],
  ['table name', 'nftables:\n  table: "my-table"', '2:10', 'A-Z a-z 0-9 _'],
  ['table name too long', `nftables:\n  table: ${'t'.repeat(32)}`, '2:10', '1..31'],
  ['limits zero', 'limits:\n  commitTimeoutMs: 0', '2:20', 'at least 1'],
  ['limits unknown key', 'limits:\n  cacheSize: 5', '2:3', 'unknown key "cacheSize" in limits'],
  ['source with host bits', `${P}    sources: ["10.0.0.1/24"]`, '3:15', 'the network is 10.0.0.0/24'],
  ['IPv6 source with host bits', `${P}    sources: ["fd00::1/64"]`, '3:15', 'the network is fd00::/64'],
  ['bad source', `${P}    sources: [10.0.0.0/24, 10.0.0.256]`, '3:28', 'not an IP address'],
  ['bad prefix', `${P}    sources: ["10.0.0.0/33"]`, '3:15', 'prefix length must be 0..32'],
  ['relative cgroup', `${P}    sources: ["cgroup:system.slice"]`, '3:15', 'must be absolute'],
  ['cgroup with ..', `${P}    sources:\n      - cgroup:/a/../b`, '4:9', 'must not contain ".."'],
  ['mapped IPv6 source', `${P}    sources: ["::ffff:10.0.0.1"]`, '3:15', 'IPv4-mapped'],
  ['missing sources', `${P}    allow: [a.com]`, '2:5', '"sources" is required'],
  ['empty sources', `${P}    sources: []`, '3:14', 'sources is empty'],
  ['bad pattern', `${P}    sources: [10.0.0.0/8]\n    allow: ["x.**.com"]`, '4:13', "'**' is allowed only"],
  ['regex pattern', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - "^a.*$"`, '5:9', 'regular expressions'],
  ['pattern in a rule', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - name: "a?.com"`, '5:15', "'?'"],
  ['bad port number', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - name: a.com\n        ports: ["tcp/70000"]`, '6:17', 'out of range'],
  ['bad protocol', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - name: a.com\n        ports: [sctp/9]`, '6:17', 'tcp or udp'],
  ['port without proto', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - name: a.com\n        ports: [443]`, '6:17', 'must be a string'],
  ['empty ports', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - name: a.com\n        ports: []`, '6:16', 'omit "ports"'],
  ['rule without name', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - ports: [tcp/1]`, '5:9', '"name" (the pattern) is required'],
  ['unknown rule key', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - {name: a.com, port: [tcp/1]}`, '5:23', 'unknown key "port"'],
  ['allow entry a list', `${P}    sources: [10.0.0.0/8]\n    allow:\n      - [a.com]`, '5:9', 'a pattern or a mapping'],
  ['bad allowCIDR', `${P}    sources: [10.0.0.0/8]\n    allowCIDRs: ["10.96.0.0/11", "10.96.0.1/12"]`, '4:34', 'the network is 10.96.0.0/12'],
  ['unknown policy key', `${P}    sources: [10.0.0.0/8]\n    alow: [a.com]`, '4:5', 'did you mean "allow"'],
  ['policy name charset', 'policies:\n  - name: "front end"\n    sources: [10.0.0.0/8]', '2:11', 'must be 1..63'],
  ['missing policy name', 'policies:\n  - sources: [10.0.0.0/8]', '2:5', '"name" is required'],
  ['policy name not a string', 'policies:\n  - name: [x]\n    sources: [10.0.0.0/8]', '2:11', 'must be a string, got a list'],
  [
    'duplicate policy name',
    'policies:\n  - name: a\n    sources: [10.0.0.0/8]\n  - name: a\n    sources: [10.0.0.0/8]',
    '4:11',
    'duplicate policy name "a" (first defined at line 2, column 11)',
  ],
  ['policies not a list', 'policies: {a: 1}', '1:11', 'policies must be a list'],
  ['policy not a mapping', 'policies:\n  - frontend', '2:5', 'must be a mapping'],
  ['document not a mapping', '- a\n- b', '1:1', 'the configuration must be a mapping'],
  ['duplicate top-level key', 'ttl: {min: 1}\nttl: {min: 2}', '2:1', 'duplicate key "ttl"'],
  ['duplicate nested key', 'ttl:\n  min: 1\n  min: 2', '3:3', 'duplicate key "min"'],
  ['YAML syntax error', 'listen: ["1.2.3.4:53"\nttl: 5', '2:1', 'YAML:'],
  ['tab indentation', 'ttl:\n\tmin: 1', '2:1', 'YAML:'],
  ['unresolved tag', 'denyResponse: !weird refused', '1:15', 'Unresolved tag'],
  ['non-string key', '1: a', '1:1', 'keys must be plain strings'],
];

for (const [what, yaml, pos, fragment] of CASES) {
  t.test(what, async (t) => {
    const got = issues(yaml);
    const hit = got.find((s) => s.startsWith(`${pos} `) && s.includes(fragment));
    t.ok(hit, `expected "${pos} …${fragment}…", got ${JSON.stringify(got)}`);
  });
}

t.test('all problems are reported together, in file order', async (t) => {
  const got = issues(
    [
      'listen: ["1.2.3.4"]', // 1
      'bogus: 1', // 2
      'ttl: {min: -1}', // 3
      'policies:', // 4
      '  - name: a', // 5
      '    sources: ["10.0.0.1/8", "cgroup:rel"]', // 6
      '    allow: ["a..b", {name: "ok.com", ports: ["tcp/0"]}]', // 7
      '  - name: a', // 8
      '    sources: [10.0.0.0/8]', // 9
    ].join('\n'),
  );
  t.same(
    got.map((s) => s.split(' ')[0]),
    ['1:10', '2:1', '3:12', '6:15', '6:29', '7:13', '7:46', '8:11'],
    got.join('\n'),
  );
});

t.test('ConfigError message is FILE:LINE:COL message per line', async (t) => {
  try {
    parseConfig('ttl: {min: x}\nfoo: 1\n', 'dir/c.yaml');
    t.fail('should throw');
  } catch (e) {
    const err = e as ConfigError;
    t.equal(err.name, 'ConfigError');
    t.equal(err.issues.length, 2);
    t.equal(err.issues[0].file, 'dir/c.yaml');
    t.equal(
      err.message,
      'dir/c.yaml:1:12 ttl.min must be an integer, got string "x"\n' +
        'dir/c.yaml:2:1 unknown key "foo" in the configuration; expected one of: listen, upstreams, denyResponse, ttl, enforce, nftables, limits, cache, metrics, health, queryLog, control, drops, kubernetes, answers, policies',
    );
  }
});
