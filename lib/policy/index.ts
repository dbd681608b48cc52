// PolicyIndex: the compiled form of the policies, built once per configuration (start, SIGHUP)
// so that the per-query path only looks things up. The identity step (lib/identity) asks which
// policies select a sender (selectAddress, selectCgroup); decide() then judges a name for that
// selection.
import type { Policy, PortRule } from '../config/types';
import type { Decision, AddressSource } from './types';
import { expandPattern, normalizeName } from './pattern';
import { NameTrie, type Terminal } from './trie';
import { SourceTable, SOURCE_CACHE_MAX, type CidrEntry, type Selection } from './sources';

export { normalizeName, validatePattern, expandPattern } from './pattern';

interface CompiledRule {
  pattern: string;
  ports: readonly PortRule[];
}

/** decider(): at most this many parents remembered (then it starts over). */
const DECIDER_MEMO = 65_536;
/** decider(): lookups after which it stops memoizing if more than half of the parents were new. */
const DECIDER_PROBE = 4_096;

/** Ports in a Decision are sorted (tcp before udp, then by number) so output is deterministic. */
function byProtoPort(a: PortRule, b: PortRule): number {
  return a.proto === b.proto ? a.port - b.port : a.proto < b.proto ? -1 : 1;
}

export class PolicyIndex {
  /** Canonical CIDRs of all cidr sources, deduplicated, in config order. */
  readonly managed: { v4: string[]; v6: string[] };
  /** cgroup v2 paths and the names of the policies selecting each (config order). */
  readonly cgroups: { path: string; policies: string[] }[];
  readonly policyNames: readonly string[];
  /** Trie nodes entered by the last decide(); for tests that check the cost of a lookup. */
  lastVisited = 0;

  private readonly rules: CompiledRule[][];
  private readonly trie: NameTrie;
  private readonly sources: SourceTable;
  private readonly hits: Terminal[] = [];
  /** cgroup path → indexes of the policies naming exactly that path. */
  private readonly cgroupPolicies = new Map<string, number[]>();
  private readonly cgroupCache = new Map<string, Selection | null>();
  /** rule (policy p, rule r) → ruleBase[p] + r: a flat index per rule */
  private readonly ruleBase: number[] = [];
  /**
   * The decisions that carry no port list, made once per selection: its deny, and its allow
   * per rule that allows every port. A reload decides a million names, most of them one of
   * these (callers treat a Decision as read-only; decider() shares them across names too).
   */
  private readonly portless = new WeakMap<Selection, { deny: Decision; allow: (Decision | undefined)[] }>();

  private constructor(policies: Policy[]) {
    this.policyNames = Object.freeze(policies.map((p) => p.name));
    this.rules = policies.map((p) => p.allow.map((r) => ({ pattern: r.pattern, ports: Object.freeze(r.ports.map((x) => ({ ...x }))) })));
    let rules = 0;
    for (const r of this.rules) {
      this.ruleBase.push(rules);
      rules += r.length;
    }
    this.trie = new NameTrie();
    const cidrs: CidrEntry[] = [];
    const v4 = new Set<string>();
    const v6 = new Set<string>();
    const cg = new Map<string, string[]>();
    policies.forEach((p, pi) => {
      p.allow.forEach((r, ri) => {
        for (const name of expandPattern(r.pattern)) this.trie.insert(name, { policy: pi, rule: ri });
      });
      for (const s of p.sources) {
        if (s.kind === 'cidr') {
          cidrs.push({ family: s.family, address: s.address, prefix: s.prefix, policy: pi });
          (s.family === 4 ? v4 : v6).add(s.cidr);
        } else if (s.kind === 'cgroup') {
          const list = cg.get(s.path) ?? [];
          if (!list.includes(p.name)) list.push(p.name);
          cg.set(s.path, list);
          const ids = this.cgroupPolicies.get(s.path) ?? [];
          if (!ids.includes(pi)) ids.push(pi);
          this.cgroupPolicies.set(s.path, ids);
        }
      }
    });
    this.sources = new SourceTable(cidrs, this.policyNames);
    this.managed = { v4: [...v4], v6: [...v6] };
    this.cgroups = [...cg].map(([path, policies]) => ({ path, policies }));
  }

  /** Compiles validated policies (see lib/config/load.ts). Throws on a pattern that is invalid. */
  static compile(policies: Policy[]): PolicyIndex {
    return new PolicyIndex(policies);
  }

  /** Number of trie nodes, for the summary and tests. */
  get trieSize(): number {
    return this.trie.size;
  }

  /**
   * The policies selecting an IP source: a Selection, null when none does (unmanaged), undefined
   * when `address` is not an IP address at all.
   */
  selectAddress(address: string): Selection | null | undefined {
    return this.sources.lookup(address);
  }

  /** The interned Selection of these policy indexes (pod identity computes them from selectors); null = none. */
  selectPolicies(ids: readonly number[]): Selection | null {
    return ids.length === 0 ? null : this.sources.intern([...ids]);
  }

