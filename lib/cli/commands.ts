// The short commands: check, explain, ruleset, list, forget. Each returns its exit code.
import fs from 'node:fs';
import ipaddr from 'ipaddr.js';
import { loadConfigFile } from '../config/load';
import { summarize } from '../config/summary';
import { PolicyIndex } from '../policy/index';
import { explain } from '../policy/explain';
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

export function parseSource(text: string): { address: string; family: 4 | 6 } {
  if (!ipaddr.isValid(text)) throw new CliError(`--source ${JSON.stringify(text)} is not an IP address`, EXIT_BAD_INPUT);
  let a = ipaddr.parse(text);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  return { address: a.toString(), family: a.kind() === 'ipv4' ? 4 : 6 };
}

export function runExplain(file: string, source: string, name: string, type: string): number {
  if (!(type.toUpperCase() in TYPE)) throw new CliError(`--type ${JSON.stringify(type)} is not a known query type`, EXIT_BAD_INPUT);
  const src = parseSource(source);
  const cfg = loadConfigFile(file);
  process.stdout.write(explain(PolicyIndex.compile(cfg.policies), src, name) + '\n');
  return EXIT_OK;
}

export function runRuleset(file: string): number {
  const cfg = loadConfigFile(file);
  process.stdout.write(renderRuleset(cfg, PolicyIndex.compile(cfg.policies)));
  return EXIT_OK;
}

/** --table, else the configuration's table when the file exists, else dnswall. */
function tableFor(o: { config: string; table?: string }): string {
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
