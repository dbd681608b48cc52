// The test API server (test/kube/apiserver.ts) as a child process in the sandbox's node
// namespace, driven over its stdin (apiserver-main.ts), and a kubeconfig for the daemon.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import type { TestPki } from '../kube/pki';
import type { Topology } from '../../lib/sandbox/topology';
import { ChildLines } from '../../lib/sandbox/child';

export class Api {
  private lines: ChildLines;
  private queue: ((l: string) => void)[] = [];
  constructor(readonly proc: ChildProcess) {
    this.lines = new ChildLines(proc, 'test API server');
    this.lines.on('line', (l: string) => this.queue.shift()?.(l));
  }
  static async start(topo: Pick<Topology, 'spawn' | 'ns'>, pki: TestPki): Promise<{ api: Api; port: number }> {
    const proc = topo.spawn(topo.ns.node, [process.execPath, join(__dirname, '..', 'kube', 'apiserver-main.js'), pki.dir]);
    const api = new Api(proc);
    const first = await new Promise<string>((r) => api.queue.push(r));
    return { api, port: (JSON.parse(first) as { port: number }).port };
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- replies are JSON of many shapes, read by each test
  async do(cmd: Record<string, unknown>): Promise<any> {
    const reply = new Promise<string>((r) => this.queue.push(r));
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    const o = JSON.parse(await reply) as { ok: boolean; out: unknown; error?: string };
    if (!o.ok) throw new Error(`API server: ${o.error}`);
    return o.out;
  }
}

/** A kubeconfig (client certificate, test CA) for the API server on 127.0.0.1:port; returns its path. */
export function writeKubeconfig(pki: TestPki, port: number): string {
  const kc = join(pki.dir, 'kubeconfig');
  writeFileSync(
    kc,
    `apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters: [{name: t, cluster: {server: "https://127.0.0.1:${port}", certificate-authority: ${pki.files.ca}}}]\nusers: [{name: t, user: {client-certificate: ${pki.files.clientCert}, client-key: ${pki.files.clientKey}}}]\ncontexts: [{name: t, context: {cluster: t, user: t}}]\n`,
  );
  return kc;
}
