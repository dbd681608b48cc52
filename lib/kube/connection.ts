// Where the API server is and how to authenticate to it: in-cluster (service account) or a
// kubeconfig file. The token is read from its file on every request, because bound service
// account tokens rotate (kubelet rewrites the file about hourly) and a cached token expires.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';

/** The service account mount of every pod (kubelet projects token, ca.crt and namespace here). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

export interface KubeConnection {
  /** https://host:port, without a trailing slash. */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTLSVerify: boolean;
  /** The TLS SNI / certificate name to expect instead of the server's host. */
  tlsServerName?: string;
  /** The bearer token for the next request (re-read from its file each time), or undefined. */
  token(): string | undefined;
  /** For logs: where this came from, never a secret. */
  describe: string;
}

function readOrThrow(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new KubeConfigError(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** A token file re-read on every call; an unreadable file keeps the last good token (kubelet swaps it atomically). */
function tokenFile(path: string, what: string): () => string | undefined {
  let last = readOrThrow(path, what).toString('utf8').trim();
  return () => {
    try {
      last = readFileSync(path, 'utf8').trim();
    } catch {
      /* keep the last token; the request's 401 will say so if it is gone for good */
    }
    return last;
  };
}

/** The in-cluster connection: $KUBERNETES_SERVICE_HOST/PORT, the service account token and CA. */
export function inCluster(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeConfigError('not running in a cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set; set kubernetes.kubeconfig');
  }
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${h}:${port}`,
    ca: readOrThrow(`${dir}/ca.crt`, 'service account CA'),
    insecureSkipTLSVerify: false,
    token: tokenFile(`${dir}/token`, 'service account token'),
    describe: `in-cluster https://${h}:${port}`,
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Fields of a kubeconfig we do not implement: named in the error instead of being ignored. */
const UNSUPPORTED_USER = ['exec', 'auth-provider', 'username', 'password', 'as', 'as-groups', 'as-uid', 'as-user-extra'];
const UNSUPPORTED_CLUSTER = ['proxy-url'];

function named(list: unknown, kind: string, name: string, file: string): Obj {
  if (!Array.isArray(list)) throw new KubeConfigError(`${file}: "${kind}s" is missing or not a list`);
  const e = list.find((x) => isObj(x) && x.name === name) as Obj | undefined;
  if (!e || !isObj(e[kind])) throw new KubeConfigError(`${file}: no ${kind} named "${name}"`);
  return e[kind];
}

function str(o: Obj, k: string, where: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') throw new KubeConfigError(`${where}: "${k}" must be a non-empty string`);
  return v;
}

/** data (base64) or a file path relative to the kubeconfig's folder. */
function material(o: Obj, key: string, where: string, base: string): Buffer | undefined {
  const data = str(o, `${key}-data`, where);
  if (data !== undefined) return Buffer.from(data, 'base64');
  const path = str(o, key, where);
  return path === undefined ? undefined : readOrThrow(isAbsolute(path) ? path : resolve(base, path), `${where}.${key}`);
}

/**
 * A kubeconfig's current context (or `context`): cluster server, certificate-authority(-data),
 * insecure-skip-tls-verify, tls-server-name; user client-certificate(-data) + client-key(-data),
 * token, tokenFile. exec / auth-provider plugins, basic auth, impersonation and proxy-url are
 * not supported and are reported as errors.
 */
export function fromKubeconfig(file: string, context?: string): KubeConnection {
  let doc: unknown;
  try {
    doc = parse(readOrThrow(file, 'kubeconfig').toString('utf8'));
  } catch (e) {
    if (e instanceof KubeConfigError) throw e;
    throw new KubeConfigError(`${file}: not YAML: ${(e as Error).message}`);
  }
  if (!isObj(doc)) throw new KubeConfigError(`${file}: not a kubeconfig (expected a mapping)`);
  const ctxName = context ?? (typeof doc['current-context'] === 'string' ? doc['current-context'] : undefined);
  if (!ctxName) throw new KubeConfigError(`${file}: no current-context`);
  const ctx = named(doc.contexts, 'context', ctxName, file);
  const clusterName = str(ctx, 'cluster', `${file}: context "${ctxName}"`);
  if (!clusterName) throw new KubeConfigError(`${file}: context "${ctxName}" names no cluster`);
  const cluster = named(doc.clusters, 'cluster', clusterName, file);
  const cw = `${file}: cluster "${clusterName}"`;
  for (const k of UNSUPPORTED_CLUSTER) if (cluster[k] !== undefined) throw new KubeConfigError(`${cw}: "${k}" is not supported`);
  const server = str(cluster, 'server', cw);
  if (!server) throw new KubeConfigError(`${cw}: "server" is required`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeConfigError(`${cw}: server "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new KubeConfigError(`${cw}: server "${server}" must be https:// (plain HTTP would send the token in clear)`);
  if (url.pathname !== '/' && url.pathname !== '') throw new KubeConfigError(`${cw}: a server path prefix ("${url.pathname}") is not supported`);
  const base = dirname(resolve(file));
  const skip = cluster['insecure-skip-tls-verify'] === true;
  const conn: KubeConnection = {
    server: `${url.protocol}//${url.host}`,
    ca: material(cluster, 'certificate-authority', cw, base),
    insecureSkipTLSVerify: skip,
    tlsServerName: str(cluster, 'tls-server-name', cw),
    token: () => undefined,
    describe: `kubeconfig ${file} context ${ctxName} ${url.protocol}//${url.host}`,
  };
  const userName = str(ctx, 'user', `${file}: context "${ctxName}"`);
  if (userName) {
    const user = named(doc.users, 'user', userName, file);
    const uw = `${file}: user "${userName}"`;
    for (const k of UNSUPPORTED_USER) if (user[k] !== undefined) throw new KubeConfigError(`${uw}: "${k}" is not supported (use a token, tokenFile or client certificate)`);
    conn.cert = material(user, 'client-certificate', uw, base);
    conn.key = material(user, 'client-key', uw, base);
    if (!conn.cert !== !conn.key) throw new KubeConfigError(`${uw}: client-certificate and client-key go together`);
    const token = str(user, 'token', uw);
    const tf = str(user, 'tokenFile', uw);
    if (token !== undefined) conn.token = () => token;
    else if (tf !== undefined) conn.token = tokenFile(isAbsolute(tf) ? tf : resolve(base, tf), `${uw}.tokenFile`);
  }
  return conn;
}
