// Running the flooder (flood-main.ts) inside a namespace of the sandbox.
import path from 'node:path';
import type { Topology } from './topology';

/** The compiled flooder: node FLOOD_MAIN --server A --packets N --seconds S [--seed K] [--tcp C] */
export const FLOOD_MAIN = path.join(__dirname, 'flood-main.js');

export interface FloodResult {
  seed: number;
  seconds: number;
  udp: Record<string, number> & { total: number; sendErrors: number };
  tcp?: { opened: number; refused: number; reset: number };
}

/** One bounded flood from ns at server:port; resolves with what was sent. */
export async function flood(
  topo: Pick<Topology, 'exec'>,
  ns: string,
  o: { server: string; port?: number; packets: number; seconds: number; seed?: number; tcp?: number },
): Promise<FloodResult> {
  const r = await topo.exec(
    ns,
    [
      process.execPath,
      FLOOD_MAIN,
      '--server',
      o.server,
      '--port',
      String(o.port ?? 53),
      '--packets',
      String(o.packets),
      '--seconds',
      String(o.seconds),
      '--seed',
      String(o.seed ?? 1),
      '--tcp',
      String(o.tcp ?? 0),
    ],
    { timeoutMs: (o.seconds + 30) * 1000 },
  );
  if (r.code !== 0) throw new Error(`flood-main exited ${r.code}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as FloodResult;
}