  /**
   * The policies selecting a host process by its cgroup v2 path (as in /proc/PID/cgroup, e.g.
   * "/system.slice/backup.service"): every policy naming that path or an ancestor; null = none.
   */
  selectCgroup(path: string): Selection | null {
    let sel = this.cgroupCache.get(path);
    if (sel === undefined) {
      const ids: number[] = [];
      for (let p = path; ; p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
        ids.push(...(this.cgroupPolicies.get(p) ?? []));
        if (p === '/' || !p.startsWith('/')) break;
      }
      sel = ids.length === 0 ? null : this.sources.intern(ids);
      if (this.cgroupCache.size >= SOURCE_CACHE_MAX) this.cgroupCache.clear();
      this.cgroupCache.set(path, sel);
    }
    return sel;
  }

  /**
   * The verdict on `name` for a source selected by `sel` (from this index): null = unmanaged,
   * undefined = not a source at all (fail closed: deny).
   */
  decide(sel: Selection | null | undefined, name: string): Decision {
    if (sel === null) {
      this.lastVisited = 0;
      return { verdict: 'unmanaged', policies: [], allPorts: true, ports: [] };
    }
    // Not an IP address: fail closed; this cannot come from a socket, only from a bug.
    if (sel === undefined) {
      this.lastVisited = 0;
      return { verdict: 'deny', policies: [], allPorts: false, ports: [] };
    }
    return this.decideFor(sel, normalizeName(name));
  }

  /**
   * decide() for many names in a row (reload revocation: a million elements, often nearly as
   * many names). The names under one parent whose first label no pattern names (by label or
   * label glob: NameTrie.labelsThatMatter) match the same patterns, so they share one Decision
   * per selection; the others are decided one by one. The memo is bounded (DECIDER_MEMO).
   * Decisions it returns may be shared: read them, do not change them.
   */
  decider(): (sel: Selection | null | undefined, name: string) => Decision {
    // Per parent: which first labels a pattern names (null: none), and the shared decision of
    // the others per selection. One string lookup per name.
    type Parent = { matters: ((label: string) => boolean) | null; shared: Map<Selection, Decision> };
    let parents = new Map<string, Parent>();
    // Names that rarely share a parent gain nothing from the memo and pay for it: after
    // DECIDER_PROBE lookups, if most parents were new, decide one by one from then on.
    let lookups = 0;
    let newParents = 0;
    let plain = false;
    return (sel, name) => {
      if (!sel || plain) return this.decide(sel, name);
      const n = normalizeName(name);
      const dot = n.indexOf('.');
      if (dot <= 0 || dot === n.length - 1) return this.decideFor(sel, n);
      const parentName = n.slice(dot + 1);
      let p = parents.get(parentName);
      lookups++;
      if (p === undefined) {
        if (++newParents * 2 > lookups && lookups >= DECIDER_PROBE) plain = true;
        if (parents.size >= DECIDER_MEMO) parents = new Map();
        p = { matters: this.trie.labelsThatMatter(parentName), shared: new Map() };
        parents.set(parentName, p);
      }
      if (p.matters !== null && p.matters(n.slice(0, dot))) return this.decideFor(sel, n);
      let d = p.shared.get(sel);
      if (d === undefined) {
        d = this.decideFor(sel, n);
        p.shared.set(sel, d);
      }
      return d;
    };
  }

  /** decide() for an IP source by address (the CLI, reload revocation, tests). */
  decideAddress(source: AddressSource, name: string): Decision {
    return this.decide(this.selectAddress(source.address), name);
  }

  /** decide() for a host process by its cgroup v2 path (`explain --cgroup`, revocation). */
  decideCgroup(path: string, name: string): Decision {
    return this.decide(this.selectCgroup(path), name);
  }

  private decideFor(sel: Selection, name: string): Decision {
    const hits = this.hits;
    if (hits.length !== 0) hits.length = 0; // left empty by the last call (setting length costs a runtime call)
    this.lastVisited = this.trie.match(name, hits);
    let best: Terminal | undefined;
    let allPorts = false;
    const ports: PortRule[] = [];
    let seen: Set<string> | undefined;
    for (const t of hits) {
      if (sel.mask[t.policy] !== 1) continue;
      if (!best || t.policy < best.policy || (t.policy === best.policy && t.rule < best.rule)) best = t;
      if (allPorts) continue;
      const rp = this.rules[t.policy][t.rule].ports;
      if (rp.length === 0) {
        allPorts = true;
        continue;
      }
      seen ??= new Set();
      for (const p of rp) {
        const k = `${p.proto}/${p.port}`;
        if (!seen.has(k)) {
          seen.add(k);
          ports.push({ proto: p.proto, port: p.port });
        }
      }
    }
    hits.length = 0;
    const policies = sel.names; // frozen, shared by every decision for this selection
    if (!best || allPorts) {
      let shared = this.portless.get(sel);
      if (!shared) this.portless.set(sel, (shared = { deny: { verdict: 'deny', policies, allPorts: false, ports: [] }, allow: [] }));
      if (!best) return shared.deny;
      const k = this.ruleBase[best.policy] + best.rule;
      return (shared.allow[k] ??= {
        verdict: 'allow',
        policies,
        policy: this.policyNames[best.policy],
        pattern: this.rules[best.policy][best.rule].pattern,
        allPorts: true,
        ports: [],
      });
    }
    if (ports.length > 1) ports.sort(byProtoPort);
    return {
      verdict: 'allow',
      policies,
      policy: this.policyNames[best.policy],
      pattern: this.rules[best.policy][best.rule].pattern,
      allPorts,
      ports,
    };
  }
}
