// SetProgrammer against the fake kernel (helpers/fake-kernel.ts): no root. What it sends, when
// add() resolves, the caps' deletions in the same batch, failures, refreshes that only extend,
// adoption, and the cgroup sets. The real kernel's side of each is in the other test/nft files.
import t from 'tap';
import { FakeKernel } from './helpers/fake-kernel';
import { SetProgrammer, type Element, type SetProgrammerOptions } from '../../lib/nft/programmer';
import { encodeKey } from '../../lib/nft/keys';
import { cgroupIdBytes } from '../../lib/nft/owner';
import { NftError } from '../../lib/nft/errors';

const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
const el = (dst: string, over: Partial<Element> = {}): Element => ({
  set: 'allow4',
  source: ip4('10.244.1.5'),
  destination: ip4(dst),
  timeoutMs: 60_000,
  comment: 'api.example.com',
  ...over,
});
const tick = () => new Promise((r) => setImmediate(r));

async function open(k: FakeKernel, opts: Partial<SetProgrammerOptions> = {}): Promise<SetProgrammer> {
  const p = new SetProgrammer({ table: 'dnswall', transport: k.transport, ...opts });
  await p.open();
  t.teardown(() => p.close());
  return p;
}

t.test('open() checks the table and every allow set, cgroup sets included', async (t) => {
  const k = new FakeKernel();
  k.missing.add('cgroup4p');
  const err = await new SetProgrammer({ table: 'dnswall', transport: k.transport }).open().catch((e) => e);
  t.equal(err.message, 'set cgroup4p of table inet dnswall not found — is the ruleset installed?');
  k.missing.clear();
  k.missing.add('table');
  t.match(await new SetProgrammer({ table: 'dnswall', transport: k.transport }).open().catch((e) => e), {
    code: 'ENOENT',
    message: 'table inet dnswall not found — is the ruleset installed?',
  });
  t.equal(k.opened, k.closed, 'a failed open() closes what it opened');
});

t.test('add() resolves only once its batch is acked, and the kernel holds what was sent', async (t) => {
  const k = new FakeKernel();
  const p = await open(k);
  k.hold = true;
  let done = false;
  const pending = p.add([el('198.51.100.7')]).then(() => {
    done = true;
  });
  await tick();
  await tick();
  t.equal(k.held.length, 1, 'one batch in flight');
  t.notOk(done, 'not resolved before the ack');
  k.ack();
  await pending;
  t.ok(done);
  const [got] = k.elements('allow4');
  t.same(got.key, encodeKey(el('198.51.100.7')));
  t.equal(got.timeoutMs, 60_000);
  t.equal(got.comment, 'api.example.com');
});

t.test('concurrent add()s share batches; at most maxInFlight batches await acks', async (t) => {
  const k = new FakeKernel();
  const p = await open(k, { maxInFlight: 2 });
  k.hold = true;
  const all: Promise<void>[] = [];
  for (let i = 0; i < 5; i++) {
    all.push(p.add([el(`198.51.100.${i + 1}`)]));
    await tick();
    await tick();
  }
  t.equal(k.held.length, 2, 'two in flight, the rest queued');
  while (k.held.length) {
    k.ack();
    await tick();
    await tick();
  }
  await Promise.all(all);
  t.equal(k.elements('allow4').length, 5);
  t.ok(k.batches.length < 5, `${k.batches.length} batches for 5 add()s`);
});

t.test('a failed batch rejects every add() in it; the next add works', async (t) => {
  const k = new FakeKernel();
  const p = await open(k);
  k.failNext.push(new NftError('ENFILE', 'set full'));
  const [a, b] = await Promise.allSettled([p.add([el('198.51.100.1')]), p.add([el('198.51.100.2')])]);
  t.match(a, { status: 'rejected', reason: { code: 'ENFILE' } });
  t.match(b, { status: 'rejected', reason: { code: 'ENFILE' } });
  t.equal(p.stats.failedBatches, 1);
  await p.add([el('198.51.100.3')]);
  t.equal(k.elements('allow4').length, 1);
});

