// Shared pieces of the kube tests: a server with a fresh PKI, a reflector wired to it, and a
// condition poll with a deadline (state is checked, never log lines).
import pino from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePki, type TestPki } from './pki';
import { TestApiServer, type ApiServerOptions } from './apiserver';
import { fromKubeconfig } from '../../lib/kube/connection';
import { KubeClient } from '../../lib/kube/client';

export const quiet = pino({ level: process.env.DNSWALL_TEST_LOG ?? 'silent' });

export async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Env {
  pki: TestPki;
  server: TestApiServer;
  dir: string;
  client: KubeClient;
  close(): Promise<void>;
}

export async function startEnv(opts: Partial<ApiServerOptions> = {}): Promise<Env> {
  const pki = makePki();
  const server = await TestApiServer.start({ pki, tokens: ['secret-token'], ...opts });
  const dir = mkdtempSync(join(tmpdir(), `dnswall-kube-${process.pid}-`));
  const client = new KubeClient(fromKubeconfig(server.kubeconfigIn(dir, { token: 'secret-token' })));
  return {
    pki,
    server,
    dir,
    client,
    close: async () => {
      client.close();
      await server.close();
      pki.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function pod(ns: string, name: string, node: string, ip: string | string[], labels: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
  const ips = Array.isArray(ip) ? ip : [ip];
  return {
    metadata: { name, namespace: ns, labels },
    spec: { nodeName: node },
    status: { phase: 'Running', podIP: ips[0], podIPs: ips.map((i) => ({ ip: i })) },
    ...extra,
  };
}

/** The seeded generator of every randomized test (test/prng.ts), here for the watch's jitter. */
export { prng } from '../prng';
