// The real dnswall daemon (`dnswall serve`) inside the sandbox's node namespace, as a child
// process: used by `dnswall demo`, the system tests and the benchmark.
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { ChildLines, stopChild } from './child';
import type { Spawner } from './agent';

const READY_TIMEOUT_MS = 15_000;

export interface DaemonPeer {
  proc: ChildProcess;
  configFile: string;
  /** every JSON log line so far */
  logs: Record<string, unknown>[];
  /** Rewrite the config and send SIGHUP; resolves on the daemon's "reloaded"/"rejected" line. */
  reload(yaml: string): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/** The CLI entry, compiled: dist/bin/dnswall.js. */
export const DNSWALL_BIN = path.join(__dirname, '..', '..', 'bin', 'dnswall.js');

/**
 * The node flags the command ships with: those on its `#!/usr/bin/env -S node …` line, which the
 * kernel runs when `dnswall` is executed. Spawned as [node, script], the daemon gets them only
 * from here.
 */
export function shippedNodeFlags(script = DNSWALL_BIN): string[] {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0];
  const m = /^#!\S*env(?: -S)? node((?: \S+)*)\s*$/.exec(first);
  if (!m) throw new Error(`${script}: first line is not "#!/usr/bin/env [-S] node [flags]": ${JSON.stringify(first)}`);
  return m[1].split(' ').filter(Boolean);
}

/** `nodeArgs`: node flags after the shipped ones (a later flag wins), e.g. --cpu-prof. */
export async function startDaemon(
  topo: Spawner & { ns: { node: string } },
  yaml: string,
  opts: { logLevel?: string; extraArgs?: string[]; nodeArgs?: string[] } = {},
): Promise<DaemonPeer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-daemon-'));
  const configFile = path.join(dir, 'config.yaml');
  writeFileSync(configFile, yaml);
  const node = [process.execPath, ...shippedNodeFlags(), ...(opts.nodeArgs ?? [])];
  const proc = topo.spawn(topo.ns.node, [...node, DNSWALL_BIN, '--log-level', opts.logLevel ?? 'info', 'serve', '-c', configFile, ...(opts.extraArgs ?? [])]);
  const lines = new ChildLines(proc, 'dnswall serve');
  const logs: Record<string, unknown>[] = [];
  lines.on('line', (l: string) => {
    try {
      logs.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* not JSON: ignore */
    }
  });
  proc.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  try {
    await lines.waitFor((l) => l.includes('"msg":"serving"'), READY_TIMEOUT_MS);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return {
    proc,
    configFile,
    logs,
    async reload(y: string) {
      writeFileSync(configFile, y);
      const done = lines.waitFor((l) => /"msg":"(configuration reloaded[^"]*|reload rejected[^"]*|reload failed)"/.test(l), READY_TIMEOUT_MS);
      proc.kill('SIGHUP');
      return JSON.parse(await done) as Record<string, unknown>;
    },
    async stop() {
      await stopChild(proc);
      return proc.exitCode;
    },
  };
}
