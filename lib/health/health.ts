// `health: HOST:PORT`: GET /healthz answers 200 when the event loop answers at all (a wedged
// daemon does not answer: the probe times out); GET /readyz runs the readiness checks (ruleset
// installed, kernel programming works, an upstream answered recently) and answers 200 or 503
// with one line per check, as Kubernetes' own /readyz does ("[+]name ok", "[-]name failed: …").
import http from 'node:http';
import type { Endpoint } from '../config/types';
import { listenHttp } from '../util/http';

export interface ReadyCheck {
  name: string;
  /** null = ready; otherwise why not. Should answer within a second or two. */
  check(): Promise<string | null>;
}

/** A check that does not answer within this long fails (a stuck netlink request or upstream). */
export const CHECK_TIMEOUT_MS = 3000;

export async function runChecks(checks: readonly ReadyCheck[]): Promise<{ ready: boolean; lines: string[] }> {
  const results = await Promise.all(
    checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const why = await Promise.race([
          c.check(),
          new Promise<string>((r) => {
            timer = setTimeout(() => r(`no answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
          }),
        ]);
        return { name: c.name, why };
      } catch (err) {
        return { name: c.name, why: (err as Error).message };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return {
    ready: results.every((r) => r.why === null),
    lines: results.map((r) => (r.why === null ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.why}`)),
  };
}

export async function serveHealth(ep: Endpoint, checks: () => readonly ReadyCheck[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (path !== '/readyz') return void res.writeHead(404).end('not found\n');
    runChecks(checks()).then(
      ({ ready, lines }) => {
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${lines.join('\n')}\n${ready ? 'ready' : 'not ready'}\n`);
      },
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  return listenHttp(server, ep);
}
