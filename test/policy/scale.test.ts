// 10,000 patterns compile into one trie, and a decision costs about one node per label no matter
// how many patterns there are. A correctness test: it counts trie nodes entered, never time.
import t from 'tap';
import { PolicyIndex } from '../../lib/policy/index';
import type { Policy } from '../../lib/config/types';

const N = 10_000;
const POLICIES = 20;

function patternFor(i: number): string {
  switch (i % 4) {
    case 0:
      return `svc${i}.ns${i % 97}.example.com`;
    case 1:
      return `*.corp${i}.com`;
    case 2:
      return `**.d${i}.net`;
    default:
      return `api-*.r${i}.io`;
  }
}

/** A name that pattern i matches, with `extra` more labels where the pattern allows them. */
function nameFor(i: number, extra: number): string {
  switch (i % 4) {
    case 0:
      return `svc${i}.ns${i % 97}.example.com`;
    case 1:
      return `host${extra}.corp${i}.com`;
    case 2:
      return `${'x.'.repeat(extra)}y.d${i}.net`;
    default:
      return `api-eu${extra}.r${i}.io`;
  }
}

const policies: Policy[] = Array.from({ length: POLICIES }, (_, p) => ({
  name: `p${p}`,
  sources: [{ kind: 'cidr', cidr: `10.${p}.0.0/16`, family: 4, address: `10.${p}.0.0`, prefix: 16 }],
  allow: [],
  allowCIDRs: [],
}));
for (let i = 0; i < N; i++) policies[i % POLICIES].allow.push({ pattern: patternFor(i), ports: [] });

t.test('10,000 patterns, 100,000 decisions, O(labels) nodes each', async (t) => {
  const ix = PolicyIndex.compile(policies);
  t.ok(ix.trieSize > N, `trie has ${ix.trieSize} nodes`);
  let maxVisited = 0;
  let wrong = 0;
  let overBudget = 0;
  for (let k = 0; k < 100_000; k++) {
    const i = (k * 7919) % N;
    const owner = i % POLICIES;
    const matching = k % 2 === 0;
    // The owner's pods match; pods of another policy ask the same name and must be denied.
    const p = matching ? owner : (owner + 1) % POLICIES;
    // An extra leading label: only the '**.' patterns still match.
    const prefixed = k % 3 === 0;
    const name = prefixed ? `nope${k}.${nameFor(i, k % 5)}` : nameFor(i, k % 5);
    const d = ix.decideAddress({ address: `10.${p}.1.2`, family: 4 }, name);
    const expectAllow = matching && (!prefixed || i % 4 === 2);
    if ((d.verdict === 'allow') !== expectAllow || (expectAllow && d.pattern !== patternFor(i))) wrong++;
    const labels = name.split('.').length;
    maxVisited = Math.max(maxVisited, ix.lastVisited);
    // Root, one node per label, and at most one glob or '*' sibling per level in this trie.
    if (ix.lastVisited > 2 * (labels + 1)) overBudget++;
  }
  t.equal(wrong, 0, 'every decision is right');
  t.equal(overBudget, 0, 'no decision entered more than 2 nodes per label');
  t.ok(maxVisited < 30, `at most ${maxVisited} nodes entered, of ${ix.trieSize}`);
});

t.test('lastVisited counts real work', async (t) => {
  const ix = PolicyIndex.compile(policies);
  ix.decideAddress({ address: '10.0.1.1', family: 4 }, 'svc0.ns0.example.com');
  t.equal(ix.lastVisited, 5, 'root, com, example, ns0, svc0');
  ix.decideAddress({ address: '10.0.1.1', family: 4 }, 'zzz');
  t.equal(ix.lastVisited, 1, 'an unknown TLD stops at the root');
});
