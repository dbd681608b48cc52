// State file (lib/nft/state.ts, restore.ts), no root: the fake kernel stands in for nf_tables
// (its generation id moves on with every commit, as the kernel's does). A clean stop saves the
// book; the next start learns it without a dump only when boot, namespace, table and generation
// prove nothing but expiry changed the sets; anything else — no file, a corrupt one, another
// generation — falls back to the dump, says why, and the file is gone once read.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { performance } from 'perf_hooks';
import { FakeKernel } from './helpers/fake-kernel';
import { SetProgrammer, type Element, type SetProgrammerOptions } from '../../lib/nft/programmer';
import { encodeKey } from '../../lib/nft/keys';
import { ExpiryBook, elementId } from '../../lib/nft/expiry';
import { bootId, decodeState, encodeState, lifeLeftMs, monotonicMs, netnsId, writeStateFile, type StateHeader } from '../../lib/nft/state';
import { capture } from '../log-capture';

const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
const el = (dst: string, over: Partial<Element> = {}): Element => ({
  set: 'allow4',
  source: ip4('10.244.1.5'),
  destination: ip4(dst),
  timeoutMs: 60_000,
  comment: 'api.example.com',
  ...over,
});
const keyOf = (e: Element) => encodeKey(e);
const tick = () => new Promise((r) => setImmediate(r));

function tmpFile(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'sub', 'nft.state');
}

/** A programmer as the daemon runs it: watch up, skipping on, the state file configured. */
function programmer(k: FakeKernel, file: string, over: Partial<SetProgrammerOptions> = {}): SetProgrammer {
  return new SetProgrammer({ table: 'dnswall', transport: k.transport, watch: k.watch, refreshSlackMs: 5_000, stateFile: file, ...over });
}

/** Start as the daemon does: prepare (watch + file + generation), the install (one commit), open. */
async function start(k: FakeKernel, file: string, over: Partial<SetProgrammerOptions> = {}): Promise<SetProgrammer> {
  const p = programmer(k, file, over);
  await p.prepare();
  k.bump(); // the daemon's own ruleset load is a transaction too
  await p.open();
  await p.adopted;
  return p;
}

const adoptedLine = (lines: Record<string, unknown>[]) => lines.find((l) => l.msg === 'live elements adopted');

t.test('a clean stop saves the book; the next start learns it without a dump', async (t) => {
  const k = new FakeKernel();
  const file = tmpFile(t);
  const a = await start(k, file);
  await a.add([el('198.51.100.1'), el('198.51.100.2', { comment: 'Web.Example.com' }), el('198.51.100.3', { set: 'allow4p', proto: 6, port: 443, comment: 'tls.example.com' })]);
  k.put('allow4', { key: keyOf(el('203.0.113.9')), timeoutMs: 30_000, expirationMs: 20_000, comment: 'other.example.com' }); // another process
  k.put('allow4', { key: keyOf(el('203.0.113.10')) }); // permanent, by hand
  await tick();
  const before = k.elements('allow4').find((x) => x.key.equals(keyOf(el('198.51.100.1'))))!;
  await a.close({ save: true });
  t.ok(existsSync(file), 'state file written');
  t.equal(statSync(file).mode & 0o777, 0o600, 'mode 0600');
  const saved = decodeState(readFileSync(file));
  t.equal(saved.elements, 5, 'every element of the book, the permanent one included');
  t.equal(saved.header.table, 'dnswall');
  t.equal(saved.header.generation, k.generation, 'the generation the book is true for');

  const dumps = k.dumps;
  const { log, lines } = capture();
  const b = await start(k, file, { log });
  t.teardown(() => b.close());
  t.equal(k.dumps, dumps, 'no set dumped');
  t.notOk(existsSync(file), 'the file is removed once read');
  t.match(adoptedLine(lines), { from: 'state', elements: 5 }, 'adoption says where it came from');
  t.equal(b.bookIncomplete, null, 'the book is complete: reload revocation reads it');
  t.equal(b.nameOf('allow4', keyOf(el('198.51.100.2'))), 'web.example.com', 'names come back');
  t.equal(b.nameOf('allow4', keyOf(el('203.0.113.9'))), 'other.example.com', "another process's element was learned and saved");
  t.equal(b.sizes().elements, 4, 'four counted elements (the permanent one is not counted)');

  // An element refreshed after the restart with a shorter life is not shortened.
  const leftBefore = before.expirationMs!;
  const t0 = performance.now();
  await b.add([el('198.51.100.1', { timeoutMs: 5_000 })]);
  const after = k.elements('allow4').find((x) => x.key.equals(keyOf(el('198.51.100.1'))))!;
  t.equal(after.timeoutMs, 60_000, 'timeout kept');
  t.ok(after.expirationMs! >= leftBefore - (performance.now() - t0) - 2_000, `expiration ${after.expirationMs} not shortened (was ${leftBefore})`);
  // The permanent element stays permanent.
  await b.add([el('203.0.113.10', { timeoutMs: 5_000 })]);
  const perm = k.elements('allow4').find((x) => x.key.equals(keyOf(el('203.0.113.10'))))!;
  t.equal(perm.timeoutMs, undefined, 'a permanent element stays permanent');
});

