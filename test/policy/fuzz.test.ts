// PolicyIndex against a naive matcher (each pattern translated to a regex on its own, every
// policy and rule scanned in order) on thousands of random names, patterns and sources.
// Deterministic: the seeded generator (POLICY_FUZZ_SEED or FUZZ_SEED replays another seed), fixed counts.
import t from 'tap';
import ipaddr from 'ipaddr.js';
import { PolicyIndex } from '../../lib/policy/index';
import { validatePattern } from '../../lib/policy/pattern';
import type { Policy, PortRule, SourceSpec } from '../../lib/config/types';
import type { Decision } from '../../lib/policy/types';
import { prng, testSeed } from '../prng';

const SEED = testSeed(20240601, 'POLICY_FUZZ_SEED');
const rnd = prng(SEED);
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));

const NAME_LABELS = ['a', 'b', 'ab', 'ba', 'a-b', 'c', 'A', 'Ab'];
const PATTERN_LABELS = ['a', 'b', 'ab', 'ba', 'a-b', 'c', '*', 'a*', '*b', 'a*b', '*-*', '{a,b}', '{ab,c}'];
const CIDRS = ['10.0.0.0/8', '10.0.0.0/16', '10.0.0.0/24', '10.0.1.0/24', '10.0.0.1/32', '10.1.0.0/16'];
const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.1.1', '10.1.0.1', '10.2.0.1', '11.0.0.1'];
const PORTS: PortRule[] = [
  { proto: 'tcp', port: 443 },
  { proto: 'tcp', port: 80 },
  { proto: 'udp', port: 443 },
];

function randomPattern(): string {
  if (rnd() < 0.03) return '*';
  const n = int(1, 4);
  const labels = Array.from({ length: n }, () => pick(PATTERN_LABELS));
  if (rnd() < 0.25) labels.unshift('**');
  return labels.join('.');
}

function randomName(): string {
  if (rnd() < 0.01) return rnd() < 0.5 ? '' : '.';
  const n = int(1, 6);
  return Array.from({ length: n }, () => pick(NAME_LABELS)).join('.') + (rnd() < 0.2 ? '.' : '');
}

function randomPolicies(): Policy[] {
  return Array.from({ length: int(1, 5) }, (_, i) => {
    const sources: SourceSpec[] = Array.from({ length: int(1, 2) }, () => {
      const [address, prefix] = pick(CIDRS).split('/');
      return { kind: 'cidr', cidr: `${address}/${prefix}`, family: 4, address, prefix: Number(prefix) };
    });
    const allow = Array.from({ length: int(0, 6) }, () => ({
      pattern: randomPattern(),
      ports: rnd() < 0.5 ? [] : PORTS.filter(() => rnd() < 0.5),
    }));
    return { name: `p${i}`, sources, allow, allowCIDRs: [] };
  });
}

// ---- the naive reference, written from the pattern rules of lib/policy/README.md, sharing no code with lib/policy ----

function expandBraces(p: string): string[] {
  const m = /\{([^{}]*)\}/.exec(p);
  if (!m) return [p];
  return m[1].split(',').flatMap((alt) => expandBraces(p.slice(0, m.index) + alt + p.slice(m.index + m[0].length)));
}

function naiveRegex(p: string): RegExp {
  if (p === '*') return /^[\s\S]*$/;
  const labels = p.split('.');
  const deep = labels[0] === '**';
  const body = (deep ? labels.slice(1) : labels)
    .map((l) =>
      l
        .split('*')
        .map((s) => s.replace(/[-]/g, '\\-'))
        .join('[^.]*'),
    )
    .join('\\.');
  return new RegExp(deep ? `^[^.]+(\\.[^.]+)*\\.${body}$` : `^${body}$`);
}

function naiveNormalize(n: string): string {
  const l = n.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return l.endsWith('.') ? l.slice(0, -1) : l;
}

