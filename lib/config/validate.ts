// Turns a parsed YAML document into a Config, filling DEFAULTS and reporting every problem.
import type { Document, Node } from 'yaml';
import { isSeq } from 'yaml';
import { DEFAULTS, CACHE_ADMISSIONS, type CacheAdmission, type Config, type Endpoint } from './types';
import type { Reader } from './reader';
import { failed, parseEndpoint } from './addresses';
import { readPolicies } from './policies';
import { readKubernetes } from './kubernetes';
import { readAnswers } from './answers';

const TOP_KEYS = [
  'listen',
  'upstreams',
  'denyResponse',
  'ttl',
  'enforce',
  'nftables',
  'limits',
  'cache',
  'metrics',
  'health',
  'queryLog',
  'control',
  'drops',
  'kubernetes',
  'answers',
  'policies',
] as const;
const LIMIT_KEYS = Object.keys(DEFAULTS.limits) as (keyof Config['limits'])[];
/** Limits where 0 means off; every other limit must be at least 1. */
const ZERO_OFF_LIMITS: ReadonlySet<string> = new Set(['sourceQueriesPerSecond']);
/** nftables object names: NFT_NAME_MAXLEN is 256, but we keep table names short and plain. */
const TABLE_NAME = /^[A-Za-z0-9_]{1,31}$/;

function endpoints(r: Reader, node: Node | null, what: string, fallback: Node): Endpoint[] | undefined {
  const items = r.seq(node, what, fallback);
  if (!items) return undefined;
  if (items.length === 0) {
    r.report(node, `${what} needs at least one address`);
    return undefined;
  }
  const out: Endpoint[] = [];
  const seen = new Set<string>();
  for (const [i, item] of items.entries()) {
    const s = r.string(item, `${what}[${i}]`, fallback);
    if (s === undefined) continue;
    const e = parseEndpoint(s);
    if (failed(e)) {
      r.report(item, `${what}[${i}]: ${e.error}`);
      continue;
    }
    const key = `${e.host}|${e.port}`;
    if (seen.has(key)) r.report(item, `${what}[${i}]: duplicate address "${s}"`);
    seen.add(key);
    out.push(e);
  }
  return out;
}

/**
 * A connected UDP client (glibc, Go) is found by sock_diag only with the exact address it sent
 * to, and Node cannot read a datagram's destination (IP_PKTINFO): cgroup sources need one
 * listen socket per address.
 */
function wildcardWithCgroups(r: Reader, cfg: Config, listen: { key: Node | null; value: Node | null } | undefined, policies: Node | null | undefined): void {
  if (!cfg.policies.some((p) => p.sources.some((s) => s.kind === 'cgroup'))) return;
  cfg.listen.forEach((ep, i) => {
    if (ep.host !== '0.0.0.0' && ep.host !== '::') return;
    const item = listen && isSeq(listen.value) ? (listen.value.items[i] as Node) : null;
    r.report(
      item ?? policies ?? null,
      `listen[${i}]: ${ep.host} is a wildcard address; cgroup sources need the exact address each query was sent to (a connected client's socket is found only with it): list each address to serve on`,
    );
  });
}

function atMost(r: Reader, node: Node | null, v: number | undefined, what: string, max: number): number | undefined {
  if (v !== undefined && v > max) {
    r.report(node, `${what} must be at most ${max}, got ${v}`);
    return undefined;
  }
  return v;
}

function defaultEndpoints(list: readonly string[]): Endpoint[] {
  return list.map((s) => parseEndpoint(s) as Endpoint);
}

