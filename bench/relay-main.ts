// The floor of any Node.js forwarder (bench/tail.ts target `node-relay`; not part of npm run
// bench): a bare UDP relay on node:dgram — no parsing, no policy, no kernel programming; query
// IDs remapped so answers find their client. What it loses to dnsmasq on the same machine is
// what the runtime costs before dnswall does anything.
//   node dist/bench/relay-main.js LISTEN_ADDRESS UPSTREAM_ADDRESS   (port 53 both; prints "ready")
import dgram from 'node:dgram';

const [listen, upstream] = process.argv.slice(2);
if (!listen || !upstream) {
  process.stderr.write('usage: relay-main.js LISTEN_ADDRESS UPSTREAM_ADDRESS\n');
  process.exit(2);
}
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
  up.send(m, 53, upstream);
});
up.on('message', (m) => {
  if (m.length < 12) return;
  const p = pending.get(m.readUInt16BE(0));
  if (!p) return;
  pending.delete(m.readUInt16BE(0));
  m.writeUInt16BE(p[0], 0);
  clients.send(m, p[2], p[1]);
});
process.on('SIGTERM', () => process.exit(0)); // a normal exit: --cpu-prof writes its profile
clients.bind(53, listen, () => up.bind(0, () => process.stdout.write('ready\n')));
