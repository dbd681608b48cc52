// What a reload changes, key by key, and which of those changes take effect without a restart
// (docs/architecture.md "Lifecycle", Reload: a reload applies every key it reports as applied;
// a key that needs a restart is named in a warning, and its running value stays in force until
// then).
import type { Config } from '../config/types';

export type Handling = 'live' | 'restart';

/**
 * Every configuration key and how a reload treats it. A key that is not listed here (a key added
 * later) counts as 'restart': a reload never claims a key it does not know how to apply. Whoever
 * makes a new key live adds it here as 'live' (and to its reload test).
 */
export const RELOAD_KEYS: Readonly<Record<string, Handling>> = {
  // sockets are bound once (or inherited from systemd / hold-sockets)
  listen: 'restart',
  // a new upstream pool; queries in flight finish on the old one
  upstreams: 'live',
  denyResponse: 'live',
  'ttl.min': 'live',
  'ttl.max': 'live',
  'ttl.grace': 'live',
  // audit↔enforce: the programmer exists before the enforcing ruleset; enforce→audit stops rejecting first
  'enforce.mode': 'live',
  'enforce.action': 'live',
  // the table holds the live elements: moving them is a restart (and `dnswall teardown` of the old)
  'nftables.table': 'restart',
  // read at start, written at stop by the programmer the daemon started with
  'nftables.stateFile': 'restart',
  'limits.upstreamTimeoutMs': 'live',
  'limits.commitTimeoutMs': 'live',
  'limits.tcpIdleTimeoutMs': 'live',
  'limits.tcpMaxConnections': 'live',
  'limits.maxPendingQueries': 'live',
  'limits.maxElementsPerSource': 'live',
  'limits.maxAddressesPerName': 'live',
  'limits.maxElements': 'live',
  // the ruleset's meters are re-rendered (and flushed) by the ruleset load; the daemon's budget is reconfigured
  'limits.sourceQueriesPerSecond': 'live',
  'cache.enabled': 'live',
  'cache.maxEntries': 'live',
  'cache.maxBytes': 'live',
  'cache.admission': 'live',
  metrics: 'live',
  // the querylog plugin of the new chain logs by the new value (health, control and drops are
  // bound once: not listed, so 'restart')
  queryLog: 'live',
  // the answer guard is compiled again and the new chain reads it; revoke drops elements it refuses
  'answers.denyCIDRs': 'live',
  policies: 'live',
};

/** Objects whose members are keys of their own (compared one by one). */
const GROUPS = new Set(
  Object.keys(RELOAD_KEYS)
    .filter((k) => k.includes('.'))
    .map((k) => k.split('.')[0]),
);

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The key paths whose value differs ('file' is where it was read from, not a key). */
export function changedKeys(a: Config, b: Config): string[] {
  const out: string[] = [];
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  const top = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  top.delete('file');
  for (const k of top) {
    const va = ra[k],
      vb = rb[k];
    if (GROUPS.has(k) && isObject(va) && isObject(vb)) {
      for (const m of new Set([...Object.keys(va), ...Object.keys(vb)])) if (!same(va[m], vb[m])) out.push(`${k}.${m}`);
    } else if (!same(va, vb)) {
      out.push(k);
    }
  }
  return out.sort();
}

export function handlingOf(key: string): Handling {
  return RELOAD_KEYS[key] ?? 'restart';
}

export interface ReloadPlan {
  changed: string[];
  live: string[];
  /** changed keys whose running value stays until a restart */
  restart: string[];
  /** the configuration that will be in force: `next`, with the running value of every restart key */
  effective: Config;
}

export function planReload(running: Config, next: Config): ReloadPlan {
  const changed = changedKeys(running, next);
  const live = changed.filter((k) => handlingOf(k) === 'live');
  const restart = changed.filter((k) => handlingOf(k) === 'restart');
  const effective = structuredClone(next) as unknown as Record<string, unknown>;
  const run = running as unknown as Record<string, unknown>;
  for (const k of restart) {
    const [top, member] = k.split('.');
    if (member === undefined) {
      if (top in run) effective[top] = structuredClone(run[top]);
      else delete effective[top];
    } else {
      (effective[top] as Record<string, unknown>)[member] = structuredClone((run[top] as Record<string, unknown>)[member]);
    }
  }
  return { changed, live, restart, effective: effective as unknown as Config };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
