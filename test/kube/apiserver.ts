// A TEST STAND-IN FOR kube-apiserver (there is no apiserver package for these machines). It
// implements the parts of the API protocol dnswall and kubectl use, honestly enough to test a
// watch against: core/v1 pods, namespaces and nodes; LIST with resourceVersion, limit/continue
// (pages served from a snapshot), field selectors (metadata.name, metadata.namespace,
// spec.nodeName) and label selectors (=, ==, !=, in, notin, exists, !exists); WATCH replaying a
// bounded history after the asked resourceVersion, then live events, with selector transitions
// (an object that stops matching is sent as DELETED, one that starts as ADDED), bookmarks,
// timeoutSeconds; 410 Gone for a resourceVersion older than the history, as HTTP status or as an
// in-stream ERROR; server-side close; injected 429 (with Retry-After), 500, stalls (headers and
// then silence) and resets. HTTPS only, with a test CA (test/kube/pki.ts); bearer tokens and/or
// client certificates. Not implemented: writes over HTTP (tests mutate state by method), other
// resources, protobuf, Table output (kubectl falls back to its own printing).
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestPki } from './pki';

export type Resource = 'pods' | 'namespaces' | 'nodes';
type Obj = { metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; [k: string]: unknown }; [k: string]: unknown };
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEntry {
  rv: number;
  resource: Resource;
  type: EventType;
  object: Obj;
  /** the object before a MODIFIED, for selector transitions */
  old?: Obj;
}

export type Fault =
  { on: 'list' | 'watch'; kind: 'status'; code: number; retryAfterSeconds?: number } | { on: 'list' | 'watch'; kind: 'stall' } | { on: 'list' | 'watch'; kind: 'reset' };

interface Watcher {
  resource: Resource;
  match: (o: Obj) => boolean;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
}

export interface RequestRecord {
  path: string;
  query: Record<string, string>;
  status: number;
  at: number;
}

const KIND: Record<Resource, string> = { pods: 'Pod', namespaces: 'Namespace', nodes: 'Node' };

// ---- selectors (written independently of lib/ on purpose: the server must not share the client's bugs)

type Req = (labels: Record<string, string>) => boolean;

export function parseLabelSelector(s: string): (o: Obj) => boolean {
  const reqs: Req[] = [];
  // split on commas not inside parentheses
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, k, op, vs] = m;
      const set = new Set(vs.split(',').map((v) => v.trim()));
      reqs.push(op === 'in' ? (l) => k in l && set.has(l[k]) : (l) => !(k in l) || !set.has(l[k]));
    } else if ((m = p.match(/^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=()]*)$/))) {
      const [, k, op, v] = m;
      reqs.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if ((m = p.match(/^!\s*([^\s!=()]+)$/))) {
      const k = m[1];
      reqs.push((l) => !(k in l));
    } else if ((m = p.match(/^([^\s!=()]+)$/))) {
      const k = m[1];
      reqs.push((l) => k in l);
    } else throw new Error(`unable to parse requirement: "${p}"`);
  }
  return (o) => reqs.every((r) => r(o.metadata.labels ?? {}));
}

function fieldValue(o: Obj, field: string): string | undefined {
  switch (field) {
    case 'metadata.name':
      return o.metadata.name;
    case 'metadata.namespace':
      return o.metadata.namespace;
    case 'spec.nodeName':
      return (o.spec as { nodeName?: string } | undefined)?.nodeName ?? '';
    default:
      throw new Error(`field label not supported: ${field}`);
  }
}

export function parseFieldSelector(s: string): (o: Obj) => boolean {
  const reqs = s
    .split(',')
    .filter((p) => p.trim())
    .map((p) => {
      const m = p.trim().match(/^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/);
      if (!m) throw new Error(`invalid field selector: "${p}"`);
      const [, f, op, v] = m;
      fieldValue({ metadata: { name: '' } }, f); // throws for unsupported fields
      return op === '!=' ? (o: Obj) => fieldValue(o, f) !== v : (o: Obj) => fieldValue(o, f) === v;
    });
  return (o) => reqs.every((r) => r(o));
}

// ---- the server

export interface ApiServerOptions {
  pki: TestPki;
  /** accepted bearer tokens (mutable); empty and no client cert = 401 */
  tokens?: string[];
  /** events kept for watches; older resourceVersions get 410 */
  historySize?: number;
  /** how a too-old resourceVersion is answered on watch */
  goneMode?: 'http' | 'stream';
  /** send a BOOKMARK this often to watches that asked for them; 0 = never */
  bookmarkMs?: number;
  host?: string;
}

