// The control socket: a unix stream socket the CLI asks the running daemon through. A small
// generic protocol — one JSON request line {"op": NAME, ...}, then JSON lines back: any number
// of {"item": …}, and {"end": true} or {"error": "…"} — so a new command (`forget`, …) is one
// more handler. Only root (mode 0600) may connect.
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

export interface Reply {
  item(v: unknown): void;
  end(): void;
  error(message: string): void;
  /** called when the client goes away (for streaming handlers) */
  onClose(fn: () => void): void;
}

export type Handler = (req: Record<string, unknown>, reply: Reply) => void;

const MAX_REQUEST = 64 * 1024;

export class ControlServer {
  private server: net.Server | null = null;
  private readonly handlers = new Map<string, Handler>();
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly log?: Logger,
  ) {}

  handle(op: string, h: Handler): void {
    this.handlers.set(op, h);
  }

  /** Listens; a live socket at the path (another daemon) is left alone and reported. */
  async listen(): Promise<void> {
    fs.mkdirSync(path.dirname(this.socketPath), { recursive: true, mode: 0o755 });
    if (fs.existsSync(this.socketPath)) {
      if (await isLive(this.socketPath)) throw new Error(`control socket ${this.socketPath} is in use by another process (another dnswall?)`);
      fs.unlinkSync(this.socketPath); // stale, from a daemon that did not stop cleanly
    }
    const server = net.createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(this.socketPath, 0o600);
    server.unref();
    this.server = server;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    if (this.server) {
      this.server.close();
      try {
        fs.unlinkSync(this.socketPath);
      } catch {
        /* gone */
      }
    }
    this.server = null;
  }

  private accept(s: net.Socket): void {
    this.sockets.add(s);
    s.unref();
    const closers: (() => void)[] = [];
    s.on('close', () => {
      this.sockets.delete(s);
      for (const c of closers) c();
    });
    s.on('error', () => s.destroy());
    const write = (o: unknown) => {
      if (!s.destroyed) s.write(JSON.stringify(o) + '\n');
    };
    const reply: Reply = {
      item: (v) => write({ item: v }),
      end: () => {
        write({ end: true });
        s.end();
      },
      error: (message) => {
        write({ error: message });
        s.end();
      },
      onClose: (fn) => closers.push(fn),
    };
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      if (buf.length > MAX_REQUEST) return reply.error('request too long');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      s.off('data', onData);
      let req: Record<string, unknown>;
      try {
        req = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      } catch {
        return reply.error('request is not JSON');
      }
      const h = typeof req.op === 'string' ? this.handlers.get(req.op) : undefined;
      if (!h) return reply.error(`unknown op ${JSON.stringify(req.op)}; known: ${[...this.handlers.keys()].join(', ')}`);
      try {
        h(req, reply);
      } catch (err) {
        this.log?.error({ err: (err as Error).message, op: req.op }, 'control request failed');
        reply.error((err as Error).message);
      }
    };
    s.on('data', onData);
  }
}

function isLive(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