export function buildConfig(r: Reader, doc: Document): Config {
  const cfg: Config = {
    file: r.file,
    listen: defaultEndpoints(DEFAULTS.listen),
    upstreams: defaultEndpoints(DEFAULTS.upstreams),
    denyResponse: DEFAULTS.denyResponse,
    ttl: { ...DEFAULTS.ttl },
    enforce: { ...DEFAULTS.enforce },
    nftables: { ...DEFAULTS.nftables },
    limits: { ...DEFAULTS.limits },
    cache: { ...DEFAULTS.cache },
    metrics: null,
    kubernetes: null,
    answers: { denyCIDRs: [] },
    health: null,
    queryLog: DEFAULTS.queryLog,
    control: DEFAULTS.control,
    drops: { ...DEFAULTS.drops },
    policies: [],
  };
  const root = r.deref(doc.contents);
  if (r.absent(root)) return cfg;
  const top = r.map(root, 'the configuration', TOP_KEYS);
  if (!top) return cfg;
  const get = (k: string) => {
    const e = top.get(k);
    return e && !r.absent(e.value) ? e : undefined;
  };

  let e = get('listen');
  if (e) cfg.listen = endpoints(r, e.value, 'listen', e.key) ?? cfg.listen;
  if ((e = get('upstreams'))) cfg.upstreams = endpoints(r, e.value, 'upstreams', e.key) ?? cfg.upstreams;
  if ((e = get('denyResponse'))) {
    cfg.denyResponse = r.oneOf(e.value, 'denyResponse', ['nxdomain', 'refused'] as const) ?? cfg.denyResponse;
  }

  if ((e = get('ttl'))) {
    const m = r.map(e.value, 'ttl', ['min', 'max', 'grace'], e.key);
    for (const k of ['min', 'max', 'grace'] as const) {
      const v = m?.get(k);
      if (v && !r.absent(v.value)) cfg.ttl[k] = r.int(v.value, `ttl.${k}`, 0, v.key) ?? cfg.ttl[k];
    }
    if (cfg.ttl.min > cfg.ttl.max) {
      const at = m?.get('min')?.value ?? m?.get('max')?.value ?? e.value;
      r.report(at, `ttl.min (${cfg.ttl.min}) must not exceed ttl.max (${cfg.ttl.max})`, e.key);
    }
  }

  if ((e = get('enforce'))) {
    const m = r.map(e.value, 'enforce', ['mode', 'action'], e.key);
    const mode = m?.get('mode');
    if (mode && !r.absent(mode.value)) cfg.enforce.mode = r.oneOf(mode.value, 'enforce.mode', ['enforce', 'audit'] as const) ?? cfg.enforce.mode;
    const action = m?.get('action');
    if (action && !r.absent(action.value)) {
      cfg.enforce.action = r.oneOf(action.value, 'enforce.action', ['reject', 'drop'] as const) ?? cfg.enforce.action;
    }
  }

  if ((e = get('nftables'))) {
    const m = r.map(e.value, 'nftables', ['table', 'stateFile'], e.key);
    const t = m?.get('table');
    const f = m?.get('stateFile');
    if (f && r.absent(f.value)) cfg.nftables.stateFile = null;
    else if (f) {
      const s = r.string(f.value, 'nftables.stateFile', f.key);
      if (s === 'off' || s === '') cfg.nftables.stateFile = null;
      else if (s !== undefined && !s.startsWith('/')) r.report(f.value, `nftables.stateFile: ${JSON.stringify(s)} is not an absolute path (or off)`, f.key);
      else if (s !== undefined && (s.endsWith('/') || s.includes('\0'))) r.report(f.value, `nftables.stateFile: ${JSON.stringify(s)} is not a file path`, f.key);
      else if (s !== undefined) cfg.nftables.stateFile = s;
    }
    if (t && !r.absent(t.value)) {
      const name = r.string(t.value, 'nftables.table', t.key);
      if (name !== undefined && !TABLE_NAME.test(name)) {
        r.report(t.value, `nftables.table "${name}" must be 1..31 of A-Z a-z 0-9 _`);
      } else if (name !== undefined) cfg.nftables.table = name;
    }
  }

  if ((e = get('limits'))) {
    const m = r.map(e.value, 'limits', LIMIT_KEYS, e.key);
    for (const k of LIMIT_KEYS) {
      const v = m?.get(k);
      if (v && !r.absent(v.value)) cfg.limits[k] = r.int(v.value, `limits.${k}`, ZERO_OFF_LIMITS.has(k) ? 0 : 1, v.key) ?? cfg.limits[k];
    }
  }

  if ((e = get('cache'))) {
    const m = r.map(e.value, 'cache', ['enabled', 'maxEntries', 'maxBytes', 'admission'], e.key);
    const en = m?.get('enabled');
    if (en && !r.absent(en.value)) cfg.cache.enabled = r.bool(en.value, 'cache.enabled', en.key) ?? cfg.cache.enabled;
    for (const k of ['maxEntries', 'maxBytes'] as const) {
      const v = m?.get(k);
      if (v && !r.absent(v.value)) cfg.cache[k] = r.int(v.value, `cache.${k}`, 1, v.key) ?? cfg.cache[k];
    }
    const ad = m?.get('admission');
    if (ad && !r.absent(ad.value)) {
      const a = r.string(ad.value, 'cache.admission', ad.key);
      if (a !== undefined) {
        if ((CACHE_ADMISSIONS as readonly string[]).includes(a)) cfg.cache.admission = a as CacheAdmission;
        else r.report(ad.value, `cache.admission: "${a}" is not one of ${CACHE_ADMISSIONS.join(', ')}`, ad.key);
      }
    }
  }

  if ((e = get('metrics'))) {
    const s = r.string(e.value, 'metrics', e.key);
    if (s !== undefined) {
      const ep = parseEndpoint(s);
      if (failed(ep)) r.report(e.value, `metrics: ${ep.error}`, e.key);
      else cfg.metrics = ep;
    }
  }

  if ((e = get('health'))) {
    const s = r.string(e.value, 'health', e.key);
    if (s !== undefined) {
      const ep = parseEndpoint(s);
      if (failed(ep)) r.report(e.value, `health: ${ep.error}`, e.key);
      else cfg.health = ep;
    }
  }
  if ((e = get('queryLog'))) cfg.queryLog = r.oneOf(e.value, 'queryLog', ['denied', 'all', 'off'] as const) ?? cfg.queryLog;
  if ((e = get('control'))) {
    const s = r.string(e.value, 'control', e.key);
    if (s === 'off') cfg.control = null;
    else if (s !== undefined && !s.startsWith('/')) r.report(e.value, `control: ${JSON.stringify(s)} is not an absolute socket path (or off)`, e.key);
    else if (s !== undefined && Buffer.byteLength(s) > 107) r.report(e.value, 'control: a unix socket path is at most 107 bytes (sun_path)', e.key);
    else if (s !== undefined) cfg.control = s;
  }
  if ((e = get('drops'))) {
    const m = r.map(e.value, 'drops', ['logGroup', 'perSecond'], e.key);
    const g = m?.get('logGroup');
    // NFULA group numbers are u16.
    if (g && !r.absent(g.value)) cfg.drops.logGroup = atMost(r, g.value, r.int(g.value, 'drops.logGroup', 0, g.key), 'drops.logGroup', 65535) ?? cfg.drops.logGroup;
    const p = m?.get('perSecond');
    if (p && !r.absent(p.value)) cfg.drops.perSecond = atMost(r, p.value, r.int(p.value, 'drops.perSecond', 1, p.key), 'drops.perSecond', 100000) ?? cfg.drops.perSecond;
  }
  if ((e = get('kubernetes'))) cfg.kubernetes = readKubernetes(r, e.value, e.key);
  if ((e = get('answers'))) cfg.answers = readAnswers(r, e.value, e.key);
  if ((e = get('policies'))) cfg.policies = readPolicies(r, e.value, e.key, !!cfg.kubernetes);
  wildcardWithCgroups(r, cfg, get('listen'), e?.key);
  return cfg;
}
