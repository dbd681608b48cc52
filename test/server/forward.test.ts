// Allowed queries are forwarded and programmed; denied ones are answered here and go nowhere.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// async: the forwarder under test runs in this process, a sync child would block it
const dig = async (args: string[]) => (await promisify(execFile)('dig', args, { encoding: 'utf8' })).stdout;
import { startForwarder, POLICY } from './harness';
import { dnsQuery } from '../../lib/sandbox/agent-dns';

t.test('forwarder on loopback', async (t) => {
  const f = await startForwarder(POLICY);
  t.teardown(() => f.close());
  const q = async (name: string, type = 'A', tcp = false, edns = true) => {
    const r = await dnsQuery({ server: '127.0.0.1', port: f.port, name, type, tcp, edns, timeoutMs: 3000 });
    if (!r.ok) throw new Error(`${name}: ${r.error} ${r.message ?? ''}`);
    return r;
  };

  t.test('allowed A is answered and its address programmed for the source', async (t) => {
    f.programmer.calls.length = 0;
    const r = await q('api.example.com');
    t.equal(r.rcode, 'NOERROR');
    t.same(
      r.answers.map((a) => a.data),
      ['198.18.0.10'],
    );
    const els = f.programmer.elements;
    t.equal(els.length, 1);
    t.equal(els[0].set, 'allow4');
    t.same([...els[0].source], [127, 0, 0, 1]);
    t.same([...els[0].destination], [198, 18, 0, 10]);
    t.equal(els[0].timeoutMs, (30 + 5) * 1000, 'clamp(30, 10, 3600) + grace 5');
    t.equal(els[0].comment, 'api.example.com');
  });

  t.test('name case and trailing dot do not change the verdict', async (t) => {
    const r = await q('API.Example.COM.');
    t.equal(r.rcode, 'NOERROR');
    t.equal(r.answers.length, 1);
  });

  t.test('a CNAME chain programs the final addresses under the query name', async (t) => {
    f.programmer.calls.length = 0;
    const r = await q('www.example.com');
    t.equal(r.rcode, 'NOERROR');
    const els = f.programmer.elements;
    t.same(els.map((e) => [...e.destination].join('.')).sort(), ['198.18.0.20', '198.18.0.21']);
    t.ok(els.every((e) => e.comment === 'www.example.com'));
  });

  t.test('AAAA asked from an IPv4 source programs nothing of the other family', async (t) => {
    f.programmer.calls.length = 0;
    const r = await q('api.example.com', 'AAAA');
    t.equal(r.answers[0]?.data, '2001:db8:ff::10');
    t.equal(f.programmer.elements.length, 0);
  });

  t.test('HTTPS ipv4hint is programmed', async (t) => {
    f.programmer.calls.length = 0;
    await q('svc.example.com', 'HTTPS');
    t.same(
      f.programmer.elements.map((e) => [...e.destination].join('.')),
      ['198.18.0.40'],
    );
  });

  t.test('TTLs are capped at ttl.max for the client and the element', async (t) => {
    f.programmer.calls.length = 0;
    const r = await q('long.example.com');
    t.equal(r.answers[0].ttl, 3600, 'client TTL = min(7200, max 3600)');
    t.equal(f.programmer.elements[0].timeoutMs, (3600 + 5) * 1000);
  });

  t.test('TTL 0 answers live ttl.min + grace', async (t) => {
    f.programmer.calls.length = 0;
    const r = await q('zero.example.com');
    t.equal(r.answers[0].ttl, 0);
    t.equal(f.programmer.elements[0].timeoutMs, (10 + 5) * 1000);
  });

  t.test('ports rules program proto . port elements', async (t) => {
    f.programmer.calls.length = 0;
    // not in the zone: NXDOMAIN, nothing to program, but the verdict is allow (forwarded)
    const before = f.upstreamQueries.length;
    const r = await q('a.b.ports.example.com');
    t.equal(r.rcode, 'NXDOMAIN');
    t.equal(f.upstreamQueries.length, before + 1, 'forwarded');
    t.equal(r.ede.length, 0, 'an upstream NXDOMAIN carries no EDE of ours');
  });

  t.test('denied: NXDOMAIN with EDE 18, nothing forwarded or programmed', async (t) => {
    f.programmer.calls.length = 0;
    const before = f.upstreamQueries.length;
    const r = await q('evil.example.org');
    t.equal(r.rcode, 'NXDOMAIN');
    t.equal(r.answers.length, 0);
    t.equal(r.ede[0]?.code, 18);
    t.match(r.ede[0]?.text, /evil\.example\.org.*loop/);
    t.equal(f.upstreamQueries.length, before, 'upstream saw nothing');
    t.equal(f.programmer.calls.length, 0);
  });

  t.test('denied without EDNS: no OPT at all', async (t) => {
    const r = await q('evil.example.org', 'A', false, false);
    t.equal(r.rcode, 'NXDOMAIN');
    t.same(r.ede, []);
  });

  t.test('dig sees the denial and the EDE', async (t) => {
    const out = await dig(['+tries=1', '+time=3', '-p', String(f.port), '@127.0.0.1', 'evil.example.org', 'A']);
    t.match(out, /status: NXDOMAIN/);
    t.match(out, /EDE: 18 \(Prohibited\)/);
  });

  t.test('dig over TCP: allowed and programmed the same way', async (t) => {
    f.programmer.calls.length = 0;
    const out = await dig(['+tcp', '+tries=1', '+time=3', '-p', String(f.port), '@127.0.0.1', 'api.example.com', 'A']);
    t.match(out, /status: NOERROR/);
    t.match(out, /198\.18\.0\.10/);
    t.equal(f.programmer.elements.length, 1);
  });

  t.test('truncated upstream UDP reply: retried over TCP, full answer to a TCP client', async (t) => {
    f.programmer.calls.length = 0;
    const r = await q('big.example.com', 'A', true);
    t.equal(r.answers.length, 60);
    t.equal(f.programmer.elements.length, 60);
  });

  t.test('truncated, and too big for the UDP client: TC=1 so it retries over TCP', async (t) => {
    f.programmer.calls.length = 0;
    const r = await q('big.example.com', 'A', false, false); // no EDNS: 512-byte limit
    t.equal(r.tc, true);
    t.equal(r.answers.length, 0);
    t.equal(f.programmer.elements.length, 0, 'nothing programmed for an answer the client did not get');
  });
});

t.test('an answer with more addresses than limits.maxAddressesPerName is not released', async (t) => {
  const f = await startForwarder(
    POLICY.replace('limits: { upstreamTimeoutMs: 300, commitTimeoutMs: 300 }', 'limits: { upstreamTimeoutMs: 300, commitTimeoutMs: 300, maxAddressesPerName: 50 }'),
  );
  t.teardown(() => f.close());
  const r = await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'big.example.com', tcp: true, timeoutMs: 3000 });
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.rcode, 'SERVFAIL', '60 addresses > 50');
  t.same(r.answers, []);
  t.match(r.ede[0]?.text, /60 addresses exceed limits\.maxAddressesPerName 50/);
  t.equal(f.programmer.calls.length, 0, 'nothing half-programmed');
});