t.test('a refresh never shortens: TIMEOUT = max, EXPIRATION = max(new, left)', async (t) => {
  const k = new FakeKernel();
  const p = await open(k);
  await p.add([el('198.51.100.7', { timeoutMs: 600_000 })]);
  await p.add([el('198.51.100.7', { timeoutMs: 5_000 })]);
  const [got] = k.elements('allow4');
  t.equal(got.timeoutMs, 600_000);
  t.ok(got.expirationMs! > 590_000, `expiration ${got.expirationMs}`);
});

t.test('caps: the evicted element is deleted first, in the same batch as the add that pushed it out', async (t) => {
  const k = new FakeKernel();
  const p = await open(k, { limits: { maxAddressesPerName: 2 } });
  await p.add([el('198.51.100.1')]);
  await p.add([el('198.51.100.2')]);
  await p.add([el('198.51.100.3')]);
  const last = k.batches[k.batches.length - 1];
  t.same(
    last.messages.map((m) => [m.op, m.set, m.elements.length]),
    [
      ['delete', 'allow4', 1],
      ['add', 'allow4', 1],
    ],
  );
  t.same(last.messages[0].elements[0].key, encodeKey(el('198.51.100.1')), 'the oldest address goes');
  t.same(
    k
      .elements('allow4')
      .map((e) => e.key[7])
      .sort(),
    [2, 3],
  );
  t.same(p.stats.evictions, { perName: 1, perSource: 0, total: 0 });
  t.equal(p.stats.deleted, 1);
  // One answer over the cap keeps its newest addresses.
  await p.add([el('198.51.100.4', { comment: 'b' }), el('198.51.100.5', { comment: 'b' }), el('198.51.100.6', { comment: 'b' })]);
  t.same(
    k
      .elements('allow4')
      .map((e) => e.key[7])
      .sort(),
    [2, 3, 5, 6],
  );
});

t.test('an eviction whose batch failed is sent again', async (t) => {
  const k = new FakeKernel();
  const p = await open(k, { limits: { maxElements: 1 } });
  await p.add([el('198.51.100.1')]);
  k.failNext.push(new NftError('EIO', 'boom'));
  await t.rejects(p.add([el('198.51.100.2')]), { code: 'EIO' });
  await p.drained();
  t.same(
    k.elements('allow4').map((e) => e.key[7]),
    [],
    'the evicted element was deleted by the retry',
  );
});

t.test('cgroup sets: 8-byte cgroup id . address [. proto . port]', async (t) => {
  const k = new FakeKernel();
  const p = await open(k);
  const id = cgroupIdBytes(123456789n);
  await p.add([
    { set: 'cgroup4', source: id, destination: ip4('198.51.100.7'), timeoutMs: 60_000, comment: 'a.example.com' },
    { set: 'cgroup6p', source: id, destination: Buffer.alloc(16, 0x20), proto: 6, port: 443, timeoutMs: 60_000, comment: 'b.example.com' },
  ]);
  t.equal(k.elements('cgroup4')[0].key.length, 12);
  t.equal(k.elements('cgroup6p')[0].key.length, 32);
  await t.rejects(p.add([{ set: 'cgroup4', source: ip4('10.0.0.1'), destination: ip4('198.51.100.7'), timeoutMs: 1000, comment: '' }]), /cgroup4: source must be 8 bytes/);
});

t.test('adoption: an element the previous daemon wrote keeps its longer life when refreshed during adoption', async (t) => {
  const k = new FakeKernel();
  const key = encodeKey(el('198.51.100.7'));
  k.put('allow4', { key, timeoutMs: 600_000, expirationMs: 550_000, comment: 'api.example.com' });
  k.put('allow4', { key: encodeKey(el('198.51.100.8')), timeoutMs: 600_000, expirationMs: 550_000, comment: 'api.example.com' });
  let release!: () => void;
  k.dumpGate = new Promise((r) => {
    release = r;
  });
  const p = await open(k, { adopt: 'background' });
  await p.add([el('198.51.100.7', { timeoutMs: 5_000 })]);
  release();
  await p.adopted;
  t.equal(k.elements('allow4').find((e) => e.key.equals(key))!.timeoutMs, 600_000);
  t.match(p.adoptionStats, { elements: 2, lookups: 1, lookupFailures: 0 });
  await p.add([el('198.51.100.8', { timeoutMs: 5_000 })]);
  const e8 = k.elements('allow4').find((e) => e.key.equals(encodeKey(el('198.51.100.8'))))!;
  t.ok(e8.expirationMs! > 500_000, 'learned by the read of the set');
});

