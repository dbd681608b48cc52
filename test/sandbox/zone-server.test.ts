// The test upstream on loopback: answers, CNAME chains, HTTPS, misbehaviours, logging, reload.
import t from 'tap';
import { prng, randomBytes, testSeed } from '../prng';
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { loadZone } from '../../lib/sandbox/zone';
import { QueryLogLine, ZoneServer } from '../../lib/sandbox/zone-server';
import { dnsQuery, DnsOk } from '../../lib/sandbox/agent-dns';

const many = Array.from({ length: 30 }, (_, i) => ({ name: 'many.example.com', type: 'A', data: `198.18.1.${i + 1}` }));
const zoneFile = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 30, data: '198.18.0.10' },
    { name: 'api.example.com', type: 'AAAA', ttl: 30, data: '2001:db8:ff::10' },
    { name: 'www.example.com', type: 'CNAME', data: 'target.example.net' },
    { name: 'target.example.net', type: 'A', data: '198.18.0.20' },
    { name: 'svc.example.com', type: 'HTTPS', priority: 1, target: '.', alpn: ['h2'], ipv4hint: ['198.18.0.30'], ipv6hint: ['2001:db8:ff::30'] },
    { name: 'big.example.com', type: 'A', data: '198.18.0.50' },
    { name: 'slow.example.com', type: 'A', data: '198.18.0.51' },
    { name: 'mismatch.example.com', type: 'A', data: '198.18.0.52' },
    { name: 'wrongq.example.com', type: 'A', data: '198.18.0.53' },
    ...many,
  ],
  behaviours: {
    'slow.example.com': { delayMs: 200 },
    'big.example.com': { truncate: true },
    'mismatch.example.com': { wrongId: true },
    'wrongq.example.com': { wrongQuestion: true },
    'drop.example.com': { drop: true },
    'fail.example.com': { rcode: 'SERVFAIL' },
    'blocked.example.com': { rcode: 'REFUSED', ede: { code: 18, text: 'no policy' } },
  },
};

const log: QueryLogLine[] = [];
const server = new ZoneServer(loadZone(zoneFile), { log: (l) => log.push(l) });
let port = 0;

t.before(async () => {
  [{ port }] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
});
t.teardown(() => server.close());

const q = (name: string, extra: Partial<Parameters<typeof dnsQuery>[0]> = {}) => dnsQuery({ server: '127.0.0.1', port, name, timeoutMs: 1000, ...extra });
const ok = (r: Awaited<ReturnType<typeof dnsQuery>>): DnsOk => {
  if (!r.ok) throw new Error(`query failed: ${r.error} ${r.message}`);
  return r;
};

t.test('A, AAAA over UDP and TCP on the same port', async (t) => {
  t.same(ok(await q('api.example.com')).answers, [{ name: 'api.example.com', type: 'A', ttl: 30, data: '198.18.0.10' }]);
  t.same(
    ok(await q('api.example.com', { type: 'AAAA', tcp: true })).answers.map((a) => a.data),
    ['2001:db8:ff::10'],
  );
  const r = ok(await q('nope.example.com'));
  t.equal(r.rcode, 'NXDOMAIN');
  t.ok(r.aa, 'authoritative');
});

t.test('CNAME chain and HTTPS hints', async (t) => {
  t.same(
    ok(await q('www.example.com')).answers.map((a) => `${a.type} ${a.data}`),
    ['CNAME target.example.net', 'A 198.18.0.20'],
  );
  t.same(ok(await q('svc.example.com', { type: 'HTTPS' })).answers[0].data, { priority: 1, target: '.', alpn: ['h2'], ipv4hint: ['198.18.0.30'], ipv6hint: ['2001:db8:ff::30'] });
});

t.test('truncation: forced on UDP, by size without EDNS; TCP gets it all', async (t) => {
  const u = ok(await q('big.example.com'));
  t.ok(u.tc, 'TC over UDP');
  t.same(u.answers, []);
  const tc = ok(await q('big.example.com', { tcp: true }));
  t.notOk(tc.tc);
  t.equal(tc.answers.length, 1);
  t.ok(ok(await q('many.example.com', { edns: false })).tc, '30 A records exceed 512 bytes');
  t.equal(ok(await q('many.example.com')).answers.length, 30, 'they fit in 1232 with EDNS');
});

