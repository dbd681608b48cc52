// The CLI side of the control socket (server.ts): send one request, read JSON lines back.
import net from 'node:net';

export class NotRunning extends Error {}

/** Calls onItem for each item; resolves at {"end"}, rejects with the daemon's error or NotRunning. */
export function request(socketPath: string, req: Record<string, unknown>, onItem: (v: unknown) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let buf = '';
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      s.destroy();
      if (err) reject(err);
      else resolve();
    };
    s.once('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        finish(new NotRunning(`dnswall is not running (no daemon answers on ${socketPath}; start it with dnswall serve, or pass --control PATH)`));
      else if (err.code === 'EACCES') finish(new Error(`cannot connect to ${socketPath}: permission denied (run as root)`));
      else finish(err);
    });
    s.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m: { item?: unknown; end?: boolean; error?: string };
        try {
          m = JSON.parse(line) as typeof m;
        } catch {
          return finish(new Error(`bad reply from the daemon: ${line.slice(0, 200)}`));
        }
        if (m.error !== undefined) return finish(new Error(m.error));
        if (m.end) return finish();
        if ('item' in m) onItem(m.item);
      }
    });
    s.on('close', () => finish(new Error('the daemon closed the control connection')));
  });
}
