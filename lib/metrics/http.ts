// GET /metrics on the `metrics:` endpoint; anything else 404.
import http from 'node:http';
import type { Endpoint } from '../config/types';
import type { MetricsRegistry } from './registry';
import { listenHttp } from '../util/http';

/** Resolves once listening. */
export async function serveMetrics(ep: Endpoint, reg: MetricsRegistry): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    reg.text().then(
      (body) => res.writeHead(200, { 'content-type': reg.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  return listenHttp(server, ep);
}