t.test('adoption: a failed lookup waits for its set to be read instead of shortening the element', async (t) => {
  const k = new FakeKernel();
  const key = encodeKey(el('198.51.100.7'));
  k.put('allow4', { key, timeoutMs: 600_000, expirationMs: 550_000, comment: 'api.example.com' });
  const get = k.get.bind(k);
  let failed = 0;
  k.get = (build) => {
    const r = get(build);
    // the element lookup (GETSETELEM) fails as a timed-out request would
    if (r.length && r[0].type === 0xa0c && failed++ === 0) throw new NftError('ETIMEDOUT', 'no reply');
    return r;
  };
  let release!: () => void;
  k.dumpGate = new Promise((r) => {
    release = r;
  });
  const p = await open(k, { adopt: 'background' });
  let added = false;
  const adding = p.add([el('198.51.100.7', { timeoutMs: 5_000 })]).then(() => {
    added = true;
  });
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(added, 'the add waits for the set to be read');
  release();
  await adding;
  t.equal(failed, 1, 'the lookup failed');
  const got = k.elements('allow4')[0];
  t.equal(got.timeoutMs, 600_000, 'the refresh carried the longer life');
  t.ok(got.expirationMs! > 500_000);
  t.match(p.adoptionStats, { lookupFailures: 1 });
});

t.test('adoption: a torn dump (a key twice, one missed) is read again, so the missed element keeps its longer life', async (t) => {
  const k = new FakeKernel();
  for (let i = 1; i <= 4; i++) k.put('allow4', { key: encodeKey(el(`198.51.100.${i}`)), timeoutMs: 600_000, expirationMs: 550_000, comment: 'api.example.com' });
  k.tornDumps = 1; // the first dump of allow4 misses 198.51.100.4
  const p = await open(k, { adopt: 'background' });
  await p.adopted;
  t.match(p.adoptionStats, { elements: 4, duplicates: 1, unsettledSets: 0 });
  t.ok(p.adoptionStats!.reads >= 9, 'allow4 twice, the other seven sets once');
  await p.add([el('198.51.100.4', { timeoutMs: 5_000 })]);
  const e4 = k.elements('allow4').find((e) => e.key.equals(encodeKey(el('198.51.100.4'))))!;
  t.equal(e4.timeoutMs, 600_000, 'the refresh carried the life the second read found');
  t.ok(e4.expirationMs! > 500_000);
});

t.test('adoption: while a set is not read whole its unknown elements are looked up; a settled set needs no lookup', async (t) => {
  const k = new FakeKernel();
  k.put('allow4', { key: encodeKey(el('198.51.100.7')), timeoutMs: 600_000, expirationMs: 550_000, comment: 'api.example.com' });
  k.put('allow4', { key: encodeKey(el('198.51.100.8')), timeoutMs: 600_000, expirationMs: 550_000, comment: 'api.example.com' });
  k.tornDumps = 1; // allow4's first dump is torn: it is read again after ADOPT_PAUSES_MS[0]
  const p = await open(k, { adopt: 'background' });
  // allow4 is read (torn) at once; the re-read waits 250 ms: an add now is looked up first
  await new Promise((r) => setTimeout(r, 50));
  await p.add([el('198.51.100.8', { timeoutMs: 5_000 })]);
  t.equal(p.adoptionStats!.lookups, 1, 'looked up: its set was not read whole yet');
  t.equal(k.elements('allow4').find((e) => e.key.equals(encodeKey(el('198.51.100.8'))))!.timeoutMs, 600_000);
  await p.adopted;
  t.equal(p.adoptionStats!.unsettledSets, 0);
});

