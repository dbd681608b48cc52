// The Daemon's wiring without root: the real Daemon, chain, listeners and SetProgrammer, with the
// kernel behind test/nft's fake transport and a recording ruleset installer. An answer leaves
// only after its batch is acked; a reload installs the new ruleset and revokes what the new
// policy no longer allows; stop() closes the programmer. test/system runs the same on a real kernel.
import t from 'tap';
import { startForwarder, POLICY } from './harness';
import { FakeKernel } from '../nft/helpers/fake-kernel';
import { SetProgrammer } from '../../lib/nft/programmer';
import { dnsQuery, type DnsOk } from '../../lib/sandbox/agent-dns';

const LOOP = Buffer.from([127, 0, 0, 1]);

t.test('daemon on a fake kernel', async (t) => {
  const k = new FakeKernel('dnswall');
  let made = 0;
  const f = await startForwarder(POLICY, {
    programmer: (o) => {
      made++;
      return new SetProgrammer({ ...o, transport: k.transport });
    },
  });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : f.close()));
  const ask = async (name: string) => (await dnsQuery({ server: '127.0.0.1', port: f.port, name, timeoutMs: 3000 })) as DnsOk;

  t.test('start: the ruleset installed once, one programmer opened on the configured table', async (t) => {
    t.equal(f.rulesets.length, 1);
    t.match(f.rulesets[0], /^add table inet dnswall$/m);
    t.match(f.rulesets[0], /^add set inet dnswall cgroup4 \{ type cgroupsv2 \. ipv4_addr; flags timeout; size \d+; \}$/m);
    t.equal(made, 1);
  });

  t.test('the answer waits for the kernel ack', async (t) => {
    k.hold = true;
    let answered = false;
    const pending = ask('api.example.com').then((r) => {
      answered = true;
      return r;
    });
    const deadline = Date.now() + 2000;
    while (k.held.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    t.equal(k.held.length, 1, 'one batch sent');
    t.notOk(answered, 'no answer before the commit');
    t.notOk(k.has('allow4', Buffer.concat([LOOP, Buffer.from([198, 18, 0, 10])])), 'not in the kernel yet');
    k.ack();
    k.hold = false;
    const r = await pending;
    t.equal(r.rcode, 'NOERROR');
    t.ok(k.has('allow4', Buffer.concat([LOOP, Buffer.from([198, 18, 0, 10])])), 'committed');
    t.equal(k.elements('allow4')[0].comment, 'api.example.com');
  });

  t.test('a failed batch: SERVFAIL', async (t) => {
    k.failNext.push(Object.assign(new Error('set full'), { code: 'ENFILE' }));
    const r = await ask('long.example.com');
    t.equal(r.rcode, 'SERVFAIL');
    t.notOk(k.has('allow4', Buffer.concat([LOOP, Buffer.from([198, 18, 0, 30])])));
  });

  t.test('reload: new ruleset, and an element the new policy denies is revoked', async (t) => {
    t.equal((await ask('www.example.com')).rcode, 'NOERROR');
    t.equal(k.elements('allow4').length, 3, 'api + two edge addresses');
    await f.setPolicies(POLICY.replace('      - www.example.com\n', ''));
    t.equal(f.rulesets.length, 2);
    t.same(
      k.elements('allow4').map((e) => e.comment),
      ['api.example.com'],
      'www.example.com revoked',
    );
  });

  t.test('stop closes the programmer and its sockets', async (t) => {
    await f.close();
    stopped = true;
    t.equal(k.opened, k.closed, `${k.opened} transports opened, all closed`);
  });
});
