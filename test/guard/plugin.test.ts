// The guard step in the real chain (policy → nftset → guard → cache → answer → forward) with a
// scripted upstream and a recording programmer: what reaches the client and the programmer,
// SERVFAIL + EDE 15, allowCIDRs exceptions across the shared cache, audit mode, counters, logs.
import t from 'tap';
import { Writable } from 'node:stream';
import pino from 'pino';
import * as packet from 'dns-packet';
import { parseConfig } from '../../lib/config/load';
import { PolicyIndex } from '../../lib/policy/index';
import { buildChain } from '../../lib/plugins/chain';
import { standardPlugins } from '../../lib/plugins/order';
import { intake } from '../../lib/server/request';
import { AnswerGuard } from '../../lib/plugins/guard/ranges';
import type { GuardPlugin } from '../../lib/plugins/guard/guard';
import type { Element } from '../../lib/nft/programmer';

/** name → answer records the scripted upstream returns */
const UPSTREAM: Record<string, packet.Answer[]> = {
  'meta.example.com': [{ type: 'A', name: 'meta.example.com', ttl: 60, data: '169.254.169.254' }],
  'loop.example.com': [{ type: 'A', name: 'loop.example.com', ttl: 60, data: '127.0.0.1' }],
  'mapped.example.com': [{ type: 'AAAA', name: 'mapped.example.com', ttl: 60, data: '::ffff:169.254.169.254' }],
  'mix.example.com': [
    { type: 'A', name: 'mix.example.com', ttl: 60, data: '169.254.169.254' },
    { type: 'A', name: 'mix.example.com', ttl: 60, data: '198.18.0.10' },
  ],
  'internal.example.com': [{ type: 'A', name: 'internal.example.com', ttl: 60, data: '10.96.0.1' }],
  'public.example.com': [{ type: 'A', name: 'public.example.com', ttl: 60, data: '198.18.0.11' }],
  'chain.example.com': [
    { type: 'CNAME', name: 'chain.example.com', ttl: 60, data: 'target.example.net' },
    { type: 'A', name: 'target.example.net', ttl: 60, data: '127.0.0.53' },
  ],
};

const CONFIG = `
answers: { denyCIDRs: ["10.0.0.0/8"] }
policies:
  - name: web
    sources: ["192.0.2.10/32", "2001:db8:1::10/128"]
    allow: ["*.example.com"]
  - name: metadata
    sources: ["192.0.2.20/32"]
    allow: ["*.example.com"]
    allowCIDRs: ["169.254.169.254/32"]
`;

function setup(extra = '', opts: { guard?: () => AnswerGuard } = {}) {
  const cfg = parseConfig(CONFIG + extra, 'guard.yaml');
  const index = PolicyIndex.compile(cfg.policies);
  const upstreamQueries: string[] = [];
  const upstreams = {
    async exchange(wire: Buffer, q: { name: string; qtype: number; id: number }) {
      upstreamQueries.push(q.name);
      const query = packet.decode(wire);
      return {
        wire: packet.encode({
          type: 'response',
          id: q.id,
          flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
          questions: query.questions,
          answers: UPSTREAM[q.name] ?? [],
          additionals: query.additionals,
        }),
      };
    },
  };
  const elements: Element[] = [];
  const programmer = {
    async add(els: Element[]) {
      elements.push(...els);
    },
  };
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(c, _e, cb) {
        lines.push(JSON.parse(String(c)));
        cb();
      },
    }),
  );
  const chain = buildChain(standardPlugins(cfg, { index: () => index, upstreams: upstreams as never, programmer, guard: opts.guard }), log);
  const guard = chain.plugins.find((p) => p.name === 'guard') as GuardPlugin;
  async function ask(source: string, name: string, type: packet.RecordType = 'A', edns = true) {
    const wire = packet.encode({
      type: 'query',
      id: 0x4242,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type, name, class: 'IN' }],
      additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as packet.Answer] : [],
    });
    const i = intake(wire, source, 5353, 'udp', { address: source.includes(':') ? '::1' : '127.0.0.1', port: 53 });
    if (i.kind !== 'query') throw new Error(i.why);
    const res = await chain.handle(i.req);
    const p = packet.decode(res.wire);
    const opt = (p.additionals ?? []).find((a) => a.type === 'OPT') as { options?: { code: number; data: Buffer }[] } | undefined;
    const ede = (opt?.options ?? []).filter((o) => o.code === 15).map((o) => ({ code: o.data.readUInt16BE(0), text: o.data.subarray(2).toString() }));
    return { rcode: (p as { rcode?: string }).rcode, id: p.id, answers: (p.answers ?? []).map((a) => (a as { data: unknown }).data), ede };
  }
  const programmed = () => elements.map((e) => [...e.destination].join('.'));
  return { cfg, chain, guard, ask, elements, programmed, lines, upstreamQueries };
}

