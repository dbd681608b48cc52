// The `kubernetes:` key and pod selector sources: defaults, values, and every error at its
// line and column.
import t from 'tap';
import { hostname } from 'node:os';
import { parseConfig } from '../../lib/config/load';
import { ConfigError } from '../../lib/config/errors';
import { summarize } from '../../lib/config/summary';
import { resolveNodeName } from '../../lib/config/kubernetes';

function issues(text: string): string[] {
  try {
    parseConfig(text, 'c.yaml');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.issues.map((i) => `${i.line}:${i.col} ${i.message}`);
  }
  return [];
}

const K = 'kubernetes: {}\n';
const pol = (src: string) => `${K}policies:\n  - name: a\n    sources:\n      - ${src}\n`; // the source is on line 5, column 9

t.test('valid: the README example shapes', async (t) => {
  const cfg = parseConfig(
    [
      'kubernetes:',
      '  kubeconfig: /etc/dnswall/kubeconfig',
      '  nodeName: node-1',
      '  unknownPodHoldMs: 500',
      '  podCIDRs: ["10.244.1.0/24", "fd00:10:244:1::/64"]',
      '  cgroupRoot: /kubelet',
      '  watchIdleMs: 30000',
      'policies:',
      '  - name: frontend',
      '    sources:',
      '      - "10.244.1.0/24"',
      '      - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: shop } }',
      '        podSelector: { matchLabels: { app: frontend } }',
      '      - podSelector:',
      '          matchExpressions:',
      '            - { key: tier, operator: In, values: [web, "1"] }',
      '            - { key: canary, operator: DoesNotExist }',
      '      - namespaceSelector: {}',
      '    allow: ["api.example.com"]',
    ].join('\n'),
    'c.yaml',
  );
  t.same(cfg.kubernetes, {
    kubeconfig: '/etc/dnswall/kubeconfig',
    nodeName: 'node-1',
    unknownPodHoldMs: 500,
    podCIDRs: [
      { cidr: '10.244.1.0/24', family: 4, address: '10.244.1.0', prefix: 24 },
      { cidr: 'fd00:10:244:1::/64', family: 6, address: 'fd00:10:244:1::', prefix: 64 },
    ],
    cgroupRoot: '/kubelet',
    watchIdleMs: 30000,
  });
  const src = cfg.policies[0].sources;
  t.same(src[1], {
    kind: 'pods',
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' }, matchExpressions: [] },
    podSelector: { matchLabels: { app: 'frontend' }, matchExpressions: [] },
  });
  t.same(src[2], {
    kind: 'pods',
    namespaceSelector: null,
    podSelector: {
      matchLabels: {},
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['web', '1'] },
        { key: 'canary', operator: 'DoesNotExist', values: [] },
      ],
    },
  });
  t.same(src[3], { kind: 'pods', namespaceSelector: { matchLabels: {}, matchExpressions: [] }, podSelector: null }, 'namespaceSelector {} = every namespace');
  t.match(
    summarize(cfg),
    /kubernetes kubeconfig \/etc\/dnswall\/kubeconfig, node node-1, pod CIDRs 10\.244\.1\.0\/24, fd00:10:244:1::\/64, unknown pods held 500 ms, kubelet cgroup root \/kubelet, silent watch reconnected after 30000 ms/,
  );
  t.match(summarize(cfg), /frontend: 1 CIDR \+ 3 pod selectors/);
});

t.test('defaults', async (t) => {
  t.equal(parseConfig('listen: ["127.0.0.1:53"]', 'c.yaml').kubernetes, null, 'absent = off');
  const k = parseConfig('kubernetes: {}', 'c.yaml').kubernetes!;
  t.same(k, { kubeconfig: null, nodeName: null, unknownPodHoldMs: 2000, podCIDRs: null, cgroupRoot: '/', watchIdleMs: 90000 });
  t.equal(resolveNodeName(k, { NODE_NAME: 'from-env' }), 'from-env', '$NODE_NAME');
  t.equal(resolveNodeName(k, {}), hostname().toLowerCase(), 'else the host name');
  t.equal(resolveNodeName({ ...k, nodeName: 'n' }, { NODE_NAME: 'from-env' }), 'n', 'the key wins');
});