function naiveDecide(policies: Policy[], address: string, name: string): Decision {
  const ip = ipaddr.parse(address);
  const sel = policies.filter((p) => p.sources.some((s) => s.kind === 'cidr' && ip.match(ipaddr.parseCIDR(s.cidr))));
  if (sel.length === 0) return { verdict: 'unmanaged', policies: [], allPorts: true, ports: [] };
  const n = naiveNormalize(name);
  let first: { policy: string; pattern: string } | undefined;
  let allPorts = false;
  const ports = new Map<string, PortRule>();
  for (const p of sel) {
    for (const r of p.allow) {
      if (!expandBraces(r.pattern).some((e) => naiveRegex(e).test(n))) continue;
      first ??= { policy: p.name, pattern: r.pattern };
      if (r.ports.length === 0) allPorts = true;
      for (const x of r.ports) ports.set(`${x.proto}/${String(x.port).padStart(5, '0')}`, x);
    }
  }
  const names = sel.map((p) => p.name);
  if (!first) return { verdict: 'deny', policies: names, allPorts: false, ports: [] };
  const sorted = allPorts ? [] : [...ports.keys()].sort().map((k) => ports.get(k)!);
  return { verdict: 'allow', policies: names, ...first, allPorts, ports: sorted };
}

t.test(`PolicyIndex agrees with the naive matcher (seed ${SEED})`, async (t) => {
  let decisions = 0;
  let allows = 0;
  let mismatches = 0;
  for (let round = 0; round < 40; round++) {
    const policies = randomPolicies();
    for (const p of policies) for (const r of p.allow) t.equal(validatePattern(r.pattern), null, `seed ${SEED}: valid ${r.pattern}`);
    const ix = PolicyIndex.compile(policies);
    for (let i = 0; i < 250; i++) {
      const address = pick(ADDRS);
      const name = randomName();
      const got = ix.decideAddress({ address, family: 4 }, name);
      const want = naiveDecide(policies, address, name);
      decisions++;
      if (got.verdict === 'allow') allows++;
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        mismatches++;
        if (mismatches <= 5) t.same(got, want, `seed ${SEED}: ${address} ${JSON.stringify(name)} ${JSON.stringify(policies)}`);
      }
    }
  }
  t.equal(mismatches, 0, `seed ${SEED}: no mismatches in ${decisions} decisions`);
  t.ok(allows > decisions / 20, `seed ${SEED}: the random cases exercise allows too (${allows})`);
  t.ok(allows < decisions - decisions / 20, `seed ${SEED}: and denies`);
});

// decider() (reload revocation) shares one decision among the names of a parent when the trie
// says the first label cannot matter; it must agree with decide() on every name.
t.test(`decider() agrees with decide() on names that share parents (seed ${SEED})`, async (t) => {
  let decisions = 0;
  let shared = 0;
  let mismatches = 0;
  for (let round = 0; round < 40; round++) {
    const policies = randomPolicies();
    const ix = PolicyIndex.compile(policies);
    const decide = ix.decider();
    const parents = Array.from({ length: 6 }, () => randomName().replace(/\.$/, ''));
    const seen = new Map<string, Decision>();
    for (let i = 0; i < 400; i++) {
      const sel = ix.selectAddress(pick(ADDRS));
      const parent = pick(parents);
      const name = rnd() < 0.1 ? randomName() : `${pick(NAME_LABELS)}${rnd() < 0.3 ? int(0, 99) : ''}${parent ? '.' + parent : ''}`;
      const got = decide(sel, name);
      const want = ix.decide(sel, name);
      decisions++;
      const k = JSON.stringify(want);
      if (seen.get(k) === got && k.length > 0) shared++;
      seen.set(k, got);
      if (JSON.stringify(got) !== k) {
        mismatches++;
        if (mismatches <= 5) t.same(got, want, `seed ${SEED}: ${JSON.stringify(name)} ${JSON.stringify(policies)}`);
      }
    }
  }
  t.equal(mismatches, 0, `seed ${SEED}: no mismatches in ${decisions} decisions`);
  t.ok(shared > decisions / 40, `seed ${SEED}: decisions were shared (${shared} of ${decisions}), so the memo was exercised`);
});