t.test('only guarded addresses: SERVFAIL + EDE 15 naming the guard; nothing programmed; counted', async (t) => {
  const w = setup();
  for (const [name, type, addr] of [
    ['meta.example.com', 'A', '169.254.169.254 (link-local 169.254.0.0/16)'],
    ['loop.example.com', 'A', '127.0.0.1 (loopback 127.0.0.0/8)'],
    ['mapped.example.com', 'AAAA', '::ffff:a9fe:a9fe (link-local 169.254.0.0/16 (IPv4-mapped))'],
    ['internal.example.com', 'A', '10.96.0.1 (answers.denyCIDRs 10.0.0.0/8)'],
    ['chain.example.com', 'A', '127.0.0.53 (loopback 127.0.0.0/8)'],
  ] as const) {
    const r = await w.ask(type === 'AAAA' ? '2001:db8:1::10' : '192.0.2.10', name, type);
    t.equal(r.rcode, 'SERVFAIL', name);
    t.equal(r.id, 0x4242);
    t.same(r.answers, [], `${name}: no records`);
    t.same(r.ede, [{ code: 15, text: `dnswall answer guard: ${name} answered ${addr}` }], `${name}: EDE 15 Blocked`);
  }
  t.same(w.elements, [], 'nothing reached the programmer');
  t.same(w.guard.stats.byPolicy.get('web'), { stripped: 5, blocked: 5, excepted: 0, wouldStrip: 0 });
  const logged = w.lines.filter((l) => l.msg === 'answer guard blocked an answer with only guarded addresses; SERVFAIL');
  t.equal(logged.length, 5);
  t.match(logged[0], { source: '192.0.2.10', name: 'meta.example.com', addresses: ['169.254.169.254 (link-local 169.254.0.0/16)'], policy: 'web', blocked: true });
});

t.test('a mix: the client sees the public address only, and only it is programmed', async (t) => {
  const w = setup();
  const r = await w.ask('192.0.2.10', 'mix.example.com');
  t.equal(r.rcode, 'NOERROR');
  t.same(r.answers, ['198.18.0.10']);
  t.same(w.programmed(), ['198.18.0.10']);
  t.same(w.guard.stats.byPolicy.get('web'), { stripped: 1, blocked: 0, excepted: 0, wouldStrip: 0 });
  t.match(
    w.lines.find((l) => l.msg === 'answer guard removed guarded addresses'),
    { source: '192.0.2.10', name: 'mix.example.com', blocked: false },
  );
});

t.test('without EDNS the SERVFAIL carries no OPT', async (t) => {
  const w = setup();
  const r = await w.ask('192.0.2.10', 'meta.example.com', 'A', false);
  t.equal(r.rcode, 'SERVFAIL');
  t.same(r.ede, []);
});

