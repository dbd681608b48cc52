// Reload revocation from the programmer's book (no kernel read) against the fake kernel: it
// revokes what a dump-based revocation would, learns what another process added (the watch),
// and falls back to reading the kernel when the book cannot be trusted to be complete.
import t from 'tap';
import { FakeKernel } from '../nft/helpers/fake-kernel';
import { SetProgrammer, type Element, type SetProgrammerOptions } from '../../lib/nft/programmer';
import { encodeKey } from '../../lib/nft/keys';
import { parseConfig } from '../../lib/config/load';
import { PolicyIndex } from '../../lib/policy/index';
import { revokeDisallowed } from '../../lib/server/revoke';

const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
const SRC = '10.244.1.5';
const el = (dst: string, comment: string, over: Partial<Element> = {}): Element => ({
  set: 'allow4',
  source: ip4(SRC),
  destination: ip4(dst),
  timeoutMs: 60_000,
  comment,
  ...over,
});
const index = (allow: string) =>
  PolicyIndex.compile(
    parseConfig(`listen: ["127.0.0.1:53"]\nupstreams: ["127.0.0.1:53"]\npolicies:\n  - name: p\n    sources: ["10.244.1.0/24"]\n    allow:\n${allow}`, 'p.yaml').policies,
  );
const BEFORE = index('      - api.example.com\n      - www.example.com\n      - name: "ports.example.com"\n        ports: ["tcp/443", "udp/53"]\n      - other.example.com\n');
// www goes; ports.example.com keeps only tcp/443; api and other stay
const AFTER = index('      - api.example.com\n      - name: "ports.example.com"\n        ports: ["tcp/443"]\n      - other.example.com\n');

async function open(k: FakeKernel, opts: Partial<SetProgrammerOptions> = {}): Promise<SetProgrammer> {
  const p = new SetProgrammer({ table: 'dnswall', transport: k.transport, watch: k.watch, refreshSlackMs: 1_000, ...opts });
  await p.open();
  t.teardown(() => p.close());
  return p;
}

const comments = (k: FakeKernel) => [...k.elements('allow4'), ...k.elements('allow4p')].map((e) => `${e.comment} ${e.key.length}`).sort();

async function fill(p: SetProgrammer): Promise<void> {
  await p.add([el('198.51.100.1', 'api.example.com'), el('198.51.100.2', 'www.example.com'), el('198.51.100.3', 'WWW.example.com')]);
  await p.add([el('198.51.100.4', 'ports.example.com', { set: 'allow4p', proto: 6, port: 443 }), el('198.51.100.4', 'ports.example.com', { set: 'allow4p', proto: 17, port: 53 })]);
  t.ok(BEFORE.decideAddress({ address: SRC, family: 4 }, 'www.example.com').verdict === 'allow');
}

t.test('the book revokes what a read of the kernel revokes, without reading the kernel', async (t) => {
  const fromBook = new FakeKernel();
  const p = await open(fromBook);
  t.equal(p.bookIncomplete, null, 'adopted (empty sets) with the watch up: the book is whole');
  await fill(p);
  // another process adds an element the new policy no longer allows; the watch tells the book
  fromBook.put('allow4', { key: encodeKey(el('198.51.100.9', 'x')), timeoutMs: 60_000, expirationMs: 50_000, comment: 'www.example.com' });
  const dumps = fromBook.opened;
  const r = await revokeDisallowed(p, AFTER);
  t.match(r, { from: 'book', checked: 6, revoked: 4 });
  t.equal(fromBook.opened, dumps, 'no connection opened to read the sets');

  const fromKernel = new FakeKernel();
  const q = await open(fromKernel, { watch: null });
  t.match(q.bookIncomplete, /no change notifications/);
  await fill(q);
  fromKernel.put('allow4', { key: encodeKey(el('198.51.100.9', 'x')), timeoutMs: 60_000, expirationMs: 50_000, comment: 'www.example.com' });
  t.match(await revokeDisallowed(q, AFTER), { from: 'kernel', checked: 6, revoked: 4 });
  t.same(comments(fromBook), comments(fromKernel), 'the same elements are left');
  t.same(comments(fromBook), ['api.example.com 8', 'ports.example.com 16']);
});

t.test('lost notifications: the book may miss elements, revocation reads the kernel', async (t) => {
  const k = new FakeKernel();
  const p = await open(k);
  await fill(p);
  for (const w of k.watchers) w.lost('test: ENOBUFS');
  // added while notifications were being lost: the book never hears of it
  const key9 = encodeKey(el('198.51.100.9', 'x'));
  k.sets.get('allow4')!.set(key9.toString('hex'), { key: key9, timeoutMs: 60_000, expirationMs: 50_000, comment: 'www.example.com' });
  const r = await revokeDisallowed(p, AFTER);
  t.match(r, { from: 'kernel', revoked: 4, bookIncomplete: /lost/ });
  t.same(comments(k), ['api.example.com 8', 'ports.example.com 16']);
});

t.test('a restart adopts names from whole comments; a cut comment is kept, undecided', async (t) => {
  const k = new FakeKernel();
  k.put('allow4', { key: encodeKey(el('198.51.100.1', '')), timeoutMs: 60_000, expirationMs: 50_000, comment: 'www.example.com' });
  k.put('allow4', { key: encodeKey(el('198.51.100.2', '')), timeoutMs: 60_000, expirationMs: 50_000, comment: '~ww.example.com' });
  k.put('allow4', { key: encodeKey(el('198.51.100.3', '')), timeoutMs: 60_000, expirationMs: 50_000, comment: 'api.example.com' });
  k.put('allow4', { key: encodeKey(el('198.51.100.4', '')), comment: 'www.example.com' }); // permanent: added by hand
  const p = await open(k);
  t.equal(p.bookIncomplete, null);
  t.match(await revokeDisallowed(p, AFTER), { from: 'book', checked: 3, revoked: 1, undecided: 1 });
  t.same(
    k
      .elements('allow4')
      .map((e) => e.comment)
      .sort(),
    ['www.example.com', '~ww.example.com', 'api.example.com'].sort(),
  );
});

t.test('a torn adoption that never reads a set whole leaves the book incomplete', async (t) => {
  const k = new FakeKernel();
  k.put('allow4', { key: encodeKey(el('198.51.100.1', '')), timeoutMs: 60_000, expirationMs: 50_000, comment: 'www.example.com' });
  k.put('allow4', { key: encodeKey(el('198.51.100.2', '')), timeoutMs: 60_000, expirationMs: 50_000, comment: 'www.example.com' });
  k.tornDumps = 1;
  const p = await open(k);
  t.equal(p.bookIncomplete, null, 'read again after the torn dump: whole');
  t.equal(p.adoptionStats!.duplicates, 1);
});
