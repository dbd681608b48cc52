// Which policies select a pod: the NetworkPolicy peer rules (both selectors = AND, podSelector
// alone = any namespace, namespaceSelector alone = every pod there, unknown namespace = no
// namespaceSelector match), as a table.
import t from 'tap';
import { parseConfig } from '../../lib/config/load';
import { PodSelectors } from '../../lib/policy/pods';

const cfg = parseConfig(
  `
kubernetes: {}
policies:
  - name: frontend-in-shop
    sources:
      - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: shop } }
        podSelector: { matchLabels: { app: frontend } }
  - name: any-frontend
    sources:
      - podSelector: { matchLabels: { app: frontend } }
  - name: team-a
    sources:
      - namespaceSelector: { matchExpressions: [{ key: team, operator: In, values: [a] }] }
  - name: not-canary
    sources:
      - "10.0.0.0/8"
      - podSelector: { matchExpressions: [{ key: canary, operator: DoesNotExist }, { key: app, operator: Exists }] }
  - name: cidr-only
    sources: ["10.1.0.0/16"]
`,
  'c.yaml',
);
const sel = new PodSelectors(cfg.policies);
const shop = { 'kubernetes.io/metadata.name': 'shop', team: 'a' };
const other = { 'kubernetes.io/metadata.name': 'other' };
const names = (ix: number[]) => ix.map((i) => cfg.policies[i].name);

t.test('selection table', async (t) => {
  const cases: [string, Record<string, string> | undefined, Record<string, string> | undefined, string[]][] = [
    ['frontend in shop', { app: 'frontend' }, shop, ['frontend-in-shop', 'any-frontend', 'team-a', 'not-canary']],
    ['frontend elsewhere', { app: 'frontend' }, other, ['any-frontend', 'not-canary']],
    ['canary frontend elsewhere', { app: 'frontend', canary: 'yes' }, other, ['any-frontend']],
    ['unlabelled pod in shop', {}, shop, ['team-a']],
    ['unlabelled pod elsewhere', undefined, other, []],
    ['namespace unknown: namespaceSelectors cannot match', { app: 'frontend' }, undefined, ['any-frontend', 'not-canary']],
    ['backend elsewhere', { app: 'backend' }, other, ['not-canary']],
  ];
  for (const [what, labels, nsLabels, want] of cases) t.same(names(sel.select({ labels, namespaceLabels: nsLabels })), want, what);
  t.equal(sel.any, true);
  t.equal(new PodSelectors(cfg.policies.slice(4)).any, false, 'CIDR-only: nothing to watch');
});