function raw(name: string): Promise<dnsPacket.Packet> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no reply'));
    }, 1000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(dnsPacket.decode(m));
    });
    s.send(dnsPacket.encode({ type: 'query', id: 4242, flags: 256, questions: [{ name, type: 'A', class: 'IN' }] }), port, '127.0.0.1');
  });
}

t.test('wrong ID and wrong question', async (t) => {
  t.equal((await raw('mismatch.example.com')).id, 4243);
  const w = await raw('wrongq.example.com');
  t.equal(w.id, 4242);
  t.equal(w.questions![0].name, 'wrong-question.wrongq.example.com');
  const strict = await q('mismatch.example.com', { timeoutMs: 300 });
  t.equal(strict.ok ? 'ok' : strict.error, 'ETIMEDOUT', 'a careful client ignores it');
  t.equal(ok(await q('wrongq.example.com', { strict: false })).question, 'wrong-question.wrongq.example.com');
});

t.test('drop, delay and rcode', async (t) => {
  const d = await q('drop.example.com', { timeoutMs: 300 });
  t.equal(d.ok ? 'ok' : d.error, 'ETIMEDOUT');
  const s = ok(await q('slow.example.com'));
  t.ok(s.ms >= 190, `delayed ${s.ms.toFixed(0)} ms`);
  t.equal(ok(await q('fail.example.com')).rcode, 'SERVFAIL');
  t.match(ok(await q('blocked.example.com')), { rcode: 'REFUSED', ede: [{ code: 18, text: 'no policy' }] }, 'EDE with EDNS');
  t.same(ok(await q('blocked.example.com', { edns: false })).ede, [], 'no OPT, no EDE');
});

t.test('each query is logged', async (t) => {
  log.length = 0;
  await q('api.example.com', { type: 'AAAA', tcp: true });
  t.same(log, [{ q: 'api.example.com', type: 'AAAA', transport: 'tcp', src: '127.0.0.1' }]);
});

/** Polls `cond` every 10 ms until it holds; fails the wait after `deadlineMs` (a bound on waiting, not on the behaviour). */
async function until(cond: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('a header claiming 40k records is refused before dns2 parses it', async (t) => {
  // dns2 would try to parse every claimed record (1.4 s of CPU unguarded): the guard's count says
  // it never got the message, whatever the machine's load.
  const s = dgram.createSocket('udp4');
  t.teardown(() => s.close());
  const g = server.parseGuard;
  const before = { ...g };
  s.send(Buffer.from('ca2e9b947ccf90d2c882414c', 'hex'), port, '127.0.0.1');
  await until(() => g.refused > before.refused, 10_000, 'the guard to see the datagram');
  t.same({ refused: g.refused - before.refused, parsed: g.parsed - before.parsed }, { refused: 1, parsed: 0 });
});

t.test('hostile input does not stop the server', async (t) => {
  const s = dgram.createSocket('udp4');
  const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'api.example.com', type: 'A', class: 'IN' }] });
  const rand = prng(testSeed(0x5eed));
  for (let i = 0; i < 300; i++) {
    // i === 1: a header claiming 40k records in 12 bytes (cost dns2 1.4 s of CPU unguarded)
    const junk = i === 0 ? resp : i === 1 ? Buffer.from('ca2e9b947ccf90d2c882414c', 'hex') : randomBytes(rand, 1 + (i % 60));
    s.send(junk, port, '127.0.0.1');
  }
  await new Promise<void>((res) => {
    const c = net.connect(port, '127.0.0.1', () => {
      c.end(Buffer.from([0, 5, 1, 2, 3, 4, 5, 0, 9]));
    });
    c.on('error', () => res());
    c.on('close', () => res());
  });
  await new Promise((r) => setTimeout(r, 100));
  s.close();
  const r = ok(await q('api.example.com'));
  t.equal(r.answers.length, 1, 'still answers');
});

t.test('setZone swaps the data', async (t) => {
  server.setZone(loadZone({ records: [{ name: 'api.example.com', type: 'A', data: '198.18.9.9' }] }));
  t.same(
    ok(await q('api.example.com')).answers.map((a) => a.data),
    ['198.18.9.9'],
  );
  server.setZone(loadZone(zoneFile));
});
