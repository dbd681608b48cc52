// dnswall drops: ask the running daemon (control socket) for the connections the kernel
// rejected for managed sources, and why.
import fs from 'node:fs';
import ipaddr from 'ipaddr.js';
import { request, NotRunning } from '../control/client';
import { loadConfigFile } from '../config/load';
import { DEFAULTS } from '../config/types';
import { CliError, EXIT_BAD_INPUT, EXIT_RUNTIME } from './exit';
import type { Drop } from '../drops/drops';

export interface DropsOptions {
  config: string;
  control?: string;
  source?: string;
  cgroup?: string;
  pod?: string;
  follow: boolean;
  json: boolean;
}

/** --control, else the configuration's `control:`, else /run/dnswall/control.sock. */
export function controlPath(o: { config: string; control?: string }): string {
  if (o.control) return o.control;
  if (fs.existsSync(o.config)) {
    const c = loadConfigFile(o.config).control;
    if (!c) throw new CliError(`${o.config}: control is off; the daemon has no control socket`, EXIT_BAD_INPUT);
    return c;
  }
  return DEFAULTS.control;
}

export function formatDrop(d: Drop): string {
  const dst = d.port !== undefined ? `${d.proto}/${d.port}` : d.proto;
  const who = d.pod ? `${d.source} ${d.pod}` : d.cgroup ? d.cgroup : d.source;
  return `${d.time}  ${who} → ${d.destination} ${dst}  ${d.audit ? '(audit: let through) ' : ''}${d.detail}${d.policies.length ? `  [${d.policies.join(',')}]` : ''}`;
}

/** stdout to a pipe is asynchronous: resolve once the text is handed over, before the CLI exits. */
const stdout = (s: string) => new Promise<void>((r) => process.stdout.write(s, () => r()));

export async function runDrops(o: DropsOptions, out: (s: string) => void | Promise<void> = stdout): Promise<void> {
  if ([o.source, o.cgroup, o.pod].filter(Boolean).length > 1) throw new CliError('give at most one of --source, --cgroup, --pod', EXIT_BAD_INPUT);
  let source: string | undefined;
  if (o.source) {
    if (!ipaddr.isValid(o.source)) throw new CliError(`--source ${JSON.stringify(o.source)} is not an IP address`, EXIT_BAD_INPUT);
    source = ipaddr.process(o.source).toString();
  }
  if (o.pod && !/^[a-z0-9.-]+\/[a-z0-9.-]+$/.test(o.pod)) throw new CliError(`--pod ${JSON.stringify(o.pod)} is not NAMESPACE/NAME`, EXIT_BAD_INPUT);
  if (o.cgroup && !o.cgroup.startsWith('/'))
    throw new CliError(`--cgroup ${JSON.stringify(o.cgroup)} is not a cgroup v2 path (it starts with /, relative to the cgroup2 mount)`, EXIT_BAD_INPUT);
  const filter = { ...(source ? { source } : {}), ...(o.cgroup ? { cgroup: o.cgroup } : {}), ...(o.pod ? { pod: o.pod } : {}) };
  const items: Drop[] = [];
  try {
    await request(controlPath(o), { op: 'drops', filter, follow: o.follow }, (v) => {
      const d = v as Drop;
      if (o.follow) void out((o.json ? JSON.stringify(d) : formatDrop(d)) + '\n');
      else items.push(d);
    });
  } catch (err) {
    if (err instanceof NotRunning) throw new CliError(err.message, EXIT_RUNTIME);
    if (err instanceof CliError) throw err;
    throw new CliError(`dnswall drops: ${(err as Error).message}`, EXIT_RUNTIME);
  }
  const text = o.json ? JSON.stringify(items, null, 2) + '\n' : items.length === 0 ? 'no drops logged\n' : items.map((d) => formatDrop(d) + '\n').join('');
  await out(text);
}
