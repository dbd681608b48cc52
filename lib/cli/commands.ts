// The short commands: check, explain, ruleset, list, forget. Each returns its exit code.
import fs from 'node:fs';
import ipaddr from 'ipaddr.js';
import { loadConfigFile } from '../config/load';
import { summarize } from '../config/summary';
import { parseIP, failed } from '../config/addresses';
import { PolicyIndex } from '../policy/index';
import { explainDecision } from '../policy/explain';
import { AnswerGuard } from '../plugins/guard/ranges';
import { explainAddress } from '../plugins/guard/explain';
import { renderRuleset } from '../nft/ruleset';
import { listElements, formatList } from '../nft/list';
import { forgetSource } from '../nft/forget';
import { CliError, EXIT_BAD_INPUT, EXIT_OK } from './exit';
import { TYPE } from '../dns/constants';

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

export function runExplain(file: string, source: string, name: string, type: string, addresses: string[] = []): number {
  if (!(type.toUpperCase() in TYPE)) throw new CliError(`--type ${JSON.stringify(type)} is not a known query type`, EXIT_BAD_INPUT);
  const src = parseSource(source);
  const addrs = addresses.map((a) => {
    const ip = parseIP(a);
    if (failed(ip)) throw new CliError(`--address ${ip.error}`, EXIT_BAD_INPUT);
    return ip.address;
  });
  const cfg = loadConfigFile(file);
  const d = PolicyIndex.compile(cfg.policies).decideAddress(src, name);
  const lines = [explainDecision(d, src.address, name)];
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

export async function runForget(o: { config: string; table?: string; source: string }): Promise<number> {
  const src = parseSource(o.source).address;
  const n = await forgetSource(tableFor(o), src);
  process.stdout.write(`forgot ${n} element${n === 1 ? '' : 's'} of ${src}\n`);
  return EXIT_OK;
}

export async function runList(o: { config: string; table?: string; source?: string; json: boolean }): Promise<number> {
  const table = tableFor(o);
  const src = o.source ? parseSource(o.source).address : undefined;
  const all = await listElements(table);
  const shown = src ? all.filter((e) => e.source === src) : all;
  process.stdout.write(formatList(shown, o.json));
  return EXIT_OK;
}