export class TestApiServer {
  readonly objects: Record<Resource, Map<string, Obj>> = { pods: new Map(), namespaces: new Map(), nodes: new Map() };
  readonly requests: RequestRecord[] = [];
  readonly faults: Fault[] = [];
  tokens: string[];
  goneMode: 'http' | 'stream';
  bookmarkMs: number;
  private rv = 100;
  private history: HistoryEntry[] = [];
  /** watches from a resourceVersion below this get 410 */
  private compactedRV = 100;
  private readonly historySize: number;
  private readonly watchers = new Set<Watcher>();
  private readonly snapshots = new Map<string, { items: Obj[]; rv: number }>();
  private readonly stalled = new Set<ServerResponse>();
  private server!: Server;
  port = 0;

  private constructor(private readonly opts: ApiServerOptions) {
    this.tokens = opts.tokens ?? [];
    this.goneMode = opts.goneMode ?? 'http';
    this.bookmarkMs = opts.bookmarkMs ?? 0;
    this.historySize = opts.historySize ?? 1000;
  }

  static async start(opts: ApiServerOptions): Promise<TestApiServer> {
    const s = new TestApiServer(opts);
    s.server = createServer({ key: opts.pki.serverKey, cert: opts.pki.serverCert, ca: opts.pki.caCert, requestCert: true, rejectUnauthorized: false }, (req, res) =>
      s.handle(req, res),
    );
    await new Promise<void>((resolve) => s.server.listen(0, opts.host ?? '127.0.0.1', resolve));
    s.port = (s.server.address() as { port: number }).port;
    return s;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Writes a kubeconfig for this server; auth by token file, inline token, or client certificate. */
  writeKubeconfig(file: string, auth: { token?: string; tokenFile?: string; clientCert?: boolean; inlineData?: boolean }): string {
    const p = this.opts.pki;
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const cluster = auth.inlineData ? `    certificate-authority-data: ${b64(p.caCert)}` : `    certificate-authority: ${p.files.ca}`;
    const user: string[] = [];
    if (auth.token) user.push(`    token: ${auth.token}`);
    if (auth.tokenFile) user.push(`    tokenFile: ${auth.tokenFile}`);
    if (auth.clientCert && auth.inlineData) user.push(`    client-certificate-data: ${b64(p.clientCert)}`, `    client-key-data: ${b64(p.clientKey)}`);
    else if (auth.clientCert) user.push(`    client-certificate: ${p.files.clientCert}`, `    client-key: ${p.files.clientKey}`);
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: test',
        'clusters:',
        '- name: test',
        '  cluster:',
        `    server: ${this.url}`,
        cluster,
        'users:',
        '- name: test',
        '  user:',
        ...(user.length ? user : ['    {}']),
        'contexts:',
        '- name: test',
        '  context: {cluster: test, user: test, namespace: default}',
        '',
      ].join('\n'),
    );
    return file;
  }

  kubeconfigIn(dir: string, auth: Parameters<TestApiServer['writeKubeconfig']>[1]): string {
    return this.writeKubeconfig(join(dir, `kubeconfig-${randomUUID().slice(0, 8)}`), auth);
  }

  // ---- state changes (what controllers and kubelets would do)

  private key(o: Obj): string {
    return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
  }

  private record(resource: Resource, type: EventType, object: Obj, old?: Obj): void {
    const e: HistoryEntry = { rv: this.rv, resource, type, object, old };
    this.history.push(e);
    while (this.history.length > this.historySize) this.compactedRV = this.history.shift()!.rv;
    for (const w of this.watchers) if (w.resource === resource) this.send(w, e);
  }

  private stamp(resource: Resource, o: Obj): Obj {
    const c = structuredClone(o);
    c.kind = KIND[resource];
    c.apiVersion = 'v1';
    c.metadata.resourceVersion = String(++this.rv);
    return c;
  }

  create(resource: Resource, o: Obj): Obj {
    if (resource === 'namespaces') o = { ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name } } };
    const k = this.key(o);
    if (this.objects[resource].has(k)) throw new Error(`${resource} ${k} already exists`);
    const c = this.stamp(resource, o);
    c.metadata.uid ??= randomUUID();
    (c.metadata as Record<string, unknown>).creationTimestamp ??= new Date().toISOString();
    this.objects[resource].set(k, c);
    this.record(resource, 'ADDED', c);
    return c;
  }

  /** Replaces the object (same name; its UID is kept unless `o` sets another). */
  update(resource: Resource, o: Obj): Obj {
    if (resource === 'namespaces') o = { ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name } } };
    const k = this.key(o);
    const old = this.objects[resource].get(k);
    if (!old) throw new Error(`${resource} ${k} not found`);
    const c = this.stamp(resource, o);
    c.metadata.uid ??= old.metadata.uid;
    (c.metadata as Record<string, unknown>).creationTimestamp ??= old.metadata.creationTimestamp;
    this.objects[resource].set(k, c);
    this.record(resource, 'MODIFIED', c, old);
    return c;
  }

  /** Edits the stored object in place through `f` and records a MODIFIED. */
  patch(resource: Resource, key: string, f: (o: Obj) => void): Obj {
    const old = this.objects[resource].get(key);
    if (!old) throw new Error(`${resource} ${key} not found`);
    const c = structuredClone(old);
    f(c);
    return this.update(resource, c);
  }

  delete(resource: Resource, key: string): Obj {
    const old = this.objects[resource].get(key);
    if (!old) throw new Error(`${resource} ${key} not found`);
    this.objects[resource].delete(key);
    const c = this.stamp(resource, old);
    this.record(resource, 'DELETED', c);
    return c;
  }

  get(resource: Resource, key: string): Obj | undefined {
    return this.objects[resource].get(key);
  }

  /** Forgets the whole history: every watch from an older resourceVersion now gets 410. */
  compact(): void {
    this.history = [];
    this.compactedRV = this.rv;
  }

  /** Ends every open watch as the server's own timeout would (a clean end of the stream). */
  closeWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.endWatch(w);
    return n;
  }

  /** Sends an in-stream 410 ERROR on every open watch and ends it. */
  expireWatches(): void {
    for (const w of [...this.watchers]) {
      this.write(w.res, { type: 'ERROR', object: this.goneStatus(0) });
      this.endWatch(w);
    }
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  async close(): Promise<void> {
    for (const w of [...this.watchers]) this.endWatch(w);
    for (const r of this.stalled) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- HTTP

  private goneStatus(rv: number): object {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${rv} (${this.compactedRV})`, reason: 'Expired', code: 410 };
  }

  private status(res: ServerResponse, code: number, message: string, reason: string, headers: Record<string, string> = {}): void {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }

  private json(res: ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private authorized(req: IncomingMessage): boolean {
    const sock = req.socket as TLSSocket;
    if (sock.authorized) return true;
    const h = req.headers.authorization;
    return !!h && h.startsWith('Bearer ') && this.tokens.includes(h.slice(7));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://x');
    const query = Object.fromEntries(url.searchParams);
    const rec: RequestRecord = { path: url.pathname, query, status: 200, at: Date.now() };
    this.requests.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));
    if (req.method !== 'GET') return this.status(res, 405, 'this test server is read-only over HTTP', 'MethodNotAllowed');
    if (!this.authorized(req)) return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    const p = url.pathname.replace(/\/+$/, '');
    if (p === '/version') return this.json(res, { major: '1', minor: '32', gitVersion: 'v1.32.0-dnswall-test', platform: 'linux/amd64' });
    if (p === '/api')
      return this.json(res, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }] });
    if (p === '/apis') return this.json(res, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (p === '/api/v1') {
      const verbs = ['get', 'list', 'watch'];
      return this.json(res, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs, shortNames: ['po'] },
          { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs, shortNames: ['ns'] },
          { name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs, shortNames: ['no'] },
        ],
      });
    }
    let m = p.match(/^\/api\/v1\/(pods|namespaces|nodes)$/);
    let resource: Resource | undefined;
    let namespace: string | undefined;
    let name: string | undefined;
    if (m) resource = m[1] as Resource;
    else if ((m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/))) [resource, namespace, name] = ['pods', m[1], m[2]];
    else if ((m = p.match(/^\/api\/v1\/(namespaces|nodes)\/([^/]+)$/))) [resource, name] = [m[1] as Resource, m[2]];
    if (!resource) return this.status(res, 404, `the server could not find the requested resource ${p}`, 'NotFound');
    if (name) {
      const o = this.objects[resource].get(namespace ? `${namespace}/${name}` : name);
      return o ? this.json(res, o) : this.status(res, 404, `${resource} "${name}" not found`, 'NotFound');
    }
    let match: (o: Obj) => boolean;
    try {
      const ls = query.labelSelector ? parseLabelSelector(query.labelSelector) : () => true;
      const fs = query.fieldSelector ? parseFieldSelector(query.fieldSelector) : () => true;
      match = (o) => (!namespace || o.metadata.namespace === namespace) && ls(o) && fs(o);
    } catch (e) {
      return this.status(res, 400, (e as Error).message, 'BadRequest');
    }
    const watching = query.watch === 'true' || query.watch === '1';
    const fault = this.takeFault(watching ? 'watch' : 'list');
    if (fault) {
      if (fault.kind === 'status') {
        const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
        return this.status(res, fault.code, `injected ${fault.code}`, fault.code === 429 ? 'TooManyRequests' : 'InternalError', headers);
      }
      if (fault.kind === 'reset') return void req.socket.destroy();
      // stall: the headers go out (a watch looks open), then nothing, ever
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      this.stalled.add(res);
      res.on('close', () => this.stalled.delete(res));
      return;
    }
    if (watching) return this.watch(res, resource, match, query);
    return this.list(res, resource, match, query);
  }

  private takeFault(on: 'list' | 'watch'): Fault | undefined {
    const i = this.faults.findIndex((f) => f.on === on);
    return i === -1 ? undefined : this.faults.splice(i, 1)[0];
  }

  private list(res: ServerResponse, resource: Resource, match: (o: Obj) => boolean, q: Record<string, string>): void {
    let items: Obj[];
    let rv = this.rv;
    if (q.continue) {
      const snap = this.snapshots.get(q.continue);
      if (!snap) return this.status(res, 410, 'The provided continue parameter is too old', 'Expired');
      this.snapshots.delete(q.continue);
      ({ items, rv } = snap);
    } else {
      items = [...this.objects[resource].values()].filter(match).sort((a, b) => this.key(a).localeCompare(this.key(b)));
    }
    const limit = Number(q.limit) || 0;
    let cont: string | undefined;
    if (limit > 0 && items.length > limit) {
      cont = randomUUID();
      this.snapshots.set(cont, { items: items.slice(limit), rv });
      items = items.slice(0, limit);
    }
    this.json(res, { kind: `${KIND[resource]}List`, apiVersion: 'v1', metadata: { resourceVersion: String(rv), ...(cont ? { continue: cont } : {}) }, items });
  }

  private write(res: ServerResponse, ev: object): void {
    if (!res.writableEnded) res.write(JSON.stringify(ev) + '\n');
  }

  private send(w: Watcher, e: HistoryEntry): void {
    const now = w.match(e.object);
    const before = e.old ? w.match(e.old) : now;
    let type: string | undefined;
    if (e.type === 'MODIFIED') type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
    else type = now ? e.type : undefined;
    if (type) this.write(w.res, { type, object: e.object });
  }

  private endWatch(w: Watcher): void {
    for (const t of w.timers) clearTimeout(t);
    this.watchers.delete(w);
    if (!w.res.writableEnded) w.res.end();
  }

  private watch(res: ServerResponse, resource: Resource, match: (o: Obj) => boolean, q: Record<string, string>): void {
    const from = q.resourceVersion ? Number(q.resourceVersion) : 0;
    if (q.resourceVersion && !/^\d+$/.test(q.resourceVersion)) return this.status(res, 400, `invalid resource version "${q.resourceVersion}"`, 'BadRequest');
    if (from !== 0 && from < this.compactedRV) {
      if (this.goneMode === 'http') return this.status(res, 410, `too old resource version: ${from} (${this.compactedRV})`, 'Expired');
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      this.write(res, { type: 'ERROR', object: this.goneStatus(from) });
      return void res.end();
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { resource, match, res, timers: [] };
    if (from === 0) {
      // "any" version: the current state as ADDED, then live
      for (const o of this.objects[resource].values()) if (match(o)) this.write(res, { type: 'ADDED', object: o });
    } else {
      for (const e of this.history) if (e.rv > from && e.resource === resource) this.send(w, e);
    }
    this.watchers.add(w);
    res.on('close', () => this.endWatch(w));
    const timeout = Number(q.timeoutSeconds);
    if (timeout > 0) w.timers.push(setTimeout(() => this.endWatch(w), timeout * 1000));
    if (this.bookmarkMs > 0 && (q.allowWatchBookmarks === 'true' || q.allowWatchBookmarks === '1')) {
      const tick = () => {
        this.write(res, { type: 'BOOKMARK', object: { kind: KIND[resource], apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } });
        w.timers.push(setTimeout(tick, this.bookmarkMs));
      };
      w.timers.push(setTimeout(tick, this.bookmarkMs));
    }
  }
}
