// The nftables ruleset dnswall installs (`dnswall ruleset` prints it). A reference rendering
// lives in nft/ruleset.nft. The script is one `nft -f` transaction, safe to load again:
// `add` of an existing table/set/chain/counter with the same definition is a no-op, only the
// sets dnswall derives from the config and dnswall's chains are flushed — the allow sets
// (the live DNS answers) survive a restart or reload.
import { spawn } from 'child_process';
import type { Config } from '../config/types';
import { cidrBytes, cidrOf, minimalCidrs, minimalPairs, type Cidr } from './cidr';
import { NftError, CAP_HINT } from './errors';
import { isAllowSet } from './keys';
import { podCgroupLevels } from '../kube/pod-cgroups';

export interface ManagedIndex {
  managed: { v4: string[]; v6: string[] };
  /** configured cgroup v2 paths (cgroup sources): one output rule per distinct level */
  cgroups?: readonly { path: string }[];
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Names and types of the sets: a contract, other tools read them. */
export const SET_DEFINITIONS: [string, string][] = [
  ['managed4', 'type ipv4_addr; flags interval;'],
  ['managed6', 'type ipv6_addr; flags interval;'],
  // pod addresses selected by pod selectors (lib/identity/pod): kept up to date by the daemon
  // from the Kubernetes watch, not flushed by this script (a restart keeps pods managed)
  ['pods4', 'type ipv4_addr;'],
  ['pods6', 'type ipv6_addr;'],
  ['allow4', 'typeof ip saddr . ip daddr; flags timeout;'],
  ['allow6', 'typeof ip6 saddr . ip6 daddr; flags timeout;'],
  ['allow4p', 'type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags timeout;'],
  ['allow6p', 'type ipv6_addr . ipv6_addr . inet_proto . inet_service; flags timeout;'],
  // cgroup sources (local processes): the socket's cgroup v2 id . destination [. proto . port].
  // The rules matching them (socket cgroupv2 in an output chain) belong to the identity layer.
  ['cgroup4', 'type cgroupsv2 . ipv4_addr; flags timeout;'],
  ['cgroup6', 'type cgroupsv2 . ipv6_addr; flags timeout;'],
  ['cgroup4p', 'type cgroupsv2 . ipv4_addr . inet_proto . inet_service; flags timeout;'],
  ['cgroup6p', 'type cgroupsv2 . ipv6_addr . inet_proto . inet_service; flags timeout;'],
  ['static4', 'type ipv4_addr . ipv4_addr; flags interval;'],
  ['static6', 'type ipv6_addr . ipv6_addr; flags interval;'],
];

function elements(t: string, set: string, items: string[]): string[] {
  // nft has no empty element list syntax; the flush above already emptied the set.
  if (items.length === 0) return [];
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += 256) lines.push(`add element inet ${t} ${set} { ${items.slice(i, i + 256).join(', ')} }`);
  return lines;
}

/** Static destinations: each policy's allowCIDRs for each of its CIDR sources, same family. */
function staticPairs(cfg: Config, family: 4 | 6): string[] {
  const pairs: [Cidr, Cidr][] = [];
  for (const p of cfg.policies) {
    for (const s of p.sources) {
      if (s.kind !== 'cidr' || s.family !== family) continue;
      const src = cidrBytes(s);
      for (const d of p.allowCIDRs) if (d.family === family) pairs.push([src, cidrBytes(d)]);
    }
  }
  return minimalPairs(pairs).map(([s, d]) => `${s.text} . ${d.text}`);
}

function managed(list: string[], family: 4 | 6): string[] {
  return minimalCidrs(list.map(cidrOf).filter((c) => c.family === family)).map((c) => c.text);
}

/**
 * Before a managed source's new connection is rejected or dropped: log it to the netlink log
 * group the daemon reads (`dnswall drops`), at most drops.perSecond (burst twice that) for the
 * whole table, so a flood costs the node a bounded number of log messages. Beyond the limit the
 * packet is still rejected, only not logged. Prefix "dnswall audit" in audit mode (would drop);
 * the cgroup output chain logs as "dnswall cgdrop"/"dnswall cgaudit" (a local process: the
 * daemon finds its cgroup from the packet's socket). The fairness input chain logs nothing: its
 * drops are floods by definition, counted per source in offenders4/6 (dnswall_fairness_* metrics).
 * One limit per rule: the forward and output chains each log at most drops.perSecond.
 */
