// An answer still upstream when the policy is reloaded is decided again by the new policy
// before anything is programmed.
import t from 'tap';
import { startForwarder, POLICY } from './harness';
import { dnsQuery, type DnsOk } from '../../lib/sandbox/agent-dns';

// cache off: each query must wait for the upstream
const SLOW = POLICY.replace('limits: { upstreamTimeoutMs: 300, commitTimeoutMs: 300 }', 'limits: { upstreamTimeoutMs: 5000, commitTimeoutMs: 300 }\ncache: { enabled: false }');

t.test('reload while the upstream answers', async (t) => {
  const f = await startForwarder(SLOW);
  t.teardown(() => f.close());
  const ask = () => dnsQuery({ server: '127.0.0.1', port: f.port, name: 'slow.example.com', timeoutMs: 6000 });

  t.test('no longer allowed: SERVFAIL, nothing programmed', async (t) => {
    f.programmer.calls.length = 0;
    const pending = ask(); // the zone server holds slow.example.com for 3 s
    await new Promise((r) => setTimeout(r, 300));
    void f.setPolicies(SLOW.replace('      - slow.example.com\n', ''));
    const r = (await pending) as DnsOk;
    t.equal(r.rcode, 'SERVFAIL');
    t.same(r.answers, []);
    t.equal(f.programmer.calls.length, 0);
  });

  t.test('still allowed, now on one port: programmed per the new rule', async (t) => {
    void f.setPolicies(SLOW);
    f.programmer.calls.length = 0;
    const pending = ask();
    await new Promise((r) => setTimeout(r, 300));
    void f.setPolicies(SLOW.replace('      - slow.example.com\n', '      - name: slow.example.com\n        ports: ["tcp/443"]\n'));
    const r = (await pending) as DnsOk;
    t.equal(r.rcode, 'NOERROR');
    t.same(
      f.programmer.elements.map((e) => [e.set, e.proto, e.port]),
      [['allow4p', 6, 443]],
    );
  });
});