t.test('remove() deletes and forgets; readLive() reads every allow set', async (t) => {
  const k = new FakeKernel();
  const p = await open(k);
  await p.add([el('198.51.100.1'), el('198.51.100.2')]);
  await p.remove([{ set: 'allow4', source: ip4('10.244.1.5'), destination: ip4('198.51.100.1') }]);
  const live: string[] = [];
  await p.readLive((set, e) => live.push(`${set} ${e.key[7]} ${e.comment}`));
  t.same(live, ['allow4 2 api.example.com']);
  // The book forgot it: a new 5 s answer is not stretched to the removed element's 60 s.
  await p.add([el('198.51.100.1', { timeoutMs: 5_000 })]);
  t.equal(k.elements('allow4').find((e) => e.key[7] === 1)!.timeoutMs, 5_000);
});

t.test('refreshSlackMs: a refresh the kernel does not need is skipped; a deletion heard makes the next add() send', async (t) => {
  const k = new FakeKernel();
  const p = await open(k, { refreshSlackMs: 5_000, watch: k.watch });
  await p.add([el('198.51.100.7')]);
  k.hold = true; // a batch now would stay unacked: a skipped add() must resolve without one
  await p.add([el('198.51.100.7')]);
  t.equal(p.stats.skipped, 1);
  t.equal(k.batches.length, 1);
  k.hold = false;
  // deleted by someone else between the query and the flush: sent again before resolving
  const again = p.add([el('198.51.100.7')]);
  k.delete('allow4', encodeKey(el('198.51.100.7')));
  await again;
  t.ok(k.has('allow4', encodeKey(el('198.51.100.7'))), 're-added');
  t.equal(k.batches.length, 2);
  // a longer life than the kernel holds is never skipped
  await p.add([el('198.51.100.7', { timeoutMs: 120_000 })]);
  t.equal(k.batches.length, 3);
  // evicted (deleted by us): not trusted any more
  t.equal(p.stats.skipped, 1);
});

t.test('refreshSlackMs: a failed batch is not trusted; lost notifications trust nothing', async (t) => {
  const k = new FakeKernel();
  const p = await open(k, { refreshSlackMs: 5_000, watch: k.watch });
  k.failNext.push(new NftError('EIO', 'boom'));
  await t.rejects(p.add([el('198.51.100.1')]));
  await p.add([el('198.51.100.1')]);
  t.equal(k.batches.length, 2, 'sent again: the failed add never reached the kernel');
  t.ok(k.has('allow4', encodeKey(el('198.51.100.1'))));
  await p.add([el('198.51.100.1')]);
  t.equal(k.batches.length, 2, 'now trusted');
  for (const w of k.watchers) w.lost('test: ENOBUFS');
  await p.add([el('198.51.100.1')]);
  t.equal(k.batches.length, 3, 'after lost notifications it is sent again');
  for (const w of k.watchers) w.lost('test: socket closed', true);
  await p.add([el('198.51.100.1')]);
  await p.add([el('198.51.100.1')]);
  t.equal(k.batches.length, 5, 'without a watch nothing is skipped');
});

t.test('refreshSlackMs: one answer with a held and a new element resolves after the new one commits', async (t) => {
  const k = new FakeKernel();
  const p = await open(k, { refreshSlackMs: 5_000, watch: k.watch });
  await p.add([el('198.51.100.1')]);
  k.hold = true;
  let done = false;
  const pending = p.add([el('198.51.100.1'), el('198.51.100.2')]).then(() => {
    done = true;
  });
  await tick();
  await tick();
  t.notOk(done, 'waits for the new element');
  t.same(
    k.held[0].batch.messages.map((m) => m.elements.length),
    [1],
    'only the new element is sent',
  );
  k.ack();
  await pending;
  t.equal(p.stats.skipped, 1);
});
