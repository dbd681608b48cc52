// ip netns exec POD node dist/lib/sandbox/agent-main.js
// A long-lived pod agent: JSON-lines commands on stdin, one JSON-lines result per command on
// stdout (same "id"), so tests run thousands of operations without spawning processes.
// Commands run concurrently; results may come back out of order. Ops: ping, dns, connect,
// open, check, close, udp, resolveConnect, dnsLoop. Prints {"ready":true} first. Exits when stdin ends.

import readline from 'node:readline';
import { dnsQuery } from './agent-dns';
import { connectOp, dnsLoop, Held, resolveConnect, udpProbe } from './agent-net';

type Cmd = Record<string, unknown> & { id?: unknown; op?: unknown };

const held = new Held();
let pending = 0;
let stdinClosed = false;
const EXIT_GRACE_MS = 10_000; // after stdin ends, wait this long at most for running commands

function out(line: unknown): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

function str(c: Cmd, k: string): string {
  if (typeof c[k] !== 'string') throw new Error(`"${k}" must be a string`);
  return c[k];
}
function num(c: Cmd, k: string, dflt?: number): number {
  const v = c[k] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`"${k}" must be a number`);
  return v;
}
function optNum(c: Cmd, k: string): number | undefined {
  return c[k] === undefined ? undefined : num(c, k);
}

/** The fields every DNS-asking op shares. */
function dnsFields(c: Cmd) {
  return {
    server: str(c, 'server'),
    name: str(c, 'name'),
    type: c.type === undefined ? undefined : str(c, 'type'),
    tcp: c.tcp === true,
    edns: c.edns !== false,
    timeoutMs: optNum(c, 'timeoutMs'),
  };
}

async function run(c: Cmd): Promise<unknown> {
  switch (c.op) {
    case 'ping':
      return { ok: true, pid: process.pid };
    case 'dns':
      return dnsQuery({
        ...dnsFields(c),
        port: optNum(c, 'port'),
        strict: c.strict !== false,
      });
    case 'connect':
      if (c.hold === true) return held.open(str(c, 'host'), num(c, 'port'), optNum(c, 'timeoutMs'));
      return connectOp(str(c, 'host'), num(c, 'port'), optNum(c, 'timeoutMs'));
    case 'open':
      return held.open(str(c, 'host'), num(c, 'port'), optNum(c, 'timeoutMs'));
    case 'check':
      return held.check(num(c, 'handle'), optNum(c, 'timeoutMs'));
    case 'close':
      return held.close(num(c, 'handle'));
    case 'udp':
      return udpProbe(str(c, 'host'), num(c, 'port'), c.payload === undefined ? undefined : str(c, 'payload'), optNum(c, 'timeoutMs'));
    case 'resolveConnect':
      return resolveConnect({
        ...dnsFields(c),
        dnsPort: optNum(c, 'dnsPort'),
        port: num(c, 'port'),
        count: num(c, 'count'),
        connectTimeoutMs: optNum(c, 'connectTimeoutMs'),
        pauseMs: optNum(c, 'pauseMs'),
      });
    case 'dnsLoop':
      return dnsLoop({
        ...dnsFields(c),
        port: optNum(c, 'port'),
        rate: num(c, 'rate'),
        durationMs: num(c, 'durationMs'),
      });
    default:
      throw new Error(`unknown op ${JSON.stringify(c.op)}`);
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let c: Cmd;
  try {
    c = JSON.parse(line) as Cmd;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error('not an object');
  } catch (e) {
    out({ id: null, ok: false, error: 'EBADREQ', message: `bad JSON line: ${(e as Error).message}` });
    return;
  }
  pending++;
  run(c)
    .then(
      (r) => out({ id: c.id ?? null, ...(r as object) }),
      (e: Error) => out({ id: c.id ?? null, ok: false, error: 'EBADREQ', message: e.message }),
    )
    .finally(() => {
      pending--;
      if (stdinClosed && pending === 0) quit();
    });
});
function quit(): void {
  held.closeAll();
  process.exit(0);
}
rl.on('close', () => {
  stdinClosed = true;
  if (pending === 0) quit();
  else setTimeout(quit, EXIT_GRACE_MS).unref();
});
process.on('SIGTERM', () => {
  held.closeAll();
  process.exit(0);
});
out({ ready: true, pid: process.pid });
