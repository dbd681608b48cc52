// The flooder of bench/flood.ts and test/system/fairness.test.ts, run inside a pod namespace: hostile DNS over UDP (mutated,
// truncated, random, QR=1 and oversized datagrams, in rotation from a seeded pool) and garbage
// TCP connections, bounded in count and in time. Prints one JSON line with what it sent.
//
//   node dist/lib/sandbox/flood-main.js --server 192.0.2.1 --port 53 --packets 500000 --seconds 15 --seed 1 [--tcp 200]
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as dnsPacket from 'dns-packet';

export const KINDS = ['mutated', 'truncated', 'random', 'response', 'oversized'] as const;
export type Kind = (typeof KINDS)[number];

/** A seeded generator (LCG): the same seed, the same flood. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 1) / 0x80000000;
  };
}

function goodQuery(rnd: () => number): Buffer {
  const name = `q${Math.floor(rnd() * 1e6)}.flood.example.bench`;
  return dnsPacket.encode({
    type: 'query',
    id: Math.floor(rnd() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name }],
    additionals: rnd() < 0.5 ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer] : [],
  });
}

/** One packet of a kind; sizes and bytes from rnd only. */
export function packet(kind: Kind, rnd: () => number): Buffer {
  const q = goodQuery(rnd);
  switch (kind) {
    case 'mutated': {
      const n = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) q[Math.floor(rnd() * q.length)] = Math.floor(rnd() * 256);
      return q;
    }
    case 'truncated':
      return q.subarray(0, Math.floor(rnd() * q.length));
    case 'random': {
      const b = Buffer.alloc(Math.floor(rnd() * 512));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
      return b;
    }
    case 'response':
      q[2] |= 0x80;
      return q;
    case 'oversized': {
      // a header claiming thousands of records, then junk: 1.5–8 KiB (IP fragments on a 1500 MTU)
      const b = Buffer.alloc(1500 + Math.floor(rnd() * 6700));
      q.copy(b);
      b.writeUInt16BE(1 + Math.floor(rnd() * 65535), 10);
      for (let i = q.length; i < b.length; i += 7) b[i] = Math.floor(rnd() * 256);
      return b;
    }
  }
}

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (def === undefined) throw new Error(`flood-main: --${name} is required`);
  return def;
}

const POOL = 1024; // per kind: generation stays out of the send loop

async function udpFlood(server: string, port: number, packets: number, deadline: number, rnd: () => number): Promise<Record<string, number>> {
  const pool = KINDS.flatMap((k) => Array.from({ length: POOL }, () => ({ k, b: packet(k, rnd) })));
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const sock = dgram.createSocket({ type: server.includes(':') ? 'udp6' : 'udp4', sendBufferSize: 4 << 20 });
  sock.on('error', () => undefined);
  sock.on('message', () => undefined); // FORMERRs back: read and ignore
  await new Promise<void>((r) => sock.connect(port, server, () => r()));
  const sent: Record<string, number> = Object.fromEntries(KINDS.map((k) => [k, 0]));
  let i = 0;
  let errors = 0;
  while (i < packets && performance.now() < deadline) {
    // bounded queue: at most 256 sends waiting in libuv, then let the loop drain
    const burst = Math.min(packets - i, 256);
    for (let j = 0; j < burst; j++, i++) {
      const p = pool[i % pool.length];
      sent[p.k]++;
      sock.send(p.b, (err) => {
        if (err) errors++;
      });
    }
    while (sock.getSendQueueCount() > 64) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 50));
  sock.close();
  return { ...sent, total: i, sendErrors: errors };
}

/** Garbage TCP: random bytes, frames too short, a huge length then a stall, a slow trickle. */
async function tcpGarbage(server: string, port: number, conns: number, deadline: number, rnd: () => number): Promise<Record<string, number>> {
  const out = { opened: 0, refused: 0, reset: 0 };
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: server, port });
      const stop = setTimeout(() => s.destroy(), Math.max(0, Math.min(3000, deadline - performance.now())));
      s.on('connect', () => {
        out.opened++;
        const junk = Buffer.alloc(16 + Math.floor(rnd() * 2000));
        for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rnd() * 256);
        switch (i % 4) {
          case 0:
            s.write(junk);
            break; // random bytes
          case 1:
            s.write(Buffer.from([0, 5, 1, 2, 3, 4, 5]));
            break; // frame shorter than a header
          case 2:
            s.write(Buffer.concat([Buffer.from([0xff, 0xff]), junk]));
            break; // 64 KiB promised, then a stall
          case 3:
            s.write(junk.subarray(0, 1));
            break; // one byte, then nothing
        }
      });
      s.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED') out.refused++;
        else out.reset++;
      });
      s.on('close', () => {
        clearTimeout(stop);
        resolve();
      });
    });
  const batch: Promise<void>[] = [];
  for (let i = 0; i < conns && performance.now() < deadline; i++) {
    batch.push(one(i));
    if (batch.length >= 50) {
      await Promise.all(batch);
      batch.length = 0;
    }
  }
  await Promise.all(batch);
  return out;
}

async function main(): Promise<void> {
  const server = arg('server');
  const port = Number(arg('port', '53'));
  const packets = Number(arg('packets'));
  const seconds = Number(arg('seconds'));
  const seed = Number(arg('seed', '1'));
  const tcp = Number(arg('tcp', '0'));
  if (!(packets > 0 && packets <= 10_000_000 && seconds > 0 && seconds <= 120)) throw new Error('flood-main: --packets 1..10M and --seconds 1..120');
  const rnd = prng(seed);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const [udp, garbage] = await Promise.all([
    udpFlood(server, port, packets, deadline, rnd),
    tcp > 0 ? tcpGarbage(server, port, tcp, deadline, prng(seed ^ 0x5bd1e995)) : Promise.resolve(undefined),
  ]);
  process.stdout.write(JSON.stringify({ seed, seconds: (performance.now() - t0) / 1000, udp, tcp: garbage }) + '\n');
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