export function dropLogRule(cfg: Config, kind: 'forward' | 'cgroup' = 'forward'): string {
  const d = cfg.drops ?? { logGroup: 7, perSecond: 100 };
  const audit = cfg.enforce.mode === 'audit';
  const prefix = kind === 'cgroup' ? (audit ? 'dnswall cgaudit' : 'dnswall cgdrop') : audit ? 'dnswall audit' : 'dnswall drop';
  return `limit rate ${d.perSecond}/second burst ${2 * d.perSecond} packets log prefix "${prefix}" group ${d.logGroup}`;
}

/** The end of an egress chain `c` (rule prefix): count only (audit), drop, or reject (TCP reset, ICMP admin-prohibited). */
function finalVerdict(c: string, cfg: Config): string[] {
  if (cfg.enforce.mode === 'audit') return [`${c} accept comment "audit: count only"`];
  if (cfg.enforce.action === 'drop') return [`${c} drop`];
  return [`${c} meta l4proto tcp reject with tcp reset`, `${c} reject with icmpx admin-prohibited`];
}

function egress(t: string, v: 4 | 6, cfg: Config): string[] {
  const ip = v === 4 ? 'ip' : 'ip6';
  const c = `add rule inet ${t} egress${v}`;
  const verdict = finalVerdict(c, cfg);
  return [
    `${c} ct state established,related accept`,
    // ct original: the destination before DNAT, so a Kubernetes Service IP that a DNS answer
    // gave is what is matched, not the pod IP kube-proxy rewrote it to.
    `${c} ${ip} saddr . ct original ${ip} daddr @allow${v} accept`,
    // `ct original proto-dst` has no type of its own in nft 1.0.6 ("can not use variable sized
    // data types (invalid) in concat expressions") until a protocol is known: the l4proto
    // match gives it inet_service.
    `${c} meta l4proto { tcp, udp } ${ip} saddr . ct original ${ip} daddr . meta l4proto . ct original proto-dst @allow${v}p accept`,
    `${c} ${ip} saddr . ct original ${ip} daddr @static${v} accept`,
    `${c} counter name denied${v}`,
    `${c} ${dropLogRule(cfg)}`,
    ...verdict,
  ];
}

/**
 * `socket cgroupv2 level N` counts from the root: "/a" is 1, "/a/b" 2. Pod selectors add the
 * levels of kubelet's pod cgroups (hostNetwork pods: Guaranteed and Burstable/BestEffort).
 */
function cgroupLevels(idx: ManagedIndex, cfg: Config): number[] {
  const levels = (idx.cgroups ?? []).map((c) => c.path.split('/').length - 1);
  if (cfg.kubernetes && cfg.policies.some((p) => p.sources.some((s) => s.kind === 'pods'))) levels.push(...podCgroupLevels(cfg.kubernetes.cgroupRoot));
  return [...new Set(levels.filter((n) => n > 0))].sort((a, b) => a - b);
}

/**
 * Host processes by cgroup: chain `output` jumps to `cgegress` for a socket whose
 * cgroup, at the level of a configured path, is in `cgmanaged` (ids written over netlink by the
 * daemon, lib/nft/cgroups.ts). There: established/related, DNS to dnswall's own listen
 * addresses, `cgroup id . destination` (at every configured level: elements are keyed by the
 * deepest configured ancestor) in the cgroup sets and `cgstatic4/6`, else counter `cgdenied`
 * and reject/drop. The three id sets are never flushed here: the daemon rewrites them whole.
 */
function cgroupOutput(t: string, cfg: Config, idx: ManagedIndex): string[] {
  const levels = cgroupLevels(idx, cfg);
  const c = `add rule inet ${t} cgegress`;
  const dns = (v: 4 | 6) => cfg.listen.filter((e) => e.family === v).map((e) => (e.port ? `${e.host} . ${e.port}` : ''));
  const verdict = finalVerdict(c, cfg);
  const lookups: string[] = [];
  for (const v of [4, 6] as const) {
    const ip = v === 4 ? 'ip' : 'ip6';
    const listen = dns(v).filter(Boolean);
    if (listen.length) lookups.push(`${c} meta l4proto { tcp, udp } ${ip} daddr . th dport { ${listen.join(', ')} } accept`);
    for (const n of levels) {
      // ct original: the destination before a DNAT in the output path (a Service IP from a DNS answer).
      lookups.push(`${c} socket cgroupv2 level ${n} . ct original ${ip} daddr @cgroup${v} accept`);
      lookups.push(`${c} meta l4proto { tcp, udp } socket cgroupv2 level ${n} . ct original ${ip} daddr . meta l4proto . ct original proto-dst @cgroup${v}p accept`);
      lookups.push(`${c} socket cgroupv2 level ${n} . ct original ${ip} daddr @cgstatic${v} accept`);
    }
  }
  return [
    `add set inet ${t} cgmanaged { typeof socket cgroupv2 level 1; }`,
    `add set inet ${t} cgstatic4 { typeof socket cgroupv2 level 1 . ip daddr; flags interval; }`,
    `add set inet ${t} cgstatic6 { typeof socket cgroupv2 level 1 . ip6 daddr; flags interval; }`,
    `add counter inet ${t} cgdenied`,
    ...hookChains(t, 'output', ['cgegress']),
    ...levels.map((n) => `add rule inet ${t} output socket cgroupv2 level ${n} @cgmanaged jump cgegress`),
    `${c} ct state established,related accept`,
    ...lookups,
    `${c} counter name cgdenied`,
    `${c} ${dropLogRule(cfg, 'cgroup')}`,
    ...verdict,
  ];
}

