// A small Kubernetes API client on node:https: one JSON GET, and a watch stream read as JSON
// lines. Chosen over @kubernetes/client-node (see lib/kube/README.md): its 2.x cannot load on
// Node 20, 1.4.0 is ESM-only, stops its informer on any non-410 error and has no working
// client-side timeout — the parts a node agent most needs.
import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import type { KubeConnection } from './connection';
import { JsonLines } from './lines';

/** A non-2xx answer of the API server. `status` 0 = no HTTP answer (connection, TLS, timeout). */
export class KubeHttpError extends Error {
  override name = 'KubeHttpError';
  constructor(
    readonly status: number,
    message: string,
    /** ms from Retry-After (429/503), if the server sent one */
    readonly retryAfterMs?: number,
    /** the Status reason ("Expired", "Gone", "TooManyRequests"), if the body carried one */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

/** The bytes of an error body we keep for the message. */
const ERROR_BODY_MAX = 4096;
/** A LIST larger than this is refused (a node's pods and the cluster's namespaces are far below). */
const LIST_BODY_MAX = 256 * 1024 * 1024;

function qs(q: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

function retryAfter(res: IncomingMessage): number | undefined {
  const h = res.headers['retry-after'];
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const d = Date.parse(h);
  return Number.isFinite(d) ? Math.max(0, d - Date.now()) : undefined;
}

function statusError(res: IncomingMessage, body: string, path: string): KubeHttpError {
  let msg = body.slice(0, 300).trim();
  let reason: string | undefined;
  try {
    const s = JSON.parse(body) as { message?: string; reason?: string };
    if (s.message) msg = s.message;
    reason = s.reason;
  } catch {
    /* not a Status object */
  }
  return new KubeHttpError(res.statusCode ?? 0, `GET ${path}: HTTP ${res.statusCode}${msg ? `: ${msg}` : ''}`, retryAfter(res), reason);
}

export interface WatchHandle {
  /** Resolves when the server ends the stream; rejects on a transport error or abort. */
  done: Promise<void>;
  abort(reason: Error): void;
}

export class KubeClient {
  private readonly agent: Agent;

  constructor(
    readonly conn: KubeConnection,
    private readonly userAgent = 'dnswall',
  ) {
    this.agent = new Agent({
      keepAlive: true,
      ca: conn.ca,
      cert: conn.cert,
      key: conn.key,
      rejectUnauthorized: !conn.insecureSkipTLSVerify,
      servername: conn.tlsServerName,
    });
  }

  private open(path: string, q: Query, timeoutMs: number, onResponse: (res: IncomingMessage) => void, onError: (e: Error) => void): (e: Error) => void {
    const url = new URL(this.conn.server + path + qs(q));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    const token = this.conn.token();
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request(url, { agent: this.agent, headers, servername: this.conn.tlsServerName, timeout: timeoutMs });
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      // destroyed without an error object: the error goes to the caller, not to an 'error' event
      req.destroy();
      onError(e);
    };
    req.on('timeout', () => fail(new KubeHttpError(0, `GET ${path}: no data for ${timeoutMs} ms`)));
    req.on('error', (e) => fail(e instanceof KubeHttpError ? e : new KubeHttpError(0, `GET ${path}: ${e.message}`)));
    req.on('response', (res) => {
      res.on('error', (e) => fail(new KubeHttpError(0, `GET ${path}: ${e.message}`)));
      res.on('aborted', () => fail(new KubeHttpError(0, `GET ${path}: connection reset`)));
      onResponse(res);
    });
    req.end();
    return fail;
  }

  /** GET a JSON object. `timeoutMs` bounds silence on the socket, not the whole transfer. */
  get<T>(path: string, q: Query, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      this.open(
        path,
        q,
        timeoutMs,
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > LIST_BODY_MAX) res.destroy(new Error(`answer larger than ${LIST_BODY_MAX} bytes`));
            else chunks.push(c);
          });
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
            if (!ok) return reject(statusError(res, body.slice(0, ERROR_BODY_MAX), path));
            try {
              resolve(JSON.parse(body) as T);
            } catch (e) {
              reject(new KubeHttpError(0, `GET ${path}: answer is not JSON: ${(e as Error).message}`));
            }
          });
        },
        reject,
      );
    });
  }

  /**
   * A watch: every line of the stream is parsed and handed to onEvent. `idleMs` is the no-data
   * timer: the caller asks for bookmarks and a server-side timeout, so silence this long means a
   * dead connection (an LB cut it, the server vanished without FIN), and the watch fails.
   */
  watch(path: string, q: Query, idleMs: number, onEvent: (e: unknown) => void): WatchHandle {
    let fail!: (e: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      fail = this.open(
        path,
        { ...q, watch: true },
        idleMs,
        (res) => {
          if (res.statusCode !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
            res.on('end', () => reject(statusError(res, Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_MAX), path)));
            return;
          }
          const lines = new JsonLines();
          res.on('data', (c: Buffer) => {
            try {
              for (const ev of lines.push(c)) onEvent(ev);
            } catch (e) {
              fail(e instanceof KubeHttpError ? e : new KubeHttpError(0, `GET ${path}: ${(e as Error).message}`));
            }
          });
          res.on('end', () => resolve());
        },
        reject,
      );
    });
    return { done, abort: (e) => fail(e) };
  }

  close(): void {
    this.agent.destroy();
  }
}
