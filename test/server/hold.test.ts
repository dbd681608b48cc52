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
    // The commit finishes only when the test releases it, after the answer: an answer that
    // waited for the commit could not arrive at all (no clock decides this).
    let release = () => {};
    f.programmer.gate = new Promise<void>((r) => {
      release = r;
    });
    f.programmer.committedAt.length = 0;
    const calls = f.programmer.calls.length;
    const r = await ask();
    t.equal(r.rcode, 'SERVFAIL');
    t.same(r.answers, []);
    t.equal(r.ede[0]?.code, 14);
    t.equal(f.programmer.calls.length, calls + 1, 'the answer was handed to the programmer');
    t.equal(f.programmer.committedAt.length, 0, 'answered while the commit was still pending');
    t.ok(r.ms >= 290, `held for the bound (commitTimeoutMs 300) first (${r.ms.toFixed(0)} ms)`);
    f.programmer.gate = null;
    release();
  });

  t.test('after failures the path works again', async (t) => {
    const r = await ask();
    t.equal(r.rcode, 'NOERROR');
  });
});
