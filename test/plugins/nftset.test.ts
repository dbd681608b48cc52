// nftset in the real chain (policy → nftset → guard → cache → answer → forward) with a scripted
// upstream and a programmer fake: an upstream answer whose elements the programmer vouches for
// (holdsAll) goes at once, without add(); anything else — an element it does not vouch for, a
// cache hit (answered in the poll phase its query arrived in), a programmer without holdsAll —
// waits for add(). Every released answer is told to ChainDeps.committed.
import t from 'tap';
import pino from 'pino';
import * as packet from 'dns-packet';
import { parseConfig } from '../../lib/config/load';
import { PolicyIndex } from '../../lib/policy/index';
import { buildChain } from '../../lib/plugins/chain';
import { standardPlugins } from '../../lib/plugins/order';
import { intake } from '../../lib/server/request';
import type { Element } from '../../lib/nft/programmer';
import type { NftsetPlugin } from '../../lib/plugins/nftset/nftset';

const CONFIG = `
policies:
  - name: web
    sources: ["192.0.2.10/32"]
    allow: ["*.example.com"]
`;

interface Fake {
  added: Element[][];
  asked: Element[][];
  vouch: boolean;
}

function setup(opts: { cache?: boolean; withHoldsAll?: boolean } = {}) {
  const cfg = parseConfig(CONFIG + (opts.cache ? 'cache: { enabled: true, admission: first-miss }\n' : 'cache: { enabled: false }\n'), 'nftset.yaml');
  const index = PolicyIndex.compile(cfg.policies);
  const upstreams = {
    async exchange(wire: Buffer) {
      const query = packet.decode(wire);
      await new Promise((r) => setImmediate(r)); // a reply comes in a later turn, as over a socket
      return {
        server: { host: '192.0.2.53', port: 53, family: 4 },
        transport: 'udp',
        wire: packet.encode({
          type: 'response',
          id: query.id,
          flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
          questions: query.questions,
          answers: [{ type: 'A', name: query.questions![0].name, ttl: 60, data: '198.18.0.10' }],
        }),
      };
    },
  };
  const fake: Fake = { added: [], asked: [], vouch: false };
  const programmer = {
    add(els: Element[]) {
      fake.added.push(els);
      return Promise.resolve();
    },
    ...(opts.withHoldsAll === false
      ? {}
      : {
          holdsAll(els: readonly Element[]) {
            fake.asked.push([...els]);
            return fake.vouch;
          },
        }),
  };
  const committed: Element[][] = [];
  const chain = buildChain(
    standardPlugins(cfg, { index: () => index, upstreams: upstreams as never, programmer, committed: (els) => void committed.push(els) }),
    pino({ level: 'silent' }),
  );
  const nftset = chain.plugins.find((p) => p.name === 'nftset') as NftsetPlugin;
  async function ask(name: string) {
    const wire = packet.encode({ type: 'query', id: 7, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] });
    const i = intake(wire, '192.0.2.10', 5353, 'udp', { address: '127.0.0.1', port: 53 });
    if (i.kind !== 'query') throw new Error(i.why);
    const res = await chain.handle(i.req);
    const p = packet.decode(res.wire);
    return { rcode: (p as { rcode?: string }).rcode, answers: (p.answers ?? []).map((a) => (a as { data: unknown }).data) };
  }
  return { fake, committed, nftset, ask };
}

const dests = (els: Element[][]) => els.map((e) => e.map((x) => [...x.destination].join('.')));

t.test('an upstream answer the programmer vouches for goes without add(); one it does not, waits for add()', async (t) => {
  const w = setup();
  t.same(await w.ask('a.example.com'), { rcode: 'NOERROR', answers: ['198.18.0.10'] });
  t.same(dests(w.fake.asked), [['198.18.0.10']], 'holdsAll was asked about the answer');
  t.same(dests(w.fake.added), [['198.18.0.10']], 'not vouched for: add()');

  w.fake.vouch = true;
  t.same(await w.ask('a.example.com'), { rcode: 'NOERROR', answers: ['198.18.0.10'] });
  t.equal(w.fake.added.length, 1, 'vouched for: no add()');
  t.equal(w.committed.length, 2, 'both answers told to committed');
  t.same(w.fake.asked[1][0], w.committed[1][0], 'the same elements');
  t.equal(w.nftset.stats.programmedAnswers, 2, 'both count as programmed answers');
  t.equal(w.nftset.stats.elements, 2);
});

t.test('a cache hit is never vouched for at once: it waits for add() (its check phase)', async (t) => {
  const w = setup({ cache: true });
  w.fake.vouch = true;
  await w.ask('b.example.com'); // a miss: upstream, vouched for
  t.equal(w.fake.added.length, 0);
  t.equal(w.fake.asked.length, 1);
  t.same(await w.ask('b.example.com'), { rcode: 'NOERROR', answers: ['198.18.0.10'] }, 'the hit is answered');
  t.equal(w.fake.asked.length, 1, 'holdsAll not asked for the hit');
  t.same(dests(w.fake.added), [['198.18.0.10']], 'the hit went through add()');
  t.equal(w.committed.length, 2);
});

t.test('a programmer without holdsAll: every answer through add()', async (t) => {
  const w = setup({ withHoldsAll: false });
  await w.ask('c.example.com');
  await w.ask('c.example.com');
  t.equal(w.fake.added.length, 2);
  t.equal(w.committed.length, 2);
});