t.test('a change between stop and start (generation differs) → the sets are dumped, and the deleted element is not in the book', async (t) => {
  const k = new FakeKernel();
  const file = tmpFile(t);
  const a = await start(k, file);
  await a.add([el('198.51.100.1'), el('198.51.100.2')]);
  await a.close({ save: true });
  k.delete('allow4', keyOf(el('198.51.100.2'))); // nft delete element while dnswall is down
  const dumps = k.dumps;
  const { log, lines } = capture();
  const b = await start(k, file, { log });
  t.teardown(() => b.close());
  t.ok(k.dumps > dumps, 'the sets were dumped');
  t.match(adoptedLine(lines), { from: 'kernel', elements: 1, stateFile: /generation/ }, 'kernel adoption, with the reason');
  t.notOk(existsSync(file), 'the stale file is removed');
  t.ok(b.nameOf('allow4', keyOf(el('198.51.100.2'))) === null && b.sizes().book === 1, 'the deleted element is not in the book');
});

t.test('a corrupt or truncated file: a clear warning, then the dump', async (t) => {
  for (const [what, mangle, want] of [
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 7), /checksum mismatch/],
    ['a flipped byte', (b: Buffer) => Buffer.from(b.map((x, i) => (i === 60 ? x ^ 1 : x))), /checksum mismatch/],
    ['not a state file', () => Buffer.from('hello world, this is not a dnswall state file at all..........'), /no dnswall state header/],
  ] as const) {
    const k = new FakeKernel();
    const file = tmpFile(t);
    const a = await start(k, file);
    await a.add([el('198.51.100.1')]);
    await a.close({ save: true });
    writeFileSync(file, mangle(readFileSync(file)));
    const { log, lines } = capture();
    const b = await start(k, file, { log });
    const warn = lines.find((l) => l.msg === 'state file not used; the live elements are read from the kernel');
    t.match(warn, { level: 40, why: want }, `${what}: warned`);
    t.match(adoptedLine(lines), { from: 'kernel', elements: 1 }, `${what}: adopted from the kernel`);
    t.notOk(existsSync(file), `${what}: removed`);
    await b.close();
  }
});

t.test('another boot, namespace or table → the dump; no file → the dump, quietly', async (t) => {
  const real: StateHeader = { savedWallMs: Date.now(), savedMonoMs: monotonicMs(), generation: 0, netns: netnsId(), table: 'dnswall', bootId: bootId() };
  for (const [what, over, want] of [
    ['boot', { bootId: '00000000-0000-0000-0000-000000000000' }, /reboot/],
    ['netns', { netns: 1 }, /network namespace/],
    ['table', { table: 'other' }, /table other/],
  ] as const) {
    const k = new FakeKernel();
    const file = tmpFile(t);
    const book = new ExpiryBook();
    book.refresh(elementId('allow4', keyOf(el('198.51.100.1'))), 60_000, 'api.example.com');
    writeStateFile(file, encodeState({ ...real, generation: k.generation, ...over }, book, book.now()).data);
    const { log, lines } = capture();
    const b = await start(k, file, { log });
    t.match(
      lines.find((l) => l.msg === 'state file not used; the live elements are read from the kernel'),
      { why: want },
      `${what}: reason logged`,
    );
    t.match(adoptedLine(lines), { from: 'kernel' }, `${what}: kernel`);
    t.equal(b.sizes().book, 0, `${what}: nothing learned from the file`);
    await b.close();
  }
  const k = new FakeKernel();
  const { log, lines } = capture();
  const b = await start(k, tmpFile(t), { log });
  t.match(adoptedLine(lines), { from: 'kernel', stateFile: 'no state file' });
  await b.close();
});

