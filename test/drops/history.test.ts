// The answer history behind `dnswall drops`: every reason it gives (expired, evicted, revoked,
// port, other_source, never_answered, unexplained), how a later answer of the same name extends
// the life and the ports while another name starts over, cgroup and IPv6 keys, and the bound
// (least recently answered forgotten first, memory flat).
import t from 'tap';
import { AnswerHistory, type ClassifyContext } from '../../lib/drops/history';
import { cgroupIdBytes } from '../../lib/nft/owner';

const v4 = (s: string) => Buffer.from(s.split('.').map(Number));
const v6 = (last: number) => Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (last >> 8) & 255, last & 255]);
const noReload: ClassifyContext = { reloadedAt: 0, stillAllowed: () => true };
const T0 = 1_700_000_000_000;
const POD = v4('10.244.1.7');
const DEST = v4('198.18.0.10');

t.test('expired, then answered again: unexplained while the element lives', async (t) => {
  const h = new AnswerHistory();
  h.answered(POD, DEST, 'api.example.com', 30_000, undefined, undefined, T0);
  const v = h.classify('10.244.1.7', '198.18.0.10', 'tcp', 443, T0 + 40_000, noReload);
  t.equal(v.reason, 'expired');
  t.equal(v.name, 'api.example.com');
  t.equal(v.detail, 'answered api.example.com to this source, expired 10 s ago');
  h.answered(POD, DEST, 'api.example.com', 30_000, undefined, undefined, T0 + 41_000);
  t.equal(h.classify('10.244.1.7', '198.18.0.10', 'tcp', 443, T0 + 42_000, noReload).reason, 'unexplained');
  t.equal(h.size, 1);
});

t.test('a later answer of the same name never shortens the life; another name starts over', async (t) => {
  const h = new AnswerHistory();
  h.answered(POD, DEST, 'a.example.com', 300_000, undefined, undefined, T0);
  h.answered(POD, DEST, 'a.example.com', 10_000, undefined, undefined, T0 + 1000);
  t.equal(h.get('10.244.1.7', '198.18.0.10')?.expiresAt, T0 + 300_000);
  t.equal(h.get('10.244.1.7', '198.18.0.10')?.at, T0 + 1000);
  h.answered(POD, DEST, 'b.example.com', 10_000, undefined, undefined, T0 + 2000);
  const e = h.get('10.244.1.7', '198.18.0.10');
  t.equal(e?.name, 'b.example.com');
  t.equal(e?.expiresAt, T0 + 12_000);
});

t.test('ports: the same name adds ports while it lives; all ports wins; expiry starts over', async (t) => {
  const h = new AnswerHistory();
  h.answered(POD, DEST, 'api.example.com', 60_000, 6, 443, T0);
  h.answered(POD, DEST, 'api.example.com', 60_000, 17, 53, T0 + 1000);
  t.same([...h.get('10.244.1.7', '198.18.0.10')!.ports!], ['tcp/443', 'udp/53']);
  const v = h.classify('10.244.1.7', '198.18.0.10', 'tcp', 80, T0 + 2000, noReload);
  t.equal(v.reason, 'port');
  t.equal(v.detail, 'answered api.example.com to this source for tcp/443, udp/53 only, not tcp/80');
  t.equal(h.classify('10.244.1.7', '198.18.0.10', 'tcp', 443, T0 + 2000, noReload).reason, 'unexplained');
  // after the element expired, a new answer's ports are its own
  h.answered(POD, DEST, 'api.example.com', 60_000, 6, 8443, T0 + 120_000);
  t.same([...h.get('10.244.1.7', '198.18.0.10')!.ports!], ['tcp/8443']);
  h.answered(POD, DEST, 'api.example.com', 60_000, undefined, undefined, T0 + 121_000);
  t.equal(h.get('10.244.1.7', '198.18.0.10')!.ports, null);
  h.answered(POD, DEST, 'api.example.com', 60_000, 6, 443, T0 + 122_000);
  t.equal(h.get('10.244.1.7', '198.18.0.10')!.ports, null, 'all ports stays all ports while it lives');
});

t.test('evicted by a cap: named by its config key; a new answer clears it', async (t) => {
  const h = new AnswerHistory();
  h.answered(POD, DEST, 'api.example.com', 300_000, undefined, undefined, T0);
  h.evicted(POD, DEST, 'perSource', T0 + 5000);
  const v = h.classify('10.244.1.7', '198.18.0.10', 'tcp', 443, T0 + 7000, noReload);
  t.equal(v.reason, 'evicted');
  t.equal(v.detail, 'answered api.example.com to this source 7 s ago, evicted (cap maxElementsPerSource) 2 s ago');
  h.answered(POD, DEST, 'api.example.com', 10_000, undefined, undefined, T0 + 8000);
  const e = h.get('10.244.1.7', '198.18.0.10')!;
  t.equal(e.evicted, undefined);
  t.equal(e.expiresAt, T0 + 18_000, "an evicted element's old life is not carried over");
  h.evicted(v4('10.244.1.8'), DEST, 'total', T0 + 9000); // unknown pair: nothing
  t.equal(h.size, 1);
});

