// The short commands: check, explain, ruleset, list, forget. Each returns its exit code.
import fs from 'node:fs';
import ipaddr from 'ipaddr.js';
import { loadConfigFile } from '../config/load';
import { summarize } from '../config/summary';
import { parseIP, failed } from '../config/addresses';
import { PolicyIndex } from '../policy/index';
import { explainDecision } from '../policy/explain';
import { parseCgroupPath } from '../config/addresses';
import { AnswerGuard } from '../plugins/guard/ranges';
import { explainAddress } from '../plugins/guard/explain';
import { renderRuleset } from '../nft/ruleset';
import { listElements, formatList } from '../nft/list';
import { forgetSource, forgetCgroup } from '../nft/forget';
import { findCgroup2Mount } from '../identity/cgroup/mount';
import { findInHierarchy } from '../identity/cgroup/tree';
import fsp from 'node:fs';
import pathMod from 'node:path';
import { CliError, EXIT_BAD_INPUT, EXIT_OK } from './exit';
import { TYPE } from '../dns/constants';
import { fetchPods, parsePodOption, podNames, type PodListing } from './pods';
import type { Decision } from '../policy/types';

export function runCheck(file: string): number {
  const cfg = loadConfigFile(file); // ConfigError → exit 1 with FILE:LINE:COL lines
  process.stdout.write(summarize(cfg) + '\n');
  return EXIT_OK;
}

/** --source: the config's own IP parser (same rules and messages); IPv4-mapped IPv6 → IPv4. */
export function parseSource(text: string): { address: string; family: 4 | 6 } {
  const ip = parseIP(text);
  if (failed(ip)) throw new CliError(`--source ${ip.error}`, EXIT_BAD_INPUT);
  if (ip.family === 6) {
    const a = ipaddr.IPv6.parse(ip.address);
    if (a.isIPv4MappedAddress()) return { address: a.toIPv4Address().toString(), family: 4 };
  }
  return ip;
}

/** --cgroup: a cgroup v2 path as in a policy source (the config's own parser and messages). */
export function parseCgroupOption(text: string): string {
  const p = parseCgroupPath(text.startsWith('cgroup:') ? text.slice('cgroup:'.length) : text);
  if (failed(p)) throw new CliError(`--cgroup ${p.error}`, EXIT_BAD_INPUT);
  return p;
}

/** Exactly one of --source IP and --cgroup PATH (and, where offered, --pod NS/NAME). */
function oneSource(o: { source?: string; cgroup?: string; pod?: string }, pod = false): void {
  if ([o.source, o.cgroup, o.pod].filter((x) => x !== undefined).length !== 1) {
    throw new CliError(pod ? 'give exactly one of --source IP, --cgroup PATH and --pod NAMESPACE/NAME' : 'give exactly one of --source IP and --cgroup PATH', EXIT_BAD_INPUT);
  }
}

/** `explain --pod NS/NAME`: the pod's policies as the running daemon sees them, decided with this configuration. */
async function explainPod(file: string, o: { pod: string; control?: string }, name: string, addresses: string[]): Promise<number> {
  const { namespace, name: podName } = parsePodOption(o.pod);
  const addrs = addresses.map((a) => {
    const ip = parseIP(a);
    if (failed(ip)) throw new CliError(`--address ${ip.error}`, EXIT_BAD_INPUT);
    return ip.address;
  });
  const cfg = loadConfigFile(file);
  const pods = await fetchPods({ config: file, control: o.control });
  const p = pods.find((x) => x.namespace === namespace && x.name === podName);
  if (!p) throw new CliError(`no pod ${namespace}/${podName} on this node (the daemon knows ${pods.length}; a pod without an address yet is not listed)`, EXIT_BAD_INPUT);
  const index = PolicyIndex.compile(cfg.policies);
  const ids = p.policies.map((n) => cfg.policies.findIndex((x) => x.name === n));
  const missing = p.policies.filter((_, i) => ids[i] < 0);
  if (missing.length) process.stderr.write(`dnswall: the daemon selects ${namespace}/${podName} by ${missing.join(', ')}, which ${file} does not have (reload pending?)\n`);
  const sel = index.selectPolicies(ids.filter((i) => i >= 0));
  const where = p.hostNetwork ? `hostNetwork, cgroup ${p.cgroup?.path ?? '(not found yet)'}` : p.addresses.join(', ');
  let d: Decision;
  let how: string;
  if (sel) {
    d = index.decide(sel, name);
    how = `selected by ${sel.names.join(', ')}`;
  } else if (p.hostNetwork) {
    d = p.cgroup ? index.decideCgroup(p.cgroup.path, name) : index.decide(null, name);
    how = 'selected by no pod selector: judged by its cgroup, as a host process';
  } else {
    d = index.decideAddress({ address: p.addresses[0], family: p.addresses[0].includes(':') ? 6 : 4 }, name);
    how = 'selected by no pod selector: judged by its address';
  }
  const lines = [explainDecision(d, `pod ${namespace}/${podName}`, name), `  pod ${namespace}/${podName} (${where}): ${how}`];
  const guard = AnswerGuard.fromConfig(cfg);
  for (const a of addrs) lines.push(explainAddress(guard, d, a));
  process.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}

