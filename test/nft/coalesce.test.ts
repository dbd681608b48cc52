// Concurrent add() calls share batches.
import { runInNetns, nft } from './netns';
import { openProgrammer } from './fixtures';

runInNetns(__filename, (t) => {
  t.test('1000 concurrent add() calls make a handful of batches, all committed', async (t) => {
    const p = await openProgrammer();
    const calls = [];
    for (let i = 0; i < 1000; i++) {
      calls.push(
        p.add([{ set: 'allow4', source: Buffer.from([10, 244, 1, 5]), destination: Buffer.from([198, 18, i >> 8, i & 255]), timeoutMs: 60_000, comment: `n${i}.example.com` }]),
      );
    }
    await Promise.all(calls);
    t.ok(p.stats.batches <= 4, `${p.stats.batches} batches for 1000 add() calls`);
    t.equal(p.stats.elements, 1000);
    const listed = nft('list', 'set', 'inet', 'dnswall', 'allow4');
    t.equal((listed.match(/comment "n\d+\.example\.com"/g) || []).length, 1000, 'all 1000 elements in the set');
    await p.close();
  });

  t.test('calls made while batches are in flight ride the next batch; maxInFlight bounds acks awaited', async (t) => {
    const p = await openProgrammer({ maxInFlight: 1 });
    let maxSeen = 0;
    const calls = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 500; i++) {
        const n = round * 500 + i;
        calls.push(
          p.add([
            {
              set: 'allow4p',
              source: Buffer.from([10, 244, 1, 9]),
              destination: Buffer.from([198, 19, n >> 8, n & 255]),
              proto: 6,
              port: 443,
              timeoutMs: 60_000,
              comment: 'x.example.com',
            },
          ]),
        );
      }
      maxSeen = Math.max(maxSeen, (p as unknown as { inFlight: number }).inFlight);
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(calls);
    t.equal(maxSeen <= 1, true, 'never more than maxInFlight batches awaiting acks');
    t.ok(p.stats.batches < 40, `${p.stats.batches} batches for 10000 elements in 20 rounds`);
    t.ok(p.stats.messages >= 10, 'elements split at 1000 per NEWSETELEM');
    const listed = nft('list', 'set', 'inet', 'dnswall', 'allow4p');
    t.equal((listed.match(/\. tcp \. 443/g) || []).length, 10000);
    await p.close();
  });
});
