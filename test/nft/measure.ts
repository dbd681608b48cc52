// Throughput of SetProgrammer with coalescing: N elements as N concurrent single-element
// add() calls (the DNS path's shape), in waves of W calls per tick. Not a test.
//   ip netns add m && ip netns exec m node dist/test/nft/measure.js [N] [W]; ip netns delete m
import { performance } from 'perf_hooks';
import { openProgrammer } from './fixtures';
import { listElements } from '../../lib/nft/list';

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;
}

(async () => {
  const n = Number(process.argv[2] ?? 100_000);
  const wave = Number(process.argv[3] ?? 2000);
  const acks: number[] = [];
  const p = await openProgrammer({ onBatch: (b) => acks.push(b.durationMs) });
  const perCall: number[] = [];
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i += wave) {
    for (let j = i; j < Math.min(n, i + wave); j++) {
      const s = performance.now();
      all.push(
        p
          .add([
            {
              set: j % 2 ? 'allow4' : 'allow4p',
              source: Buffer.from([10, 244, (j >> 16) & 255, 5]),
              destination: Buffer.from([198, 18 + ((j >> 16) & 1), (j >> 8) & 255, j & 255]),
              ...(j % 2 ? {} : { proto: 6, port: 443 }),
              timeoutMs: 300_000,
              comment: `host${j}.example.com`,
            },
          ])
          .then(() => {
            perCall.push(performance.now() - s);
          }),
      );
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(all);
  const secs = (performance.now() - t0) / 1000;
  acks.sort((a, b) => a - b);
  perCall.sort((a, b) => a - b);
  console.log(`elements: ${n} in ${secs.toFixed(2)} s = ${Math.round(n / secs)} elements/s (waves of ${wave} add() calls per tick)`);
  console.log(`batches: ${p.stats.batches}, NEWSETELEM messages: ${p.stats.messages}, failed: ${p.stats.failedBatches}, SO_RCVBUF ${p.recvBufferSize}`);
  console.log(`batch ack latency ms: p50 ${pct(acks, 0.5).toFixed(2)} p99 ${pct(acks, 0.99).toFixed(2)} max ${acks[acks.length - 1].toFixed(2)}`);
  console.log(`add() call latency ms: p50 ${pct(perCall, 0.5).toFixed(2)} p99 ${pct(perCall, 0.99).toFixed(2)}`);
  const l0 = performance.now();
  const listed = await listElements('dnswall');
  console.log(`listElements: ${listed.length} elements in ${((performance.now() - l0) / 1000).toFixed(2)} s`);
  // Refresh pass: every element again (the kernel update path).
  const r0 = performance.now();
  const again: Promise<void>[] = [];
  for (let j = 0; j < n; j++) {
    again.push(
      p.add([
        {
          set: j % 2 ? 'allow4' : 'allow4p',
          source: Buffer.from([10, 244, (j >> 16) & 255, 5]),
          destination: Buffer.from([198, 18 + ((j >> 16) & 1), (j >> 8) & 255, j & 255]),
          ...(j % 2 ? {} : { proto: 6, port: 443 }),
          timeoutMs: 300_000,
          comment: `host${j}.example.com`,
        },
      ]),
    );
    if (j % wave === wave - 1) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(again);
  console.log(`refresh of all ${n}: ${Math.round(n / ((performance.now() - r0) / 1000))} elements/s`);
  await p.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