/** The allow sets' kernel size: the total cap (each set holds at most all elements). */
function sizeOf(cfg: Config): number {
  const n = cfg.limits?.maxElements;
  return Number.isInteger(n) && n > 0 ? n : 1_000_000;
}

/** Idle seconds before a source's meter state is forgotten (its bucket is full again after 2 s). */
const METER_TIMEOUT_S = 10;
/** Sources metered at once per family; a full meter set lets new sources through unmetered. */
const METER_SIZE = 65536;
/** Sources remembered with their drop counters (offenders4/6), each for OFFENDER_TIMEOUT after its last drop. */
const OFFENDER_SIZE = 4096;
const OFFENDER_TIMEOUT = '10m';

/** `listen4`/`listen6` keys: address . l4proto . port; a wildcard host covers every local address (input hook). */
function listenKeys(cfg: Config, family: 4 | 6): string[] {
  const out = new Set<string>();
  const eps = cfg.listen.filter((e) => e.family === family && e.port > 0); // port 0 (tests): bound later, not metered
  const any = family === 4 ? '0.0.0.0' : '::';
  const wildPorts = new Set(eps.filter((e) => e.host === any).map((e) => e.port));
  for (const e of eps) {
    if (e.host !== any && wildPorts.has(e.port)) continue; // covered by the wildcard (interval keys may not overlap)
    const addr = e.host === any ? `${any}/0` : e.host;
    for (const proto of ['udp', 'tcp']) out.add(`${addr} . ${proto} . ${e.port}`);
  }
  return [...out];
}

/**
 * A base chain on `hook` (policy accept: only what dnswall's rules select is touched) and the
 * regular chains it jumps to, each created if absent and then flushed — rewritten on every load.
 */
function hookChains(t: string, hook: 'input' | 'forward' | 'output', chains: string[]): string[] {
  return [
    `add chain inet ${t} ${hook} { type filter hook ${hook} priority filter; policy accept; }`,
    ...chains.map((c) => `add chain inet ${t} ${c}`),
    ...[hook, ...chains].map((c) => `flush chain inet ${t} ${c}`),
  ];
}

/**
 * Fairness (limits.sourceQueriesPerSecond): on the input hook, UDP datagrams and new TCP
 * connections (SYN without ACK) to a listen address:port go through a per-source token bucket
 * (a dynamic set with a `limit` per element: rate R, burst 2R); the excess is dropped before it
 * reaches the socket, counted in `overrate4/6` and per source in `offenders4/6`. Nothing else
 * on the input path is touched. The meters are flushed on every load, so a new rate takes effect
 * at once (an element keeps the limit it was created with).
 */
