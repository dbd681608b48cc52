// The answer waits for the kernel: released only after the commit, SERVFAIL when it fails or is slow.
import t from 'tap';
import { startForwarder, POLICY } from './harness';
import { dnsQuery, type DnsOk } from '../../lib/sandbox/agent-dns';

t.test('held answers', async (t) => {
  const f = await startForwarder(POLICY);
  t.teardown(() => f.close());
  const ask = async () => (await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'api.example.com', timeoutMs: 3000 })) as DnsOk;

  t.test('the reply leaves only after the commit', async (t) => {
    f.programmer.delayMs = 150;
    f.programmer.committedAt.length = 0;
    const r = await ask();
    const received = Date.now();
    t.equal(r.rcode, 'NOERROR');
    t.equal(f.programmer.committedAt.length, 1);
    t.ok(received >= f.programmer.committedAt[0], 'received after commit');
    t.ok(r.ms >= 140, `held ${r.ms.toFixed(0)} ms`);
    f.programmer.delayMs = 0;
  });

  t.test('programming failure: SERVFAIL, no addresses released', async (t) => {
    f.programmer.fail = Object.assign(new Error('ENOENT: set allow4 not found'), { code: 'ENOENT' });
    const r = await ask();
    t.equal(r.rcode, 'SERVFAIL');
    t.same(r.answers, []);
    t.equal(r.ede[0]?.code, 0);
    f.programmer.fail = null;
  });

  t.test('a commit slower than commitTimeoutMs: SERVFAIL with EDE 14 (Not Ready)', async (t) => {
    f.programmer.delayMs = 800; // bound is 300 ms
    const r = await ask();
    t.equal(r.rcode, 'SERVFAIL');
    t.same(r.answers, []);
    t.equal(r.ede[0]?.code, 14);
    t.ok(r.ms < 700, `answered at the bound, not at the commit (${r.ms.toFixed(0)} ms)`);
    f.programmer.delayMs = 0;
  });

  t.test('after failures the path works again', async (t) => {
    const r = await ask();
    t.equal(r.rcode, 'NOERROR');
  });
});
