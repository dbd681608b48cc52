// Audit mode answers everything and programs nothing; unmanaged sources pass unfiltered.
import t from 'tap';
import dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { startForwarder, POLICY } from './harness';
import { dnsQuery, type DnsOk } from '../../lib/sandbox/agent-dns';
import type { PolicyPlugin } from '../../lib/plugins/policy/policy';

t.test('audit mode', async (t) => {
  const f = await startForwarder(POLICY + 'enforce: { mode: audit }\n');
  t.teardown(() => f.close());
  const r = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'evil.example.org', timeoutMs: 3000 })) as DnsOk;
  t.equal(r.rcode, 'NOERROR', 'would-be denial answered');
  t.equal(r.answers[0]?.data, '198.18.6.6');
  const ok = (await dnsQuery({ server: '127.0.0.1', port: f.port, name: 'api.example.com', timeoutMs: 3000 })) as DnsOk;
  t.equal(ok.rcode, 'NOERROR');
  t.equal(f.programmer.calls.length, 0, 'nothing programmed');
  const policy = f.chain.plugins.find((p) => p.name === 'policy') as PolicyPlugin;
  t.equal(policy.stats.wouldDeny, 1, 'counted');
  t.notOk(
    f.chain.plugins.some((p) => p.name === 'nftset'),
    'no nftset plugin in audit mode',
  );
});

t.test('a source no policy selects is answered unfiltered and not programmed', async (t) => {
  const f = await startForwarder(POLICY);
  t.teardown(() => f.close());
  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.2', () => r()));
  const reply = new Promise<dnsPacket.Packet>((r) => sock.once('message', (m) => r(dnsPacket.decode(m))));
  sock.send(dnsPacket.encode({ type: 'query', id: 9, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'evil.example.org' }] }), f.port, '127.0.0.1');
  const p = await reply;
  t.equal((p.flags ?? 0) & 0x0f, 0, 'NOERROR');
  t.equal((p.answers?.[0] as { data: string }).data, '198.18.6.6');
  t.equal(f.programmer.calls.length, 0);
});