function fairness(t: string, cfg: Config): string[] {
  const rate = cfg.limits?.sourceQueriesPerSecond ?? 0;
  const lines: string[] = [];
  for (const v of [4, 6] as const) {
    const addr = v === 4 ? 'ipv4_addr' : 'ipv6_addr';
    lines.push(
      `add set inet ${t} listen${v} { type ${addr} . inet_proto . inet_service; flags interval; }`,
      `add set inet ${t} meter${v} { type ${addr}; flags dynamic,timeout; timeout ${METER_TIMEOUT_S}s; size ${METER_SIZE}; }`,
      `add set inet ${t} offenders${v} { type ${addr}; flags dynamic,timeout; timeout ${OFFENDER_TIMEOUT}; size ${OFFENDER_SIZE}; counter; }`,
      `add counter inet ${t} overrate${v}`,
    );
  }
  lines.push(
    ...['listen4', 'listen6', 'meter4', 'meter6'].map((s) => `flush set inet ${t} ${s}`),
    ...elements(t, 'listen4', listenKeys(cfg, 4)),
    ...elements(t, 'listen6', listenKeys(cfg, 6)),
    ...hookChains(t, 'input', ['fair4', 'fair6']),
  );
  if (!(rate > 0)) return lines;
  for (const v of [4, 6] as const) {
    const ip = v === 4 ? 'ip' : 'ip6';
    lines.push(
      `add rule inet ${t} input meta l4proto udp ${ip} daddr . meta l4proto . udp dport @listen${v} jump fair${v}`,
      `add rule inet ${t} input tcp flags & (syn | ack) == syn ${ip} daddr . meta l4proto . tcp dport @listen${v} jump fair${v}`,
    );
  }
  // audit mode drops nothing (the daemon does not even install the ruleset then; this is what
  // `dnswall ruleset` prints for it)
  const verdict = cfg.enforce.mode === 'audit' ? 'accept comment "audit: count only"' : 'drop';
  for (const v of [4, 6] as const) {
    const ip = v === 4 ? 'ip' : 'ip6';
    lines.push(
      `add rule inet ${t} fair${v} update @meter${v} { ${ip} saddr limit rate over ${rate}/second burst ${2 * rate} packets } update @offenders${v} { ${ip} saddr } counter name overrate${v} ${verdict}`,
    );
  }
  return lines;
}

export function renderRuleset(cfg: Config, idx: ManagedIndex): string {
  const t = cfg.nftables.table;
  if (!NAME_RE.test(t)) throw new RangeError(`nftables.table ${JSON.stringify(t)} is not a valid nftables name`);
  const lines: string[] = [
    '#!/usr/sbin/nft -f',
    `# dnswall ruleset for table inet ${t} (mode ${cfg.enforce.mode}, action ${cfg.enforce.action}).`,
    '# One transaction; loading it again keeps the allow sets (the live DNS answers).',
    `add table inet ${t}`,
    // The allow sets get `size` = limits.maxElements as the kernel's backstop of the daemon's
    // caps (nft 1.0.6 on Linux 6.18 changes the size of an existing set in place; a full set
    // fails NEWSETELEM with ENFILE).
    ...SET_DEFINITIONS.map(([name, def]) => `add set inet ${t} ${name} { ${isAllowSet(name) ? def + ` size ${sizeOf(cfg)};` : def} }`),
    `add counter inet ${t} denied4`,
    `add counter inet ${t} denied6`,
    ...['managed4', 'managed6', 'static4', 'static6'].map((s) => `flush set inet ${t} ${s}`),
    ...elements(t, 'managed4', managed(idx.managed.v4, 4)),
    ...elements(t, 'managed6', managed(idx.managed.v6, 6)),
    ...elements(t, 'static4', staticPairs(cfg, 4)),
    ...elements(t, 'static6', staticPairs(cfg, 6)),
    ...hookChains(t, 'forward', ['egress4', 'egress6']),
    // Only managed sources are touched: everything else keeps the policy accept.
    `add rule inet ${t} forward ip saddr @managed4 jump egress4`,
    `add rule inet ${t} forward ip6 saddr @managed6 jump egress6`,
    `add rule inet ${t} forward ip saddr @pods4 jump egress4`,
    `add rule inet ${t} forward ip6 saddr @pods6 jump egress6`,
    ...egress(t, 4, cfg),
    ...egress(t, 6, cfg),
    ...fairness(t, cfg),
    ...cgroupOutput(t, cfg, idx),
  ];
  return lines.join('\n') + '\n';
}

/** Loads a script with `nft -f -`. EPERM (no CAP_NET_ADMIN) gets code 'EPERM'. */
export function installRuleset(script: string, opts: { nft?: string; timeoutMs?: number } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.nft ?? 'nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 65536) stderr += d;
    });
    child.stdin.on('error', () => {
      /* nft exited early; its stderr says why */
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new NftError(
          err.code === 'ENOENT' ? 'ENOENT' : (err.code ?? 'EIO'),
          err.code === 'ENOENT' ? 'nft not found: install nftables (the nft command)' : `cannot run nft: ${err.message}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const msg = stderr.trim();
      if (/Operation not permitted|EPERM/.test(msg)) return reject(new NftError('EPERM', `nft -f: Operation not permitted — ${CAP_HINT}`));
      reject(new NftError('ENFTLOAD', `nft -f failed (${signal ? 'killed by ' + signal : 'exit ' + code}): ${msg || 'no message'}`));
    });
    child.stdin.end(script);
  });
}