export function runExplain(
  file: string,
  o: { source?: string; cgroup?: string; pod?: string; control?: string },
  name: string,
  type: string,
  addresses: string[] = [],
): number | Promise<number> {
  if (!(type.toUpperCase() in TYPE)) throw new CliError(`--type ${JSON.stringify(type)} is not a known query type`, EXIT_BAD_INPUT);
  oneSource(o, true);
  if (o.pod !== undefined) return explainPod(file, { pod: o.pod, control: o.control }, name, addresses);
  const src = o.source !== undefined ? parseSource(o.source) : undefined;
  const cg = o.cgroup !== undefined ? parseCgroupOption(o.cgroup) : undefined;
  const addrs = addresses.map((a) => {
    const ip = parseIP(a);
    if (failed(ip)) throw new CliError(`--address ${ip.error}`, EXIT_BAD_INPUT);
    return ip.address;
  });
  const cfg = loadConfigFile(file);
  const index = PolicyIndex.compile(cfg.policies);
  const d = src ? index.decideAddress(src, name) : index.decideCgroup(cg!, name);
  const lines = [explainDecision(d, src ? src.address : `cgroup ${cg!}`, name)];
  const guard = AnswerGuard.fromConfig(cfg);
  for (const a of addrs) lines.push(explainAddress(guard, d, a));
  process.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}

export function runRuleset(file: string): number {
  const cfg = loadConfigFile(file);
  process.stdout.write(renderRuleset(cfg, PolicyIndex.compile(cfg.policies)));
  return EXIT_OK;
}

/** --table, else the configuration's table when the file exists, else dnswall. */
export function tableFor(o: { config: string; table?: string }): string {
  return o.table || (fs.existsSync(o.config) ? loadConfigFile(o.config).nftables.table : 'dnswall');
}

/** --cgroup PATH (its current id) or a bare numeric id (a removed cgroup, as `list` shows it). */
function cgroupIdOption(text: string): { id: bigint; shown: string } {
  const bare = /^(?:cgroup:)?(\d{1,20})$/.exec(text);
  if (bare) return { id: BigInt(bare[1]), shown: `cgroup id ${bare[1]}` };
  const p = parseCgroupOption(text);
  const mount = findCgroup2Mount();
  if (!mount) throw new CliError('no cgroup v2 mount is visible in /proc/self/mountinfo: give the cgroup id instead of its path', EXIT_BAD_INPUT);
  try {
    return { id: fsp.statSync(pathMod.join(mount.path, p), { bigint: true }).ino, shown: p };
  } catch {
    throw new CliError(`--cgroup ${p}: no such cgroup under ${mount.path} (a removed cgroup: give its id, as dnswall list shows it)`, EXIT_BAD_INPUT);
  }
}

export async function runForget(o: { config: string; table?: string; source?: string; cgroup?: string }): Promise<number> {
  oneSource(o);
  if (o.cgroup !== undefined) {
    const { id, shown } = cgroupIdOption(o.cgroup);
    const n = await forgetCgroup(tableFor(o), id);
    process.stdout.write(`forgot ${n} element${n === 1 ? '' : 's'} of ${shown}\n`);
    return EXIT_OK;
  }
  const src = parseSource(o.source!).address;
  const n = await forgetSource(tableFor(o), src);
  process.stdout.write(`forgot ${n} element${n === 1 ? '' : 's'} of ${src}\n`);
  return EXIT_OK;
}

/** A cgroup set's source `cgroup:<id>` as its path under the v2 mount; the id stays when the cgroup is gone. */
function cgroupPaths(): (source: string) => string {
  const mount = findCgroup2Mount();
  const cache = new Map<string, string>();
  return (source) => {
    if (!source.startsWith('cgroup:') || !mount) return source;
    let shown = cache.get(source);
    if (shown === undefined) {
      shown = findInHierarchy(mount.path, BigInt(source.slice(7))) ?? source;
      cache.set(source, shown);
    }
    return shown;
  };
}

/**
 * The daemon's pods for naming elements: required for --pod; otherwise best effort — only when
 * the configuration watches Kubernetes, and a daemon that does not answer costs only the names.
 */
async function podsForList(o: { config: string; control?: string; pod?: string }): Promise<PodListing[]> {
  if (o.pod !== undefined) return fetchPods(o);
  try {
    if (o.control === undefined && (!fs.existsSync(o.config) || !loadConfigFile(o.config).kubernetes)) return [];
    return await fetchPods(o);
  } catch (err) {
    process.stderr.write(`dnswall: pods not named: ${(err as Error).message}\n`);
    return [];
  }
}

export async function runList(o: { config: string; table?: string; source?: string; cgroup?: string; pod?: string; control?: string; json: boolean }): Promise<number> {
  if ([o.source, o.cgroup, o.pod].filter((x) => x !== undefined).length > 1) throw new CliError('give at most one of --source, --cgroup and --pod', EXIT_BAD_INPUT);
  const table = tableFor(o);
  const src = o.source ? parseSource(o.source).address : undefined;
  const cg = o.cgroup !== undefined ? parseCgroupOption(o.cgroup) : undefined;
  const wantPod = o.pod !== undefined ? parsePodOption(o.pod) : undefined;
  const pods = podNames(await podsForList(o));
  const named = cgroupPaths();
  const all = (await listElements(table)).map((e) => {
    const pod = pods.get(e.source);
    return { ...e, source: named(e.source), ...(pod ? { pod } : {}) };
  });
  const shown = src
    ? all.filter((e) => e.source === src)
    : cg
      ? all.filter((e) => e.source === cg)
      : wantPod
        ? all.filter((e) => e.pod === `${wantPod.namespace}/${wantPod.name}`)
        : all;
  process.stdout.write(formatList(shown, o.json));
  return EXIT_OK;
}
