// nftset in the real chain (policy → nftset → guard → cache → answer → forward) with a scripted
// upstream and a programmer fake: an upstream answer whose elements the programmer vouches for
// (hold(elements, now = true) returns null) goes at once; anything else — elements it does not
// vouch for, a cache hit (answered in the poll phase its query arrived in: now = false), a
// programmer without hold — waits for the commit. Every released answer is told to
// ChainDeps.committed.
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
  /** what waited for a commit (hold() that did not vouch, or add()) */
  added: Element[][];
  /** hold() calls with their `now` */
  asked: [Element[], boolean][];
  vouch: boolean;
}

function setup(opts: { cache?: boolean; withHold?: boolean } = {}) {
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
    ...(opts.withHold === false
      ? {}
      : {
          hold(els: Element[], now: boolean) {
            fake.asked.push([els, now]);
            if (now && fake.vouch) return null;
            fake.added.push(els);
            return Promise.resolve();
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

t.test('an upstream answer the programmer vouches for goes without a commit; one it does not, waits for it', async (t) => {
  const w = setup();
  t.same(await w.ask('a.example.com'), { rcode: 'NOERROR', answers: ['198.18.0.10'] });
  t.same(
    w.fake.asked.map(([els, now]) => [dests([els])[0], now]),
    [[['198.18.0.10'], true]],
    'hold() was asked, as an upstream answer (now)',
  );
  t.same(dests(w.fake.added), [['198.18.0.10']], 'not vouched for: it waited for the commit');

  w.fake.vouch = true;
  t.same(await w.ask('a.example.com'), { rcode: 'NOERROR', answers: ['198.18.0.10'] });
  t.equal(w.fake.added.length, 1, 'vouched for: no commit');
  t.equal(w.committed.length, 2, 'both answers told to committed');
  t.same(w.fake.asked[1][0], w.committed[1], 'the same elements');
  t.equal(w.nftset.stats.programmedAnswers, 2, 'both count as programmed answers');
  t.equal(w.nftset.stats.elements, 2);
});

t.test('a cache hit is never vouched for at once: hold(…, now = false), it waits (its check phase)', async (t) => {
  const w = setup({ cache: true });
  w.fake.vouch = true;
  await w.ask('b.example.com'); // a miss: upstream, vouched for
  t.equal(w.fake.added.length, 0);
  t.same(await w.ask('b.example.com'), { rcode: 'NOERROR', answers: ['198.18.0.10'] }, 'the hit is answered');
  t.same(
    w.fake.asked.map(([, now]) => now),
    [true, false],
    'the miss asked with now, the hit without',
  );
  t.same(dests(w.fake.added), [['198.18.0.10']], 'the hit waited for the commit');
  t.equal(w.committed.length, 2);
});

t.test('a programmer without hold: every answer through add()', async (t) => {
  const w = setup({ withHold: false });
  await w.ask('c.example.com');
  await w.ask('c.example.com');
  t.equal(w.fake.added.length, 2);
  t.equal(w.committed.length, 2);
});
