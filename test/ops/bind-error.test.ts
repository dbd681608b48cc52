// A listen address that cannot be bound: `dnswall serve` exits 2 naming the address, the
// transport, the errno and the usual fix (EADDRINUSE, EACCES, EADDRNOTAVAIL).
import path from 'path';
import fs from 'fs';
import os from 'os';
import dgram from 'dgram';
import { spawnSync } from 'child_process';
import { runInNetns, sh } from '../nft/netns';

const BIN = path.join(__dirname, '..', '..', 'bin', 'dnswall.js');

runInNetns(__filename, (t) => {
  sh('ip', ['link', 'set', 'lo', 'up']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-bind-'));
  fs.chmodSync(dir, 0o755);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // Audit mode: nothing is installed, so only the bind can fail.
  const config = (listen: string) => {
    const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(file, `listen: ["${listen}"]\nupstreams: ["127.0.0.1:9"]\nenforce: { mode: audit }\npolicies: []\n`);
    fs.chmodSync(file, 0o644);
    return file;
  };
  const serve = (file: string, prefix: string[] = []) => {
    const argv = [...prefix, process.execPath, BIN, 'serve', '-c', file];
    return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });
  };

  t.test('EADDRINUSE names another resolver on the port', async (t) => {
    const busy = dgram.createSocket('udp4');
    await new Promise<void>((r) => busy.bind(0, '127.0.0.1', () => r()));
    const port = busy.address().port;
    t.teardown(() => busy.close());
    const r = serve(config(`127.0.0.1:${port}`));
    t.equal(r.status, 2, r.stderr);
    t.match(
      r.stderr,
      new RegExp(`cannot listen on udp 127\\.0\\.0\\.1:${port}: EADDRINUSE — another process already listens there — often another resolver \\(systemd-resolved, dnsmasq`),
    );
  });

  t.test('EADDRNOTAVAIL: no interface holds the address; says how to add it', async (t) => {
    const r = serve(config('169.254.20.10:5353'));
    t.equal(r.status, 2, r.stderr);
    t.match(r.stderr, /cannot listen on udp 169\.254\.20\.10:5353: EADDRNOTAVAIL — no interface of this node holds 169\.254\.20\.10 yet/);
    t.match(r.stderr, /ip link add dnswall0 type dummy && ip addr add 169\.254\.20\.10\/32 dev dnswall0/);
  });

  t.test('EACCES on a privileged port names CAP_NET_BIND_SERVICE', async (t) => {
    const r = serve(config('127.0.0.1:53'), ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all']);
    t.equal(r.status, 2, r.stderr);
    t.match(r.stderr, /cannot listen on udp 127\.0\.0\.1:53: EACCES — port 53 is privileged: dnswall needs CAP_NET_BIND_SERVICE/);
  });

  t.test('TCP too: a port taken only for TCP names tcp', async (t) => {
    const net = await import('net');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as import('net').AddressInfo).port;
    t.teardown(() => srv.close());
    const r = serve(config(`127.0.0.1:${port}`));
    t.equal(r.status, 2, r.stderr);
    t.match(r.stderr, new RegExp(`cannot listen on tcp 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  });
});
