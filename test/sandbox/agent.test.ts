// The pod agent and its client, run on loopback without namespaces (no root needed).
import t from 'tap';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { Agent } from '../../lib/sandbox/agent';
import { loadZone } from '../../lib/sandbox/zone';
import { ZoneServer } from '../../lib/sandbox/zone-server';

const direct = { spawn: (_ns: string, argv: string[]) => spawn(argv[0], argv.slice(1), { stdio: 'pipe' }) };

// a stand-in for the web server: banner, then echo
const web = net.createServer((s) => {
  s.on('error', () => {});
  s.write(`HELLO ${s.localAddress}:${s.localPort}\n`);
  s.pipe(s);
});
const zone = new ZoneServer(
  loadZone({
    records: [
      { name: 'loop.example.com', type: 'A', data: '127.0.0.1' },
      { name: 'svc.example.com', type: 'HTTPS', ipv4hint: ['198.18.0.30'] },
    ],
  }),
);
let webPort = 0,
  dnsPort = 0,
  closedPort = 0,
  agent: Agent;

t.before(async () => {
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webPort = (web.address() as net.AddressInfo).port;
  [{ port: dnsPort }] = await zone.listen([{ host: '127.0.0.1', port: 0 }]);
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  closedPort = (tmp.address() as net.AddressInfo).port;
  await new Promise((r) => tmp.close(r));
  agent = await Agent.start(direct, 'loopback');
});
t.teardown(async () => {
  await agent.stop();
  web.close();
  await zone.close();
});

t.test('ping and bad commands', async (t) => {
  t.equal((await agent.ping()).ok, true);
  t.match(await agent.request({ op: 'nope' }), { ok: false, error: 'EBADREQ', message: /unknown op/ });
  t.match(await agent.request({ op: 'dns', server: 5 }), { ok: false, error: 'EBADREQ', message: /server/ });
  t.match(await agent.request({ op: 'dns', server: 'not-an-ip', name: 'x' }), { ok: false, error: 'EINVAL' });
  t.match(await agent.request({ op: 'dns', server: '127.0.0.1', name: 'x', type: 'BOGUS' }), { ok: false, message: /unknown record type/ });
});

t.test('dns over UDP and TCP, HTTPS decoded', async (t) => {
  t.match(await agent.dns({ server: '127.0.0.1', port: dnsPort, name: 'loop.example.com' }), { ok: true, rcode: 'NOERROR', answers: [{ type: 'A', data: '127.0.0.1' }] });
  t.match(await agent.dns({ server: '127.0.0.1', port: dnsPort, name: 'svc.example.com', type: 'HTTPS', tcp: true }), {
    ok: true,
    answers: [{ type: 'HTTPS', data: { priority: 1, target: '.', ipv4hint: ['198.18.0.30'] } }],
  });
  t.match(await agent.dns({ server: '127.0.0.1', port: closedPort, name: 'x', timeoutMs: 500 }), { ok: false, error: 'ECONNREFUSED' });
});

t.test('connect, open/check/close', async (t) => {
  t.match(await agent.connect('127.0.0.1', webPort), { ok: true, banner: `HELLO 127.0.0.1:${webPort}` });
  t.match(await agent.connect('127.0.0.1', closedPort), { ok: false, error: 'ECONNREFUSED' });
  const o = await agent.open('127.0.0.1', webPort);
  if (!o.ok || o.handle === undefined) throw new Error('open failed');
  t.match(await agent.check(o.handle), { ok: true });
  t.match(await agent.close(o.handle), { ok: true });
  t.match(await agent.check(o.handle), { ok: false, error: 'EBADHANDLE' });
});

t.test('many requests at once come back to their callers', async (t) => {
  const rs = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 ? agent.dns({ server: '127.0.0.1', port: dnsPort, name: 'loop.example.com' }) : agent.connect('127.0.0.1', webPort))),
  );
  t.equal(rs.filter((r) => r.ok).length, 200);
  t.ok(
    rs.every((r, i) => (i % 2 ? 'answers' in r : 'banner' in r)),
    'each result matches its request',
  );
});

t.test('resolveConnect counts what failed', async (t) => {
  t.match(await agent.resolveConnect({ server: '127.0.0.1', dnsPort, name: 'loop.example.com', port: webPort, count: 50 }), {
    ok: true,
    done: 50,
    dnsFail: 0,
    noAddress: 0,
    connectFail: 0,
  });
  t.match(await agent.resolveConnect({ server: '127.0.0.1', dnsPort, name: 'loop.example.com', port: closedPort, count: 5 }), {
    ok: true,
    done: 5,
    connectFail: 5,
    errors: [/ECONNREFUSED/],
  });
  t.match(await agent.resolveConnect({ server: '127.0.0.1', dnsPort, name: 'nope.example.com', port: webPort, count: 3 }), { ok: true, noAddress: 3, connectFail: 0 });
});
