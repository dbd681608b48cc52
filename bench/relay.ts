// The floor of any Node.js forwarder: a bare UDP relay on node:dgram — no parsing, no policy, no
// kernel programming; query IDs remapped so answers find their client. What it loses (or gains)
// against dnsmasq on the same machine is what the runtime costs before dnswall does anything.
// Used by relay-main.ts (bench/tail.ts's `node-relay`) and by `cpu.js --relay`.
import dgram from 'node:dgram';

export interface Relay {
  close(): void;
}

/** Relays queries on listen:port to upstream:upstreamPort; resolves once both sockets are bound. */
export function startRelay(listen: string, port: number, upstream: string, upstreamPort = 53): Promise<Relay> {
  const clients = dgram.createSocket('udp4');
  const up = dgram.createSocket('udp4');
  /** upstream ID → [client ID, client address, client port] */
  const pending = new Map<number, [number, string, number]>();
  let next = 0;
  clients.on('message', (m, r) => {
    if (m.length < 12) return;
    next = (next + 1) & 0xffff;
    pending.set(next, [m.readUInt16BE(0), r.address, r.port]);
    m.writeUInt16BE(next, 0);
    up.send(m, upstreamPort, upstream);
  });
  up.on('message', (m) => {
    if (m.length < 12) return;
    const p = pending.get(m.readUInt16BE(0));
    if (!p) return;
    pending.delete(m.readUInt16BE(0));
    m.writeUInt16BE(p[0], 0);
    clients.send(m, p[2], p[1]);
  });
  return new Promise((resolve) =>
    clients.bind(port, listen, () =>
      up.bind(0, () =>
        resolve({
          close: () => {
            clients.close();
            up.close();
          },
        }),
      ),
    ),
  );
}
