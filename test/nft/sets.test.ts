// Set reads against the fake kernel (no root): a dump torn by a change to the set (a key sent
// twice, another missed — what the kernel's dump does when the set grows during it, with no
// NLM_F_DUMP_INTR) is read again, and a read reports whether any dump showed the set whole.
import t from 'tap';
import { FakeKernel } from './helpers/fake-kernel';
import { readSet, readSetChecked, READ_ATTEMPTS } from '../../lib/nft/sets';
import { encodeKey } from '../../lib/nft/keys';

const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
const key = (i: number) => encodeKey({ set: 'allow4', source: ip4('10.244.1.5'), destination: ip4(`198.51.100.${i}`) });

function kernel(n: number): FakeKernel {
  const k = new FakeKernel();
  for (let i = 1; i <= n; i++) k.put('allow4', { key: key(i), timeoutMs: 60_000, expirationMs: 50_000, comment: `n${i}` });
  return k;
}

const hexes = (els: { key: Buffer }[]) => els.map((e) => e.key.toString('hex')).sort();

t.test('a torn dump is read again; the read has every key once', async (t) => {
  const k = kernel(5);
  k.tornDumps = 1;
  const io = k.transport({});
  const r = await readSetChecked(io, 'dnswall', 'allow4', { pauseMs: () => 0 });
  t.equal(r.reads, 2, 'read twice');
  t.equal(r.duplicates, 1);
  t.ok(r.consistent);
  t.same(hexes(r.elements), hexes(k.elements('allow4')), 'the element the torn dump missed is there, none twice');
  t.equal(r.readAt.length, r.elements.length);
  k.tornDumps = 1;
  t.same(hexes(await readSet(io, 'dnswall', 'allow4')), hexes(k.elements('allow4')), 'readSet (list, forget, revocation) too');
});

t.test('a set torn on every dump: bounded reads, reported as not whole', async (t) => {
  const k = kernel(5);
  k.tornDumps = 100;
  const r = await readSetChecked(k.transport({}), 'dnswall', 'allow4', { pauseMs: () => 0 });
  t.equal(r.reads, READ_ATTEMPTS);
  t.equal(r.duplicates, READ_ATTEMPTS);
  t.notOk(r.consistent, 'never read whole');
  t.equal(new Set(hexes(r.elements)).size, r.elements.length, 'still no key twice');
});

t.test('a deletion heard during a dump (no key repeated) makes the read go again', async (t) => {
  const k = kernel(3);
  let deletions = 0;
  const r = await readSetChecked(k.transport({}), 'dnswall', 'allow4', {
    pauseMs: () => 0,
    disturbed: () => {
      const before = deletions;
      if (deletions === 0) deletions++; // someone deletes during the first dump only
      return () => deletions !== before;
    },
  });
  t.equal(r.reads, 2);
  t.ok(r.consistent);
  t.equal(r.duplicates, 0);
});
