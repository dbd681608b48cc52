// The ruleset on a router namespace between a "pod" and a "server": what the allow sets hold
// passes, everything else new is rejected, and a Service-like DNAT is matched on the
// ORIGINAL destination (ct original ip daddr / proto-dst). Traffic stays in our namespaces.
import { spawn, type ChildProcess } from 'child_process';
import { runInNetns, extraNetns, sh, nft } from './netns';
import { testConfig } from './fixtures';
import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';
import { SetProgrammer } from '../../lib/nft/programmer';
import type { Tap } from './netns';

const POD = '10.244.1.5',
  SERVER = '198.51.100.2',
  OTHER = '198.51.100.3',
  SERVICE = '10.96.0.10';

/** TCP connect from the pod namespace: 'connected' or the error code. */
function connect(podNs: string, host: string, port: number): string {
  const code = `const s=require('net').connect(${port},'${host}');s.setTimeout(1500);s.on('connect',()=>{console.log('connected');s.destroy()});s.on('error',e=>console.log(e.code));s.on('timeout',()=>{console.log('TIMEOUT');s.destroy()})`;
  return sh('ip', ['netns', 'exec', podNs, process.execPath, '-e', code]).trim();
}

function setup(pod: string, srv: string): void {
  sh('ip', ['link', 'add', 'vpod', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
  sh('ip', ['link', 'add', 'vsrv', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', srv]);
  sh('ip', ['addr', 'add', '10.244.1.1/24', 'dev', 'vpod']);
  sh('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vsrv']);
  for (const d of ['vpod', 'vsrv', 'lo']) sh('ip', ['link', 'set', d, 'up']);
  sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']); // this namespace's own sysctl
  const inNs = (ns: string, ...a: string[]) => sh('ip', ['netns', 'exec', ns, ...a]);
  inNs(pod, 'ip', 'addr', 'add', `${POD}/24`, 'dev', 'eth0');
  inNs(srv, 'ip', 'addr', 'add', `${SERVER}/24`, 'dev', 'eth0');
  inNs(srv, 'ip', 'addr', 'add', `${OTHER}/24`, 'dev', 'eth0');
  for (const ns of [pod, srv]) {
    inNs(ns, 'ip', 'link', 'set', 'eth0', 'up');
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  inNs(pod, 'ip', 'route', 'add', 'default', 'via', '10.244.1.1');
  inNs(srv, 'ip', 'route', 'add', 'default', 'via', '198.51.100.1');
  // kube-proxy's part: Service 10.96.0.10:80 → server:8080 (own table, untouched by dnswall)
  sh(
    'nft',
    ['-f', '-'],
    `add table ip svc
add chain ip svc pre { type nat hook prerouting priority dstnat; }
add rule ip svc pre ip daddr ${SERVICE} tcp dport 80 dnat to ${SERVER}:8080
`,
  );
}

function server(srv: string): ChildProcess {
  const code = `const net=require('net');for(const h of ['${SERVER}','${OTHER}'])for(const p of [8080,9090])net.createServer(c=>c.end()).listen(p,h);setTimeout(()=>process.exit(0),60000)`;
  return spawn('ip', ['netns', 'exec', srv, process.execPath, '-e', code], { stdio: 'ignore' });
}

runInNetns(
  __filename,
  (t: Tap) => {
    t.test('allowed passes, the rest is rejected, DNAT matched on the original destination', async (t) => {
      const [pod, srv] = extraNetns();
      setup(pod, srv);
      const s = server(srv);
      t.teardown(() => {
        s.kill();
      });
      await new Promise((r) => setTimeout(r, 500));
      const cfg = testConfig();
      cfg.policies[0].allowCIDRs = [];
      await installRuleset(renderRuleset(cfg, { managed: { v4: ['10.244.1.0/24'], v6: [] } }));
      t.equal(connect(pod, SERVER, 8080), 'ECONNREFUSED', 'nothing allowed yet: TCP reset from the firewall');

      const p = new SetProgrammer({ table: 'dnswall' });
      await p.open();
      const b = (a: string) => Buffer.from(a.split('.').map(Number));
      await p.add([
        // lives longer than this file may run (a loaded machine took 61 s), so only the reloads can remove them
        { set: 'allow4', source: b(POD), destination: b(OTHER), timeoutMs: 300_000, comment: 'other.example.com' },
        { set: 'allow4p', source: b(POD), destination: b(SERVICE), proto: 6, port: 80, timeoutMs: 300_000, comment: 'svc.example.com' },
      ]);
      t.equal(connect(pod, OTHER, 9090), 'connected', 'allow4: any port of an allowed address');
      t.equal(connect(pod, SERVICE, 80), 'connected', 'allow4p on the Service IP:port, reached through DNAT');
      t.equal(connect(pod, SERVER, 8080), 'ECONNREFUSED', 'the DNAT target itself is not allowed');
      t.equal(connect(pod, SERVER, 9090), 'ECONNREFUSED');
      t.match(nft('list', 'counter', 'inet', 'dnswall', 'denied4'), /packets [1-9]/, 'denials counted');
      await p.close();

      const drop = testConfig({ enforce: { mode: 'enforce', action: 'drop' } });
      await installRuleset(renderRuleset(drop, { managed: { v4: ['10.244.1.0/24'], v6: [] } }));
      t.equal(connect(pod, SERVER, 8080), 'TIMEOUT', 'action drop: silence');
      t.equal(connect(pod, OTHER, 9090), 'connected', 'reload kept the allow set');
      const audit = testConfig({ enforce: { mode: 'audit', action: 'reject' } });
      await installRuleset(renderRuleset(audit, { managed: { v4: ['10.244.1.0/24'], v6: [] } }));
      t.equal(connect(pod, SERVER, 8080), 'connected', 'audit: counted, not blocked');
    });
  },
  { extra: 2 },
);