t.test('decider(): only a first label that a pattern names (by label or glob) is decided on its own', async (t) => {
  const ix = PolicyIndex.compile([
    {
      name: 'p',
      sources: [{ kind: 'cidr', cidr: '10.0.0.0/8', family: 4, address: '10.0.0.0', prefix: 8 }],
      allow: [
        { pattern: '*.example.com', ports: [] },
        { pattern: 'api.example.com', ports: [{ proto: 'tcp', port: 443 }] },
        { pattern: 'x-*.example.org', ports: [] },
        { pattern: '**.svc.local', ports: [] },
      ],
      allowCIDRs: [],
    },
  ]);
  const decide = ix.decider();
  const sel = ix.selectAddress('10.0.0.1');
  // Decided on its own = the trie was walked for it (lastVisited is set by every walk);
  // equal decisions are one object either way (PolicyIndex.portless).
  const walked = (name: string) => {
    ix.lastVisited = 0;
    decide(sel, name);
    return ix.lastVisited > 0;
  };
  t.equal(decide(sel, 'www.example.com').pattern, '*.example.com');
  t.equal(decide(sel, 'api.example.com').pattern, '*.example.com', 'first rule wins the pattern');
  t.same(decide(sel, 'api.example.com').ports, [], 'all ports from *.example.com');
  t.ok(walked('api.example.com'), 'api is a label a pattern names: decided on its own');
  t.notOk(walked('mail.Example.COM.'), 'labels no pattern names share one decision');
  t.equal(decide(sel, 'www.example.com'), decide(sel, 'mail.Example.COM.'));
  t.equal(decide(sel, 'x-1.example.org').verdict, 'allow');
  t.equal(decide(sel, 'y-1.example.org').verdict, 'deny', 'the glob x-* decides x-1, not y-1');
  t.equal(decide(sel, 'y-1.example.org'), decide(sel, 'z.example.org'));
  t.ok(walked('x-1.example.org') && walked('x-2.example.org'), 'labels the glob matches: each on its own');
  t.notOk(walked('q.example.org'), 'a label the glob does not match: the shared decision');
  t.equal(decide(sel, 'a.b.example.org').verdict, 'deny');
  t.equal(decide(sel, 'a.svc.local'), decide(sel, 'B.svc.LOCAL.'), 'svc.local goes on only by **: one decision for every name under it');
  t.equal(decide(sel, 'b.svc.local').pattern, '**.svc.local');
  t.equal(decide(null, 'a.svc.local').verdict, 'unmanaged');
});

t.test('decider(): names that rarely share a parent are decided one by one (and still right)', async (t) => {
  const ix = PolicyIndex.compile([
    { name: 'p', sources: [{ kind: 'cidr', cidr: '10.0.0.0/8', family: 4, address: '10.0.0.0', prefix: 8 }], allow: [{ pattern: '**.example.com', ports: [] }], allowCIDRs: [] },
  ]);
  const decide = ix.decider();
  const sel = ix.selectAddress('10.0.0.1');
  let wrong = 0;
  for (let i = 0; i < 5000; i++) {
    const name = `a.p${i}.${i % 2 ? 'example.com' : 'example.org'}`;
    if (JSON.stringify(decide(sel, name)) !== JSON.stringify(ix.decide(sel, name))) wrong++;
  }
  t.equal(wrong, 0);
  decide(sel, 'a.x.example.com');
  ix.lastVisited = 0;
  const d = decide(sel, 'b.x.example.com');
  t.ok(ix.lastVisited > 0, 'the memo is off after thousands of new parents: b.x is walked although a.x shares its parent');
  t.same(decide(sel, 'a.x.example.com'), d);
});