t.test('allowCIDRs: kept for the excepted policy, not programmed; the shared cache never leaks it', async (t) => {
  // Every reply stored on its first miss (cache.admission first-miss): the point is what a hit shows another source.
  const w = setup('cache: { admission: first-miss }\n');
  // The excepted source first: the upstream reply (with the link-local address) is cached.
  const a = await w.ask('192.0.2.20', 'meta.example.com');
  t.equal(a.rcode, 'NOERROR');
  t.same(a.answers, ['169.254.169.254'], 'the metadata policy gets it');
  t.same(w.elements, [], 'no element: the static set holds (source, allowCIDR)');
  // Another source, from the cache: stripped.
  const b = await w.ask('192.0.2.10', 'meta.example.com');
  t.equal(b.rcode, 'SERVFAIL', 'a cache hit is guarded for the asking source');
  t.same(
    b.ede.map((e) => e.code),
    [15],
  );
  t.same(w.upstreamQueries, ['meta.example.com'], 'the second answer came from the cache');
  // And the excepted source again, from the cache.
  const c = await w.ask('192.0.2.20', 'meta.example.com');
  t.same(c.answers, ['169.254.169.254']);
  t.same(w.elements, []);
  t.same(w.guard.stats.byPolicy.get('metadata'), { stripped: 0, blocked: 0, excepted: 2, wouldStrip: 0 });
  t.same(w.guard.stats.byPolicy.get('web'), { stripped: 1, blocked: 1, excepted: 0, wouldStrip: 0 });
  // A mix for the excepted source: both addresses kept, only the public one programmed.
  const m = await w.ask('192.0.2.20', 'mix.example.com');
  t.same(m.answers, ['169.254.169.254', '198.18.0.10']);
  t.same(w.programmed(), ['198.18.0.10']);
  // The exception covers only its allowCIDRs: loopback is still stripped for that source.
  t.equal((await w.ask('192.0.2.20', 'loop.example.com')).rcode, 'SERVFAIL');
});

t.test('unmanaged sources are relayed unfiltered (not managed, not touched)', async (t) => {
  const w = setup();
  const r = await w.ask('203.0.113.99', 'meta.example.com');
  t.equal(r.rcode, 'NOERROR');
  t.same(r.answers, ['169.254.169.254']);
  t.equal(w.guard.stats.byPolicy.size, 0);
});

t.test('audit mode: everything answered, nothing stripped; would-strip logged and counted', async (t) => {
  const w = setup('enforce: { mode: audit }\n');
  const r = await w.ask('192.0.2.10', 'mix.example.com');
  t.same(r.answers, ['169.254.169.254', '198.18.0.10']);
  const m = await w.ask('192.0.2.10', 'meta.example.com');
  t.equal(m.rcode, 'NOERROR');
  t.same(m.answers, ['169.254.169.254']);
  t.same(w.guard.stats.byPolicy.get('web'), { stripped: 0, blocked: 0, excepted: 0, wouldStrip: 2 });
  t.equal(w.lines.filter((l) => l.msg === 'answer guard would remove guarded addresses (audit mode)').length, 2);
});

t.test('the guard is read per reply: a reload swaps the ranges', async (t) => {
  let g = new AnswerGuard([], []);
  const w = setup('cache: { enabled: false }\n', { guard: () => g });
  t.equal((await w.ask('192.0.2.10', 'public.example.com')).rcode, 'NOERROR');
  g = new AnswerGuard([{ cidr: '198.18.0.0/15' }], []);
  const r = await w.ask('192.0.2.10', 'public.example.com');
  t.equal(r.rcode, 'SERVFAIL');
  t.match(r.ede[0].text, /answers\.denyCIDRs 198\.18\.0\.0\/15/);
});

t.test('log lines are rate-limited', async (t) => {
  const w = setup();
  for (let i = 0; i < 60; i++) await w.ask('192.0.2.10', 'loop.example.com');
  const logged = w.lines.filter((l) => String(l.msg).startsWith('answer guard'));
  t.ok(logged.length >= 20 && logged.length < 60, `${logged.length} lines for 60 blocked answers`);
  t.equal(w.guard.stats.byPolicy.get('web')?.blocked, 60, 'every one counted');
});
