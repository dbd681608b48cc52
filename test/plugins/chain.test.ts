// The chain runner: a query goes down until a stage answers, then up through the stages above
// that one; a stage may wait on either way; a stage that throws becomes SERVFAIL at that stage
// and the stages above still see the reply; nothing answers → SERVFAIL; debug timings.
import t from 'tap';
import pino from 'pino';
import { buildChain } from '../../lib/plugins/chain';
import type { Plugin, Request, Response, Stage } from '../../lib/plugins/types';
import { RCODE } from '../../lib/dns/constants';
import { query } from '../cache/replies';
import { capture } from '../log-capture';

const silent = pino({ level: 'silent' });

function request(): Request {
  const { wire, q } = query('a.example.com', { id: 7 });
  return {
    wire,
    query: q,
    peer: { address: '192.0.2.10', family: 4, port: 40000 },
    local: { address: '192.0.2.1', port: 53 },
    transport: 'udp',
    maxReplySize: 512,
    received: process.hrtime.bigint(),
    timings: {},
  };
}

const reply = (req: Request, tag: string): Response => ({ wire: Buffer.from(tag), rcode: RCODE.NOERROR, origin: 'upstream' });
const tagOf = (res: Response) => res.wire.toString();

/** A plugin that logs its halves into `trace`; `answer` makes its down answer, `wait` makes it async. */
function traced(name: string, trace: string[], o: { answer?: boolean; wait?: 'down' | 'up' | 'both'; throws?: 'down' | 'up'; rejects?: 'down' | 'up' } = {}): Plugin {
  const later = <T>(v: T): Promise<T> => new Promise((r) => setImmediate(() => r(v)));
  const stage: Stage = {
    down: (req) => {
      trace.push(`${name}.down`);
      if (o.throws === 'down') throw new Error(`${name} broke`);
      if (o.rejects === 'down') return Promise.reject(new Error(`${name} rejected`));
      const v = o.answer ? reply(req, name) : undefined;
      return o.wait === 'down' || o.wait === 'both' ? later(v) : v;
    },
    up: (_req, res) => {
      trace.push(`${name}.up(${tagOf(res)})`);
      if (o.throws === 'up') throw new Error(`${name} broke`);
      if (o.rejects === 'up') return Promise.reject(new Error(`${name} rejected`));
      const v = { ...res, wire: Buffer.from(`${tagOf(res)}+${name}`) };
      return o.wait === 'up' || o.wait === 'both' ? later(v) : v;
    },
  };
  return { name, setup: () => stage };
}

t.test('down to the stage that answers, then up through the stages above it only', async (t) => {
  for (const wait of [undefined, 'down', 'up', 'both'] as const) {
    const trace: string[] = [];
    const chain = buildChain(
      [traced('a', trace, { wait }), traced('b', trace, { wait }), traced('c', trace, { answer: true, wait }), traced('d', trace)],
      silent,
      undefined,
      false,
    );
    const res = await chain.handle(request());
    t.same(trace, ['a.down', 'b.down', 'c.down', 'b.up(c)', 'a.up(c+b)'], `order (wait: ${wait ?? 'none'})`);
    t.equal(tagOf(res), 'c+b+a', 'each stage above passes its own reply up');
  }
});

t.test('stages without a down or an up are passed over', async (t) => {
  const trace: string[] = [];
  const onlyUp: Plugin = { name: 'u', setup: () => ({ up: (_r, res) => (trace.push('u.up'), res) }) };
  const onlyDown: Plugin = { name: 'd', setup: () => ({ down: () => (trace.push('d.down'), undefined) }) };
  const empty: Plugin = { name: 'e', setup: () => ({}) };
  const chain = buildChain([onlyUp, empty, onlyDown, traced('z', trace, { answer: true })], silent, undefined, false);
  t.equal(tagOf(await chain.handle(request())), 'z');
  t.same(trace, ['d.down', 'z.down', 'u.up']);
});

t.test('nothing answers: SERVFAIL from below the last stage, seen by every stage on the way up', async (t) => {
  const trace: string[] = [];
  const chain = buildChain([traced('a', trace), traced('b', trace)], silent, undefined, false);
  await chain.handle(request());
  t.same(
    trace.map((x) => x.replace(/\(.*\)/, '')),
    ['a.down', 'b.down', 'b.up', 'a.up'],
  );
  const bare = await buildChain([], silent, undefined, false).handle(request());
  t.equal(bare.rcode, RCODE.SERVFAIL);
  t.equal(bare.wire.readUInt16BE(0), 7, "the client's ID");
});

t.test('a stage that throws or rejects: SERVFAIL from that stage, logged with its name; the stages above still see it', async (t) => {
  for (const o of [{ throws: 'down' }, { throws: 'up' }, { rejects: 'down' }, { rejects: 'up' }] as const) {
    const what = JSON.stringify(o);
    const trace: string[] = [];
    const cap = capture('error');
    const chain = buildChain([traced('a', trace), traced('b', trace, o), traced('c', trace, { answer: true })], cap.log, undefined, false);
    const res = await chain.handle(request());
    t.equal(res.rcode, RCODE.SERVFAIL, `${what}: SERVFAIL`);
    t.equal(trace[trace.length - 1].slice(0, 5), 'a.up(', `${what}: the stage above saw the reply`);
    const down = 'throws' in o ? o.throws === 'down' : o.rejects === 'down';
    t.equal(trace.includes('c.down'), !down, down ? `${what}: nothing below the broken stage ran` : `${what}: the stages below ran`);
    const line = cap.lines.find((l) => l.msg === 'plugin threw; SERVFAIL');
    t.equal(line?.plugin, 'b', `${what}: logged with the plugin that threw`);
  }
});

t.test('timed: each stage gets its inclusive time, nested inside the one above', async (t) => {
  const trace: string[] = [];
  const chain = buildChain([traced('a', trace), traced('b', trace, { wait: 'both' }), traced('c', trace, { answer: true })], silent, undefined, true);
  const req = request();
  await chain.handle(req);
  const { a, b, c } = req.timings;
  t.ok(a > 0 && b > 0 && c >= 0, `timings ${JSON.stringify(req.timings)}`);
  t.ok(a >= b && b >= c, 'inclusive: a ⊇ b ⊇ c');
  t.ok(a < 5e9, 'durations, not clock readings');
  const untimed = request();
  await buildChain([traced('a', [])], silent, undefined, false).handle(untimed);
  t.same(untimed.timings, {}, 'not timed: no clock reads, nothing recorded');
});
