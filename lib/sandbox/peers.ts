// Starting the "internet's" servers inside a topology: the zone server (test upstream)
// and the web servers, each awaited until it prints READY.

import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { ChildLines, stopChild } from './child';
import type { Spawner } from './agent';
import type { ZoneFile } from './zone';
import type { QueryLogLine } from './zone-server';
import { formatEndpoint } from './endpoint';
import { ADDR } from './topology';

const READY_TIMEOUT_MS = 10_000;
const RELOAD_TIMEOUT_MS = 5_000;

export interface ZoneServerPeer {
  proc: ChildProcess;
  /** "203.0.113.2:53"-style endpoints it listens on */
  endpoints: string[];
  /** every query received so far, oldest first */
  queries: QueryLogLine[];
  clearQueries(): void;
  /** Rewrite the zone file and SIGHUP the server; resolves once it has reloaded. */
  setZone(zone: ZoneFile): Promise<void>;
  stop(): Promise<void>;
}

export interface WebServerPeer {
  proc: ChildProcess;
  ports: number[];
  /** connection log lines (only with log: true) */
  events: Record<string, unknown>[];
  stop(): Promise<void>;
}

function script(name: string): string {
  return path.join(__dirname, name);
}

/** Zone server in topo.ns.net on 203.0.113.2:53 and [2001:db8:3::2]:53 unless listen says otherwise. */
export async function startZoneServer(topo: Spawner & { ns: { net: string } }, opts: { zone: ZoneFile; listen?: string[]; ns?: string }): Promise<ZoneServerPeer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-zone-'));
  const file = path.join(dir, 'zone.json');
  writeFileSync(file, JSON.stringify(opts.zone));
  const listen = opts.listen ?? [formatEndpoint({ host: ADDR.net.v4, port: 53 }), formatEndpoint({ host: ADDR.net.v6, port: 53 })];
  const proc = topo.spawn(opts.ns ?? topo.ns.net, [process.execPath, script('zone-server-main.js'), '--zone', file, ...listen.flatMap((l) => ['--listen', l])]);
  const lines = new ChildLines(proc, 'zone server');
  const queries: QueryLogLine[] = [];
  lines.on('line', (l: string) => {
    if (!l.startsWith('{"q"')) return;
    try {
      queries.push(JSON.parse(l) as QueryLogLine);
    } catch {
      /* partial line: ignore */
    }
  });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const ready = await lines.waitFor((l) => l.startsWith('READY'), READY_TIMEOUT_MS);
    return {
      proc,
      queries,
      endpoints: ready.split(' ').slice(1),
      clearQueries: () => {
        queries.length = 0;
      },
      async setZone(zone) {
        writeFileSync(file, JSON.stringify(zone));
        const done = lines.waitFor((l) => l.startsWith('{"reload"'), RELOAD_TIMEOUT_MS);
        proc.kill('SIGHUP');
        const r = JSON.parse(await done) as { reload: string; error?: string };
        if (r.reload !== 'ok') throw new Error(`zone server kept its old zone: ${r.error}`);
      },
      async stop() {
        await stopChild(proc);
        cleanup();
      },
    };
  } catch (e) {
    proc.kill('SIGKILL');
    cleanup();
    throw e;
  }
}

/** Web servers in topo.ns.net: TCP banner+echo and UDP echo on each port, v4 and v6. */
export async function startWebServer(topo: Spawner & { ns: { net: string } }, opts: { ports?: number[]; log?: boolean; ns?: string } = {}): Promise<WebServerPeer> {
  const ports = opts.ports ?? [80, 443, 853, 8080];
  const proc = topo.spawn(opts.ns ?? topo.ns.net, [process.execPath, script('web-server-main.js'), '--ports', ports.join(','), ...(opts.log ? ['--log'] : [])]);
  const lines = new ChildLines(proc, 'web server');
  const events: Record<string, unknown>[] = [];
  lines.on('line', (l: string) => {
    if (!l.startsWith('{')) return;
    try {
      events.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* ignore */
    }
  });
  try {
    await lines.waitFor((l) => l.startsWith('READY'), READY_TIMEOUT_MS);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return { proc, ports, events, stop: () => stopChild(proc) };
}