t.test('errors with line and column', async (t) => {
  const cases: [string, string, string, string][] = [
    ['unknown kubernetes key', 'kubernetes: { nodename: x }', '1:15', 'did you mean "nodeName"'],
    ['relative kubeconfig', 'kubernetes: { kubeconfig: kc }', '1:27', 'absolute path'],
    ['bad node name', 'kubernetes: { nodeName: Node_1 }', '1:25', 'not a node name'],
    ['hold too long', 'kubernetes: { unknownPodHoldMs: 60000 }', '1:33', 'at most 30000'],
    ['hold negative', 'kubernetes: { unknownPodHoldMs: -1 }', '1:33', 'non-negative'],
    ['bad pod CIDR', 'kubernetes: { podCIDRs: ["10.244.1.0/33"] }', '1:26', 'podCIDRs[0]'],
    ['idle timer too short', 'kubernetes: { watchIdleMs: 500 }', '1:28', 'must be 1000..3600000'],
    ['relative cgroup root', 'kubernetes: { cgroupRoot: kubelet }', '1:27', 'kubernetes.cgroupRoot "kubelet" is not a cgroup path'],
    ['cgroup root with ..', 'kubernetes: { cgroupRoot: /a/../b }', '1:27', 'must not contain ".."'],
    ['pod selector without kubernetes', 'policies:\n  - name: a\n    sources:\n      - podSelector: { matchLabels: { app: x } }\n', '4:9', 'need the "kubernetes:" key'],
    ['empty pod source', pol('{}'), '5:9', 'needs namespaceSelector and/or podSelector'],
    ['unknown pod source key', pol('{ podselector: {} }'), '5:11', 'did you mean "podSelector"'],
    ['unknown selector key', pol('podSelector: { labels: { a: b } }'), '5:24', 'unknown key "labels"'],
    ['bad label key', pol('podSelector: { matchLabels: { "-app": x } }'), '5:39', 'start and end with an alphanumeric'],
    ['bad label key prefix', pol('podSelector: { matchLabels: { "Ex.com/app": x } }'), '5:39', 'lowercase DNS subdomain'],
    ['bad label value', pol('podSelector: { matchLabels: { app: "a b" } }'), '5:44', 'label value'],
    ['unquoted boolean value', pol('podSelector: { matchLabels: { enabled: true } }'), '5:48', 'quote it ("true")'],
    ['long label value', pol(`podSelector: { matchLabels: { app: ${'x'.repeat(64)} } }`), '5:44', 'longer than 63'],
    ['bad operator', pol('podSelector: { matchExpressions: [{ key: a, operator: in, values: [x] }] }'), '5:63', 'must be In or NotIn or Exists or DoesNotExist'],
    ['In without values', pol('podSelector: { matchExpressions: [{ key: a, operator: In }] }'), '5:43', 'needs at least one value'],
    ['Exists with values', pol('podSelector: { matchExpressions: [{ key: a, operator: Exists, values: [x] }] }'), '5:79', 'takes no values'],
    ['expression without key', pol('podSelector: { matchExpressions: [{ operator: Exists }] }'), '5:43', '"key" and "operator" are required'],
    ['bad expression key', pol('podSelector: { matchExpressions: [{ key: "a/b/c", operator: Exists }] }'), '5:50', 'more than one'],
    ['bad expression value', pol('namespaceSelector: { matchExpressions: [{ key: a, operator: NotIn, values: ["-x"] }] }'), '5:84', 'label value'],
    ['matchLabels not a mapping', pol('podSelector: { matchLabels: [a] }'), '5:37', 'mapping of label to value'],
  ];
  for (const [what, yaml, pos, frag] of cases) {
    const got = issues(yaml);
    const hit = got.find((g) => g.startsWith(`${pos} `) && g.includes(frag));
    t.ok(hit, `${what}: expected "${pos} …${frag}…", got ${JSON.stringify(got)}`);
  }
});
