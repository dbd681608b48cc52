// The test side of the pod agent (agent-main.ts): one child per pod namespace, requests
// matched to results by id, every request bounded by a timeout.

import path from 'node:path';
import type { SpawnOptions, ChildProcess } from 'node:child_process';
import { ChildLines, stopChild } from './child';
import type { DnsRequest, DnsResult, OpError } from './agent-dns';
import type { ConnectResult, DnsLoopRequest, DnsLoopResult, ResolveConnectRequest, ResolveConnectResult } from './agent-net';

export type { DnsRequest, DnsResult, DnsOk, DnsAnswer, OpError } from './agent-dns';
export type { ConnectResult, ConnectOk, ResolveConnectRequest, ResolveConnectResult, DnsLoopRequest, DnsLoopResult } from './agent-net';

export interface Spawner {
  spawn(ns: string, argv: string[], opts?: SpawnOptions): ChildProcess;
}

const START_TIMEOUT_MS = 10_000;
const MARGIN_MS = 5_000; // the agent enforces the op's own timeout; this only catches a hung agent

export class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: ChildLines,
    readonly ns: string,
  ) {
    lines.on('line', (l: string) => this.onLine(l));
    child.once('exit', (code, sig) => this.failAll(new Error(`agent in ${ns} exited (${code ?? sig}): ${lines.stderr() || 'no stderr'}`)));
  }

  /** Start agent-main.js inside ns (through the topology's spawn) and wait until it is ready. */
  static async start(topo: Spawner, ns: string): Promise<Agent> {
    const child = topo.spawn(ns, [process.execPath, path.join(__dirname, 'agent-main.js')]);
    const lines = new ChildLines(child, `agent in ${ns}`);
    const ready = lines.waitFor((l) => l.startsWith('{"ready":true'), START_TIMEOUT_MS);
    const agent = new Agent(child, lines, ns);
    try {
      await ready;
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    return agent;
  }

  /** Send any command; resolves with the agent's result object. */
  request<T>(cmd: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.child.stdin?.writable) return reject(new Error(`agent in ${this.ns} is not running`));
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent in ${this.ns}: no result for ${String(cmd.op)} #${id} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin.write(JSON.stringify({ ...cmd, id }) + '\n');
    });
  }

  ping(): Promise<{ ok: true; pid: number }> {
    return this.request({ op: 'ping' });
  }

  dns(req: DnsRequest): Promise<DnsResult> {
    return this.request({ op: 'dns', ...req }, (req.timeoutMs ?? 2000) + MARGIN_MS);
  }

  connect(host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<ConnectResult> {
    return this.request({ op: 'connect', host, port, ...opts }, (opts.timeoutMs ?? 1000) + MARGIN_MS);
  }

  /** Connect and keep the connection; the result carries a handle for check() and close(). */
  open(host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<ConnectResult> {
    return this.request({ op: 'open', host, port, ...opts }, (opts.timeoutMs ?? 1000) + MARGIN_MS);
  }

  check(handle: number, opts: { timeoutMs?: number } = {}): Promise<{ ok: true; ms: number } | OpError> {
    return this.request({ op: 'check', handle, ...opts }, (opts.timeoutMs ?? 1000) + MARGIN_MS);
  }

  close(handle: number): Promise<{ ok: boolean; error?: string }> {
    return this.request({ op: 'close', handle });
  }

  udp(host: string, port: number, payload?: string, opts: { timeoutMs?: number } = {}): Promise<{ ok: true; reply: string; ms: number } | OpError> {
    return this.request({ op: 'udp', host, port, payload, ...opts }, (opts.timeoutMs ?? 1000) + MARGIN_MS);
  }

  resolveConnect(req: ResolveConnectRequest): Promise<ResolveConnectResult | OpError> {
    const perLoop = (req.timeoutMs ?? 2000) + (req.connectTimeoutMs ?? 1000);
    return this.request({ op: 'resolveConnect', ...req }, Math.min(req.count * perLoop, 300_000) + MARGIN_MS);
  }

  /** A steady stream of queries (rate per second for durationMs); resolves when the last is answered or timed out. */
  dnsLoop(req: DnsLoopRequest): Promise<DnsLoopResult | OpError> {
    return this.request({ op: 'dnsLoop', ...req }, Math.min(req.durationMs, 60_000) + (req.timeoutMs ?? 2000) + MARGIN_MS);
  }

  /** End the agent (closing its held connections); resolves once it has exited. */
  async stop(): Promise<void> {
    this.child.stdin?.end();
    await stopChild(this.child, 3000);
  }

  private onLine(line: string): void {
    let msg: { id?: unknown };
    try {
      msg = JSON.parse(line) as { id?: unknown };
    } catch {
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    const { id: _id, ...rest } = msg as Record<string, unknown>;
    p.resolve(rest);
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }
}
