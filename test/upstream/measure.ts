// Throughput of Upstreams against a minimal local responder (not a test): run with
//   node dist/test/upstream/measure.js [seconds-per-level]
// The responder is a child process (its own event loop) that echoes each query with QR set.
// W workers each run exchanges back to back; reported: qps, p50/p99 latency, timeouts.
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { Upstreams } from '../../lib/upstream/upstreams';
import { query } from './helpers';

function responder(): void {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => {
    m.writeUInt16BE(m.readUInt16BE(2) | 0x8000, 2);
    s.send(m, r.port, r.address);
  });
  s.bind(0, '127.0.0.1', () => {
    s.setRecvBufferSize(4 << 20); // capped by net.core.rmem_max
    process.send!({ port: s.address().port });
  });
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 2);
  const child = fork(__filename, ['responder'], { stdio: 'inherit' });
  const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
  const up = new Upstreams({ servers: [{ host: '127.0.0.1', port, family: 4 }], timeoutMs: 1000 });
  await up.start();
  const wire = query('www.example.com', 'A', 7);
  const q = { name: 'www.example.com', qtype: 1, qclass: 1, id: 7 };
  console.log(`node ${process.version}, ${seconds}s per level, udpSockets=8, responder in a child process`);
  for (const workers of [1, 16, 128, 1024]) {
    const lat: number[] = [];
    let failed = 0;
    const end = performance.now() + seconds * 1000;
    const worker = async () => {
      while (performance.now() < end) {
        try {
          lat.push((await up.exchange(wire, q)).ms);
        } catch {
          failed++;
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: workers }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const pct = (p: number) => (lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN).toFixed(3);
    console.log(
      `workers=${String(workers).padStart(4)}  qps=${String(Math.round(lat.length / elapsed)).padStart(6)}` + `  p50=${pct(0.5)} ms  p99=${pct(0.99)} ms  failed=${failed}`,
    );
  }
  console.log('stats', JSON.stringify(up.stats));
  await up.close();
  child.disconnect();
}

if (process.argv[2] === 'responder') responder();
else void main();
