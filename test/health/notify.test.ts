// sd_notify over a real AF_UNIX datagram socket that the test listens on, as systemd does:
// READY=1, then WATCHDOG=1 at half of WATCHDOG_USEC — and none while the event loop is blocked.
import t from 'tap';
import path from 'node:path';
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { DgramSocket } from 'node-unix-socket';
import { notifyAddress, watchdogIntervalMs } from '../../lib/health/notify';

interface Msg {
  at: number;
  text: string;
}

function listen(name: string): { sock: DgramSocket; msgs: Msg[] } {
  const sock = new DgramSocket();
  sock.bind(name);
  const msgs: Msg[] = [];
  sock.on('data', (buf: Buffer) => msgs.push({ at: Date.now(), text: buf.toString() }));
  return { sock, msgs };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

t.test('NOTIFY_SOCKET and WATCHDOG_USEC as systemd sets them', async (t) => {
  t.equal(notifyAddress({ NOTIFY_SOCKET: '/run/systemd/notify' }), '/run/systemd/notify');
  t.equal(notifyAddress({ NOTIFY_SOCKET: '@sd-abc' }), '\0sd-abc', 'abstract name');
  t.equal(notifyAddress({}), null);
  t.equal(notifyAddress({ NOTIFY_SOCKET: 'vsock:2:1' }), null, 'vsock not supported');
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }), 15000, 'half the interval');
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, 2), null, 'meant for another pid');
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '2' }, 2), 15000);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }), null);
});

t.test('READY=1, watchdog pings, none while the event loop is blocked, then again', async (t) => {
  const name = `@dnswall-notify-test-${process.pid}`;
  const { sock, msgs } = listen(notifyAddress({ NOTIFY_SOCKET: name })!);
  t.teardown(() => sock.close());
  const child = fork(path.join(__dirname, 'notify-child.js'), [], { env: { ...process.env, NOTIFY_SOCKET: name, WATCHDOG_USEC: '200000' }, stdio: 'inherit', execArgv: [] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  t.ok(await until(() => msgs.some((m) => m.text.startsWith('READY=1')), 10_000), 'READY=1 arrived');
  t.match(msgs.find((m) => m.text.startsWith('READY=1'))!.text, `MAINPID=${child.pid}`);
  t.ok(await until(() => msgs.filter((m) => m.text === 'WATCHDOG=1').length >= 3, 5_000), 'WATCHDOG=1 every 100 ms (WATCHDOG_USEC 200 ms)');
  const unblocked = new Promise<number>((r) =>
    child.on('message', (m: { unblocked?: number }) => {
      if (m.unblocked) r(m.unblocked);
    }),
  );
  const blockedAt = Date.now();
  child.send({ block: 1500 });
  const end = await unblocked;
  const during = msgs.filter((m) => m.text === 'WATCHDOG=1' && m.at > blockedAt + 150 && m.at < end - 50);
  t.equal(during.length, 0, `no ping while the loop was blocked for ${end - blockedAt} ms`);
  const after = msgs.filter((m) => m.text === 'WATCHDOG=1').length;
  t.ok(await until(() => msgs.filter((m) => m.text === 'WATCHDOG=1').length >= after + 2, 5_000), 'pings again once the loop runs');
  child.send({ exit: true });
  t.ok(await until(() => msgs.some((m) => m.text === 'STOPPING=1'), 5_000), 'STOPPING=1 on the way out');
});

t.test('dnswall serve (audit mode, loopback) says READY=1 once it is serving, and pings', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnswall-notify-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sockPath = path.join(dir, 'notify.sock');
  const { sock, msgs } = listen(sockPath);
  t.teardown(() => sock.close());
  const port = 20000 + (process.pid % 20000);
  const cfg = path.join(dir, 'c.yaml');
  fs.writeFileSync(cfg, `listen: ["127.0.0.1:${port}"]\nupstreams: ["127.0.0.1:9"]\nenforce: { mode: audit }\ncontrol: off\n`);
  const bin = path.join(__dirname, '../../bin/dnswall.js');
  const child = spawn(process.execPath, [bin, 'serve', '-c', cfg], {
    env: { ...process.env, NOTIFY_SOCKET: sockPath, WATCHDOG_USEC: '300000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  t.ok(await until(() => msgs.some((m) => m.text.startsWith('READY=1')), 15_000), `READY=1 from dnswall serve ${stderr}`);
  t.ok(await until(() => msgs.filter((m) => m.text === 'WATCHDOG=1').length >= 2, 5_000), 'WATCHDOG=1 pings');
  // A stopped (wedged) process sends nothing; systemd's WatchdogSec= would restart it.
  child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  await new Promise((r) => setTimeout(r, 800));
  t.equal(msgs.filter((m) => m.text === 'WATCHDOG=1' && m.at > stoppedAt + 100).length, 0, 'no ping from a stopped daemon');
  child.kill('SIGCONT');
  const n = msgs.length;
  t.ok(await until(() => msgs.slice(n).some((m) => m.text === 'WATCHDOG=1'), 5_000), 'pings resume');
  child.kill('SIGTERM');
  t.ok(await until(() => msgs.some((m) => m.text === 'STOPPING=1'), 5_000), 'STOPPING=1 on SIGTERM');
});

t.test('readiness: every check reported, a failing or hanging one makes it not ready', async (t) => {
  const { runChecks } = await import('../../lib/health/health');
  const ok = await runChecks([{ name: 'a', check: async () => null }]);
  t.same(ok, { ready: true, lines: ['[+]a ok'] });
  const bad = await runChecks([
    { name: 'a', check: async () => null },
    { name: 'b', check: async () => 'table missing' },
    {
      name: 'c',
      check: async () => {
        throw new Error('boom');
      },
    },
  ]);
  t.same(bad, { ready: false, lines: ['[+]a ok', '[-]b failed: table missing', '[-]c failed: boom'] });
});
