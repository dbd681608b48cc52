// Upstream trouble reaches the client as SERVFAIL or is survived by failover; never a wrong answer.
import t from 'tap';
import dgram from 'node:dgram';
import { startForwarder, POLICY } from './harness';
import { dnsQuery, type DnsOk } from '../../lib/sandbox/agent-dns';

t.test('failover past a silent upstream', async (t) => {
  const silent = dgram.createSocket('udp4'); // bound, reads, never answers
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => silent.close());
  const f = await startForwarder(POLICY, { extraUpstreamFirst: `127.0.0.1:${silent.address().port}` });
  t.teardown(() => f.close());
  let seen = 0;
  silent.on('message', () => seen++);
  const r = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'api.example.com', timeoutMs: 3000 })) as DnsOk;
  t.equal(r.rcode, 'NOERROR');
  t.equal(r.answers[0]?.data, '198.18.0.10');
  t.equal(seen, 1, 'the first upstream was tried');
  t.ok(r.ms >= 250, `answer came after the 300 ms try timeout (${r.ms.toFixed(0)} ms)`);
});

t.test('replies with a wrong ID or question are rejected', async (t) => {
  const f = await startForwarder(POLICY);
  t.teardown(() => f.close());
  for (const name of ['badid.example.com', 'badq.example.com']) {
    f.programmer.calls.length = 0;
    const r = (await dnsQuery({ server: '127.0.0.1', port: f.port, name, timeoutMs: 3000 })) as DnsOk;
    t.equal(r.rcode, 'SERVFAIL', `${name}: the bad reply was not relayed`);
    t.equal(f.programmer.calls.length, 0, `${name}: nothing programmed`);
  }
});

t.test('an upstream slower than the timeout gives SERVFAIL, the next query still works', async (t) => {
  const f = await startForwarder(POLICY);
  t.teardown(() => f.close());
  const slow = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'slow.example.com', timeoutMs: 3000 })) as DnsOk;
  t.equal(slow.rcode, 'SERVFAIL');
  const ok = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'api.example.com', timeoutMs: 3000 })) as DnsOk;
  t.equal(ok.rcode, 'NOERROR');
});
