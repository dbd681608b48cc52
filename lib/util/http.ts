// One way to start the daemon's small HTTP endpoints (metrics, health): listen, or reject with
// the bind error (EADDRINUSE, EACCES) so the caller can name the configuration key.
import type http from 'node:http';
import type { Endpoint } from '../config/types';

/** Resolves with `server` once it listens on `ep`. */
export async function listenHttp(server: http.Server, ep: Endpoint): Promise<http.Server> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ep.port, ep.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
