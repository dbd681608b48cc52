// The agent's connection operations: TCP connect (with the web server's banner), held
// connections that can be checked later, a UDP probe, and the query-then-connect loop.

import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { dnsQuery, DnsRequest, firstAddress, OpError } from './agent-dns';

export interface ConnectOk {
  ok: true;
  banner: string | null;
  ms: number;
  local?: string;
  handle?: number;
}
export type ConnectResult = ConnectOk | OpError;

const DEFAULT_TIMEOUT_MS = 1000;
const MAX_LOOP = 100_000;
const MAX_LOOP_MS = 300_000;

function fail(e: unknown, started: number): OpError {
  const err = e as NodeJS.ErrnoException;
  return { ok: false, error: err.code ?? 'EFAIL', message: err.message, ms: performance.now() - started };
}
function codeError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** Connect; then (unless waitBanner is false) wait for the first line within what is left of the timeout. */
export function tcpConnect(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS, waitBanner = true): Promise<{ sock: net.Socket; banner: string | null; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = '',
      connectedMs = 0,
      settled = false;
    const finish = (err: Error | null, banner: string | null = null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.removeAllListeners('data');
      if (err) {
        sock.destroy();
        reject(err);
      } else resolve({ sock, banner, ms: connectedMs });
    };
    const timer = setTimeout(() => {
      if (connectedMs)
        finish(null, null); // connected, no banner in time: still a connection
      else finish(codeError('ETIMEDOUT', `connect ${host}:${port}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('error', (e) => finish(e));
    sock.once('connect', () => {
      connectedMs = performance.now() - started;
      if (!waitBanner) finish(null, null);
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(null, buf.slice(0, nl));
    });
  });
}

export async function connectOp(host: string, port: number, timeoutMs?: number): Promise<ConnectResult> {
  const started = performance.now();
  try {
    const c = await tcpConnect(host, port, timeoutMs);
    c.sock.destroy();
    return { ok: true, banner: c.banner, ms: c.ms };
  } catch (e) {
    return fail(e, started);
  }
}

/** Connections held open by `open`, keyed by handle. */
export class Held {
  private next = 1;
  private readonly socks = new Map<number, { sock: net.Socket; closed: string | null }>();

  async open(host: string, port: number, timeoutMs?: number): Promise<ConnectResult> {
    const started = performance.now();
    try {
      const c = await tcpConnect(host, port, timeoutMs);
      const handle = this.next++;
      const entry = { sock: c.sock, closed: null as string | null };
      c.sock.on('error', (e: NodeJS.ErrnoException) => {
        entry.closed = e.code ?? 'EFAIL';
      });
      c.sock.on('close', () => {
        entry.closed ??= 'ECLOSED';
      });
      c.sock.on('end', () => {
        entry.closed ??= 'EPEERCLOSED';
      });
      this.socks.set(handle, entry);
      return { ok: true, banner: c.banner, ms: c.ms, handle, local: `${c.sock.localAddress}:${c.sock.localPort}` };
    } catch (e) {
      return fail(e, started);
    }
  }

  /** Send a probe line and wait for its echo: proves the established connection still passes. */
  check(handle: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ ok: true; ms: number } | OpError> {
    const started = performance.now();
    const entry = this.socks.get(handle);
    if (!entry) return Promise.resolve({ ok: false, error: 'EBADHANDLE', message: `no open handle ${handle}`, ms: 0 });
    if (entry.closed) return Promise.resolve({ ok: false, error: entry.closed, ms: 0 });
    const probe = `probe-${handle}-${Math.random().toString(36).slice(2)}`;
    return new Promise((resolve) => {
      let buf = '';
      const done = (r: { ok: true; ms: number } | OpError) => {
        clearTimeout(timer);
        entry.sock.removeListener('data', onData);
        entry.sock.removeListener('close', onClose);
        resolve(r);
      };
      const onData = (d: string) => {
        buf += d;
        if (buf.includes(probe)) done({ ok: true, ms: performance.now() - started });
      };
      const onClose = () => done({ ok: false, error: entry.closed ?? 'ECLOSED', ms: performance.now() - started });
      const timer = setTimeout(() => done({ ok: false, error: 'ETIMEDOUT', message: `no echo in ${timeoutMs} ms`, ms: timeoutMs }), timeoutMs);
      entry.sock.on('data', onData);
      entry.sock.once('close', onClose);
      entry.sock.write(probe + '\n');
    });
  }

  close(handle: number): { ok: boolean; error?: string; ms: number } {
    const entry = this.socks.get(handle);
    if (!entry) return { ok: false, error: 'EBADHANDLE', ms: 0 };
    entry.sock.destroy();
    this.socks.delete(handle);
    return { ok: true, ms: 0 };
  }

  closeAll(): void {
    for (const h of [...this.socks.keys()]) this.close(h);
  }
}

/** Send one datagram on a connected socket and wait for the echo. */
export function udpProbe(host: string, port: number, payload = 'ping', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ ok: true; reply: string; ms: number } | OpError> {
  const started = performance.now();
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const done = (r: { ok: true; reply: string; ms: number } | OpError) => {
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'ETIMEDOUT', message: `no reply from udp ${host}:${port} in ${timeoutMs} ms`, ms: timeoutMs }), timeoutMs);
    sock.on('error', (e) => done(fail(e, started)));
    sock.on('message', (m) => done({ ok: true, reply: m.toString(), ms: performance.now() - started }));
    sock.connect(port, host, () => sock.send(payload));
  });
}

export interface ResolveConnectRequest extends Omit<DnsRequest, 'port'> {
  /** the port to connect to (the DNS port is dnsPort) */
  port: number;
  dnsPort?: number;
  count: number;
  connectTimeoutMs?: number;
  /** wait this long between iterations (a loop that must span an event on the daemon side) */
  pauseMs?: number;
}
export interface ResolveConnectResult {
  ok: true;
  count: number;
  done: number;
  dnsFail: number;
  noAddress: number;
  connectFail: number;
  errors: string[];
  ms: number;
}

/** N times: query, then connect at once to the first address (the "first packet passes" test). */
export async function resolveConnect(r: ResolveConnectRequest): Promise<ResolveConnectResult | OpError> {
  const started = performance.now();
  const count = Math.min(Math.max(0, Math.floor(r.count)), MAX_LOOP);
  if (!Number.isFinite(count)) return { ok: false, error: 'EINVAL', message: 'count must be a number', ms: 0 };
  const res: ResolveConnectResult = { ok: true, count, done: 0, dnsFail: 0, noAddress: 0, connectFail: 0, errors: [], ms: 0 };
  const note = (s: string) => {
    if (res.errors.length < 10) res.errors.push(s);
  };
  const pause = Math.min(Math.max(0, r.pauseMs ?? 0), 1000);
  for (let i = 0; i < count && performance.now() - started < MAX_LOOP_MS; i++) {
    if (i > 0 && pause > 0) await new Promise((ok) => setTimeout(ok, pause));
    res.done++;
    const d = await dnsQuery({ ...r, port: r.dnsPort ?? 53 });
    if (!d.ok) {
      res.dnsFail++;
      note(`dns: ${d.error}`);
      continue;
    }
    const addr = firstAddress(d);
    if (!addr) {
      res.noAddress++;
      note(`dns: ${d.rcode} without address`);
      continue;
    }
    try {
      const c = await tcpConnect(addr, r.port, r.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS, false);
      c.sock.destroy();
    } catch (e) {
      res.connectFail++;
      note(`connect ${addr}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  res.ms = performance.now() - started;
  return res;
}

export interface DnsLoopRequest extends DnsRequest {
  /** queries per second, each sent on schedule whether or not earlier ones were answered */
  rate: number;
  durationMs: number;
}
export interface DnsLoopResult {
  ok: true;
  sent: number;
  noerror: number;
  otherRcode: number;
  failed: number;
  errors: string[];
  maxMs: number;
  /** when the slowest query was sent, ms after the loop began */ maxAtMs: number;
  ms: number;
}

/** A steady stream of queries (bounded: at most 1000 qps for 60 s), for losses across a restart. */
export async function dnsLoop(r: DnsLoopRequest): Promise<DnsLoopResult> {
  const started = performance.now();
  const rate = Math.min(Math.max(1, r.rate), 1000);
  const total = Math.floor((rate * Math.min(Math.max(0, r.durationMs), 60_000)) / 1000);
  const res: DnsLoopResult = { ok: true, sent: 0, noerror: 0, otherRcode: 0, failed: 0, errors: [], maxMs: 0, maxAtMs: 0, ms: 0 };
  const note = (s: string) => {
    if (res.errors.length < 10) res.errors.push(s);
  };
  const all: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
    const at = performance.now() - started;
    res.sent++;
    all.push(
      dnsQuery(r).then((d) => {
        if (d.ms > res.maxMs) {
          res.maxMs = d.ms;
          res.maxAtMs = at;
        }
        if (!d.ok) {
          res.failed++;
          note(`#${i} at ${at.toFixed(0)} ms: ${d.error}`);
        } else if (d.rcode === 'NOERROR') res.noerror++;
        else {
          res.otherRcode++;
          note(`#${i} at ${at.toFixed(0)} ms: ${d.rcode}`);
        }
      }),
    );
  }
  await Promise.all(all);
  res.ms = performance.now() - started;
  return res;
}