t.test('revoked: answered before a reload whose policy no longer allows it', async (t) => {
  const h = new AnswerHistory();
  h.answered(POD, DEST, 'api.example.com', 300_000, undefined, undefined, T0);
  const asked: string[] = [];
  const ctx: ClassifyContext = { reloadedAt: T0 + 1000, stillAllowed: (s, n) => (asked.push(`${s} ${n}`), false) };
  const v = h.classify('10.244.1.7', '198.18.0.10', 'tcp', 443, T0 + 3000, ctx);
  t.equal(v.reason, 'revoked');
  t.equal(v.detail, 'answered api.example.com to this source 3 s ago, revoked by reload 2 s ago');
  t.same(asked, ['10.244.1.7 api.example.com']);
  t.equal(h.classify('10.244.1.7', '198.18.0.10', 'tcp', 443, T0 + 3000, { reloadedAt: T0 + 1000, stillAllowed: () => true }).reason, 'unexplained');
  t.equal(
    h.classify('10.244.1.7', '198.18.0.10', 'tcp', 443, T0 + 3000, { reloadedAt: T0 - 1, stillAllowed: () => false }).reason,
    'unexplained',
    'a reload before the answer revokes nothing',
  );
});

t.test('other_source (the latest other source), never_answered', async (t) => {
  const h = new AnswerHistory();
  h.answered(v4('10.244.1.8'), DEST, 'one.example.com', 300_000, undefined, undefined, T0);
  h.answered(v4('10.244.1.9'), DEST, 'two.example.com', 300_000, undefined, undefined, T0 + 1000);
  const v = h.classify('10.244.1.7', '198.18.0.10', 'tcp', 443, T0 + 2000, noReload);
  t.equal(v.reason, 'other_source');
  t.equal(v.detail, 'answered only to another source (10.244.1.9, two.example.com)');
  t.equal(h.classify('10.244.1.7', '198.18.0.11', 'tcp', 443, T0 + 2000, noReload).reason, 'never_answered');
  t.equal(h.classify('not an address', '198.18.0.10', 'tcp', 443, T0 + 2000, noReload).reason, 'other_source');
  t.equal(h.classify('10.244.1.7', 'nonsense', 'tcp', 443, T0 + 2000, noReload).reason, 'never_answered');
});

t.test('cgroup and IPv6 keys', async (t) => {
  const h = new AnswerHistory();
  const cg = cgroupIdBytes(4242n);
  h.answered(cg, v6(1), 'db.example.com', 1000, undefined, undefined, T0);
  t.equal(h.classify(`cgroup-id:${cg.toString('hex')}`, '2001:db8::1', 'tcp', 5432, T0 + 5000, noReload).reason, 'expired');
  t.equal(
    h.classify(`cgroup-id:${cgroupIdBytes(4243n).toString('hex')}`, '2001:db8::1', 'tcp', 5432, T0 + 5000, noReload).detail,
    'answered only to another source (cgroup-id:' + cg.toString('hex') + ', db.example.com)',
  );
  t.equal(h.classify('2001:db8::2', '2001:db8::1', 'tcp', 5432, T0 + 5000, noReload).reason, 'other_source');
  t.equal(h.classify('cgroup-id:zz', '2001:db8::1', 'tcp', 5432, T0 + 5000, noReload).reason, 'other_source', 'a key that is no key: every source is another');
});

t.test('bounded: the least recently answered pairs are forgotten, the recent ones kept', async (t) => {
  const max = 1024;
  const h = new AnswerHistory(max);
  const key = (i: number) => v4(`198.18.${i >> 8}.${i & 255}`);
  // an old pair answered again and again stays while 3 × max others pass by
  let now = T0;
  for (let i = 0; i < 3 * max; i++) {
    h.answered(POD, key(i), `n${i}.example.com`, 60_000, undefined, undefined, now++);
    if (i % 64 === 0) h.answered(POD, DEST, 'kept.example.com', 60_000, undefined, undefined, now++);
  }
  t.ok(h.size <= max, `size ${h.size} ≤ ${max}`);
  t.ok(h.size >= max * 0.95, `the table is used (${h.size})`);
  t.equal(h.get('10.244.1.7', '198.18.0.10')?.name, 'kept.example.com', 'a pair answered recently is kept');
  // the last max/2 answers are all there (4-way sets: a set's least recent goes first)
  let kept = 0;
  for (let i = 3 * max - max / 2; i < 3 * max; i++) if (h.get('10.244.1.7', `198.18.${i >> 8}.${i & 255}`)?.name === `n${i}.example.com`) kept++;
  t.ok(kept >= (max / 2) * 0.9, `${kept} of the last ${max / 2} remembered`);
  let first = 0;
  for (let i = 0; i < max / 2; i++) if (h.get('10.244.1.7', `198.18.${i >> 8}.${i & 255}`)) first++;
  t.ok(first <= max / 16, `${first} of the first ${max / 2} still remembered`);
});
