// The plugin in a chain with a fake upstream below it: what it caches, what it leaves alone,
// identical misses coalesced, and a stored reply too big for this client.
import t from 'tap';
import pino from 'pino';
import { CachePlugin } from '../../lib/plugins/cache/cache';
import { RESET_AFTER } from '../../lib/plugins/cache/doorkeeper';
import { buildChain } from '../../lib/plugins/chain';
import type { Request, Response } from '../../lib/plugins/types';
import type { Decision } from '../../lib/policy/types';
import { query, reply, A } from './replies';

const log = pino({ level: 'silent' });
const allow: Decision = { verdict: 'allow', policies: ['p'], policy: 'p', pattern: 'x', allPorts: true, ports: [] };

function request(name: string, o: { id?: number; verdict?: Decision['verdict']; maxReplySize?: number; address?: string } = {}): Request {
  const { wire, q } = query(name, { id: o.id });
  return {
    wire,
    query: q,
    peer: { address: o.address ?? '127.0.0.1', family: 4, port: 5353 },
    local: { address: '127.0.0.1', port: 53 },
    transport: 'udp',
    maxReplySize: o.maxReplySize ?? 512,
    received: process.hrtime.bigint(),
    timings: {},
    decision: o.verdict === undefined ? allow : { ...allow, verdict: o.verdict },
  };
}

/** The plugin in a chain, with `below` answering what it passes down. */
function stack(p: CachePlugin, below: (req: Request) => Promise<Response>): (req: Request) => Promise<Response> {
  return buildChain([p, { name: 'below', setup: () => ({ down: below }) }], log, undefined, false).handle;
}

/** Stands in for answer + forward: answers `count` addresses after `delayMs`, records calls. */
function upstream(opts: { delayMs?: number; count?: number } = {}) {
  const calls: string[] = [];
  const handler = async (req: Request): Promise<Response> => {
    calls.push(req.query.name);
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    const n = opts.count ?? 1;
    const r = reply(req.query.name, { id: req.query.id, answers: Array.from({ length: n }, (_, i) => A(req.query.name, `198.18.2.${i + 1}`, 30)) });
    return { wire: r.wire, rcode: 0, origin: 'upstream', answer: req.decision?.verdict === 'allow' ? r.answer : undefined };
  };
  return { calls, handler };
}

t.test('an allowed answer is stored; the next one comes from the cache with its own ID', async (t) => {
  const p = new CachePlugin({ maxEntries: 10, maxBytes: 1 << 20, admission: 'first-miss' });
  const up = upstream();
  const h = stack(p, up.handler);
  const first = await h(request('a.example.com', { id: 1 }));
  t.equal(first.origin, 'upstream');
  const second = await h(request('a.example.com', { id: 2, address: '127.0.0.2' }));
  t.equal(second.origin, 'cache');
  t.equal(second.wire.readUInt16BE(0), 2);
  t.same(
    second.answer?.addresses.map((a) => a.address),
    ['198.18.2.1'],
  );
  t.same(up.calls, ['a.example.com'], 'upstream asked once');
  t.same({ hits: p.stats.hits, inserts: p.stats.inserts }, { hits: 1, inserts: 1 });
});

t.test('unmanaged and would-deny queries are neither looked up nor stored', async (t) => {
  const p = new CachePlugin({ maxEntries: 10, maxBytes: 1 << 20, admission: 'first-miss' });
  const up = upstream();
  const h = stack(p, up.handler);
  for (const verdict of ['unmanaged', 'deny', 'unmanaged'] as const) {
    t.equal((await h(request('b.example.com', { verdict }))).origin, 'upstream', verdict);
  }
  t.equal(up.calls.length, 3);
  t.equal(p.store.size, 0);
  t.equal(p.stats.misses, 0, 'not even looked up');
});