t.test('expired rows are skipped; lives are the life left at the save less the monotonic time since, capped at the timeout', async (t) => {
  const k = new FakeKernel();
  const file = tmpFile(t);
  const book = new ExpiryBook();
  const id1 = elementId('allow4', keyOf(el('198.51.100.1')));
  const id2 = elementId('allow4', keyOf(el('198.51.100.2')));
  book.refresh(id1, 3_000, 'short.example.com');
  book.refresh(id2, 600_000, 'long.example.com');
  // saved "10 s ago" by the monotonic clock: the 3 s element expired since
  const h: StateHeader = { savedWallMs: Date.now(), savedMonoMs: monotonicMs() - 10_000, generation: k.generation, netns: netnsId(), table: 'dnswall', bootId: bootId() };
  writeStateFile(file, encodeState(h, book, book.now()).data);
  const { log, lines } = capture();
  const b = await start(k, file, { log });
  t.teardown(() => b.close());
  t.match(adoptedLine(lines), { from: 'state', elements: 1, expired: 1 });
  // its life is ~590 s: a refresh with 600 s sends 600 s and expiration ≥ 589 s, never more than 600 s
  await b.add([el('198.51.100.2', { timeoutMs: 1_000 })]);
  const x = k.elements('allow4')[0];
  t.equal(x.timeoutMs, 600_000);
  t.ok(x.expirationMs! <= 591_000 && x.expirationMs! >= 588_000, `expiration ${x.expirationMs} ≈ 590 s`);

  // lifeLeftMs: a wall clock step between save and load changes nothing; capped at the timeout
  const hdr: StateHeader = { ...h, savedWallMs: 1_000_000, savedMonoMs: 500 };
  t.equal(lifeLeftMs(hdr, 1_000_000 + 60_000, 60_000, 500 + 10_000), 50_000, 'left at save − monotonic elapsed');
  t.equal(lifeLeftMs(hdr, 1_000_000 + 600_000, 60_000, 500), 60_000, 'never more than its timeout (a file whose expiry is beyond it)');
  t.equal(lifeLeftMs(hdr, Infinity, Infinity, 10_000), Infinity, 'permanent');
  t.ok(lifeLeftMs(hdr, 1_000_000 + 5_000, 60_000, 500 + 6_000) <= 0, 'expired');
});

t.test('changes heard between the load and open() are applied; lost notifications fall back to the dump', async (t) => {
  const k = new FakeKernel();
  const file = tmpFile(t);
  const a = await start(k, file);
  await a.add([el('198.51.100.1'), el('198.51.100.2')]);
  await a.close({ save: true });

  const b = programmer(k, file);
  await b.prepare();
  // the install, a foreign addition and a deletion, all after the generation was read: heard
  k.bump();
  k.put('allow4', { key: keyOf(el('203.0.113.5')), timeoutMs: 30_000, comment: 'late.example.com' });
  k.delete('allow4', keyOf(el('198.51.100.1')));
  await b.open();
  t.equal(b.adoptionStats?.from, 'state');
  t.equal(b.bookIncomplete, null);
  t.equal(b.nameOf('allow4', keyOf(el('203.0.113.5'))), 'late.example.com', 'the foreign addition was learned');
  // the deleted element is sent again by the next answer (untrusted), resolving only once it is back
  await b.add([el('198.51.100.1')]);
  t.ok(k.has('allow4', keyOf(el('198.51.100.1'))), 'the deleted element is back in the kernel');
  await b.close({ save: true });

  // lost notifications between prepare() and open(): the book may miss an addition → dump too
  const c = programmer(k, file, { log: capture().log });
  await c.prepare();
  const dumps = k.dumps;
  for (const w of k.watchers) w.lost('test: notifications dropped');
  await c.open();
  await c.adopted;
  t.ok(k.dumps > dumps, 'the sets were dumped');
  t.equal(c.adoptionStats?.from, 'kernel');
  t.not(c.bookIncomplete, null, 'the book stays incomplete (revocation reads the kernel)');
  await c.close();
});

t.test('no save without a complete book, without a watch, or on a plain close()', async (t) => {
  const k = new FakeKernel();
  const file = tmpFile(t);
  const a = await start(k, file);
  await a.add([el('198.51.100.1')]);
  await a.close();
  t.notOk(existsSync(file), 'close() without save writes nothing');

  const { log, lines } = capture();
  const b = await start(k, file, { log });
  for (const w of k.watchers) w.lost('test: notifications dropped');
  await b.close({ save: true });
  t.notOk(existsSync(file), 'an incomplete book is not saved');
  t.match(
    lines.find((l) => l.msg === 'state not saved; the next start reads the live elements from the kernel'),
    { err: /the book may miss elements/ },
  );

  const c = await start(k, file, { refreshSlackMs: 0, log });
  await c.close({ save: true });
  t.notOk(existsSync(file), 'no watch, no save');
});