t.test('synthesized replies (SERVFAIL from below) are not stored', async (t) => {
  const p = new CachePlugin({ maxEntries: 10, maxBytes: 1 << 20, admission: 'first-miss' });
  let n = 0;
  const h = stack(p, async (req) => {
    n++;
    return { wire: reply(req.query.name, { rcode: 'SERVFAIL' }).wire, rcode: 2, origin: 'synthesized' };
  });
  await h(request('c.example.com'));
  await h(request('c.example.com'));
  t.equal(n, 2);
  t.equal(p.store.size, 0);
});

t.test('identical concurrent misses go upstream once; each waiter gets its own ID', async (t) => {
  const p = new CachePlugin({ maxEntries: 10, maxBytes: 1 << 20, admission: 'first-miss' });
  const up = upstream({ delayMs: 50 });
  const h = stack(p, up.handler);
  const rs = await Promise.all([1, 2, 3, 4, 5].map((id) => h(request('d.example.com', { id }))));
  t.same(up.calls, ['d.example.com']);
  t.same(
    rs.map((r) => r.wire.readUInt16BE(0)),
    [1, 2, 3, 4, 5],
  );
  t.same(
    rs.map((r) => r.origin),
    ['upstream', 'cache', 'cache', 'cache', 'cache'],
  );
  t.equal(new Set(rs.map((r) => r.wire)).size, 5, 'five buffers');
});

t.test('a stored reply too big for this client: TC=1, so it retries over TCP', async (t) => {
  const p = new CachePlugin({ maxEntries: 10, maxBytes: 1 << 20, admission: 'first-miss' });
  const up = upstream({ count: 40 });
  const h = stack(p, up.handler);
  const tcp = await h(request('e.example.com', { maxReplySize: 65535 }));
  t.ok(tcp.wire.length > 512, `${tcp.wire.length} bytes stored`);
  const udp = await h(request('e.example.com', { id: 9 }));
  t.equal(udp.origin, 'synthesized');
  t.equal(udp.wire[2] & 0x02, 0x02, 'TC');
  t.equal(udp.answer, undefined, 'nothing to program for an answer the client did not get');
  t.equal(up.calls.length, 1);
});

t.test('default admission: a first ask builds no key and marks nothing in flight; a stored question outlives a doorkeeper clear', async (t) => {
  // room for every fill name a false "seen" stores (doorkeeper.ts), so nothing is evicted
  const p = new CachePlugin({ maxEntries: 100_000, maxBytes: 1 << 30 });
  const up = upstream();
  const h = stack(p, up.handler);
  const seenBelow: (string | undefined)[] = [];
  const spy = stack(p, async (req) => {
    seenBelow.push(req.cacheKey);
    return up.handler(req);
  });
  t.equal((await spy(request('f.example.com', { id: 1 }))).origin, 'upstream');
  t.same(seenBelow, [undefined], 'first ask: went down without a key');
  t.same({ misses: p.stats.misses, notAdmitted: p.stats.notAdmitted, inserts: p.stats.inserts }, { misses: 1, notAdmitted: 1, inserts: 0 });
  t.equal((await spy(request('f.example.com', { id: 2 }))).origin, 'upstream');
  t.same(seenBelow, [undefined, '1/1/0/f.example.com'], 'second ask: fetched under its key');
  t.same({ misses: p.stats.misses, inserts: p.stats.inserts }, { misses: 2, inserts: 1 }, 'stored on the second miss');
  // Clear the doorkeeper: RESET_AFTER first asks of other names go straight down.
  let n = 0;
  while (p.stats.notAdmitted < 1 + RESET_AFTER) {
    await h(request(`fill${n++}.example.com`));
    if (n > 2 * RESET_AFTER) break;
  }
  const firstAsks = p.stats.notAdmitted - 1;
  t.equal(p.stats.inserts - 1, n - firstAsks, `fill names stored: only those a false "seen" sent the key way (${n - firstAsks} of ${n})`);
  t.ok(n - firstAsks < n * 0.07, 'under 7 %');
  const third = await h(request('f.example.com', { id: 3 }));
  t.equal(third.origin, 'cache', 'still a hit after the clear: stored questions are re-marked');
  t.equal(third.wire.readUInt16BE(0), 3);
});
