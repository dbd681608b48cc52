// The systemd examples, run for real where this machine can: the listen address comes from
// examples/dnswall-address.service's own commands, and the daemon runs with the unit's identity
// (an unprivileged user holding exactly CAP_NET_ADMIN and CAP_NET_BIND_SERVICE as ambient
// capabilities, no_new_privs, nothing else in the bounding set), in enforce mode: it installs the
// ruleset (nft inherits the capabilities), binds port 53 and programs an element. Under strace,
// every system call it makes is checked against the unit's SystemCallFilter (systemd-analyze).
import path from 'path';
import fs from 'fs';
import os from 'os';
import dgram from 'dgram';
import { spawn, spawnSync } from 'child_process';
import packet from 'dns-packet';
import { runInNetns, sh, nft } from '../nft/netns';
import { ChildLines, stopChild } from '../../lib/sandbox/child';

const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = path.join(__dirname, '..', '..', 'bin', 'dnswall.js');
const ADDR = '169.254.20.10';

/** ExecStart=/ExecStop= command lines of a unit ('-' prefix = failure ignored). */
function execLines(unit: string, key: 'ExecStart' | 'ExecStop'): { argv: string[]; ignoreFailure: boolean }[] {
  return [...unit.matchAll(new RegExp(`^${key}=(-?)(.+)$`, 'gm'))].map((m) => ({ argv: m[2].trim().split(/\s+/), ignoreFailure: m[1] === '-' }));
}

/** The unit's lines, with the installed script path pointing at examples/dnswall-address. */
function runUnitLines(unit: string, key: 'ExecStart' | 'ExecStop'): void {
  for (const { argv, ignoreFailure } of execLines(unit, key)) {
    if (argv[0] === '/usr/local/sbin/dnswall-address') argv[0] = path.join(ROOT, 'examples', 'dnswall-address');
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0 && !ignoreFailure) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  }
}

/** Every syscall name of a system-call group, groups expanded (systemd-analyze syscall-filter). */
function expandGroup(group: string, seen = new Map<string, Set<string>>()): Set<string> {
  if (seen.has(group)) return seen.get(group)!;
  const out = new Set<string>();
  seen.set(group, out);
  const r = spawnSync('systemd-analyze', ['syscall-filter', group], { encoding: 'utf8' });
  let inGroup = false;
  for (const raw of r.stdout.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#')) continue;
    if (l === group) {
      inGroup = true;
      continue;
    }
    if (!inGroup) continue;
    if (l.startsWith('@')) for (const s of expandGroup(l, seen)) out.add(s);
    else out.add(l);
  }
  return out;
}

/**
 * The unit's SystemCallFilter= lines → allowed set, in order as systemd applies them to an allow
 * list (the first line is one): a plain line adds its calls, a '~' line removes them.
 */
function unitFilter(unit: string): Set<string> {
  const allow = new Set<string>();
  for (const m of unit.matchAll(/^SystemCallFilter=(~?)(.+)$/gm)) {
    for (const item of m[2].trim().split(/\s+/)) {
      for (const s of item.startsWith('@') ? expandGroup(item) : [item]) {
        if (m[1]) allow.delete(s);
        else allow.add(s);
      }
    }
  }
  return allow;
}

runInNetns(__filename, (t) => {
  const unitAddr = fs.readFileSync(path.join(ROOT, 'examples', 'dnswall-address.service'), 'utf8');
  const unit = fs.readFileSync(path.join(ROOT, 'examples', 'dnswall.service'), 'utf8');
  sh('ip', ['link', 'set', 'lo', 'up']);

  t.test('dnswall-address.service gives the node the address; again is fine; stop removes it', async (t) => {
    const dummy = spawnSync('ip', ['link', 'add', 'dwprobe0', 'type', 'dummy']).status === 0;
    spawnSync('ip', ['link', 'delete', 'dwprobe0']);
    t.comment(dummy ? 'dummy interfaces available: dnswall0' : 'this kernel has no dummy interfaces: the script falls back to lo');
    const holder = () => sh('ip', ['-o', '-4', 'addr', 'show', 'to', `${ADDR}/32`]);
    runUnitLines(unitAddr, 'ExecStart');
    runUnitLines(unitAddr, 'ExecStart'); // a restart of the oneshot: idempotent
    t.match(holder(), new RegExp(`^\\d+: ${dummy ? 'dnswall0' : 'lo'}\\s+inet ${ADDR.replace(/\./g, '\\.')}/32`), holder());
    t.equal(holder().trim().split('\n').length, 1, 'held once');
    runUnitLines(unitAddr, 'ExecStop');
    t.equal(holder().trim(), '', 'address gone after stop');
    t.not(spawnSync('ip', ['link', 'show', 'dnswall0']).status, 0, 'no dnswall0 left');
    runUnitLines(unitAddr, 'ExecStart');
  });

  t.test("the unit's identity: unprivileged, two ambient capabilities, enforce mode works", async (t) => {
    // Upstream: answers every A query with 198.51.100.7.
    const up = dgram.createSocket('udp4');
    up.on('message', (msg, rinfo) => {
      const q = packet.decode(msg);
      const res = packet.encode({
        id: q.id,
        type: 'response',
        flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
        questions: q.questions,
        answers: [{ name: q.questions![0].name, type: 'A', class: 'IN', ttl: 60, data: '198.51.100.7' }],
      });
      up.send(res, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
    t.teardown(() => up.close());

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-hardened-'));
    fs.chmodSync(dir, 0o755);
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const cfgFile = path.join(dir, 'config.yaml');
    fs.writeFileSync(
      cfgFile,
      `listen: ["${ADDR}:53"]\nupstreams: ["127.0.0.1:${up.address().port}"]\npolicies:\n  - name: node\n    sources: ["${ADDR}/32"]\n    allow: ["**.example.com"]\n`,
    );
    fs.chmodSync(cfgFile, 0o644);

    const caps = /^AmbientCapabilities=(.+)$/m
      .exec(unit)![1]
      .trim()
      .split(/\s+/)
      .map((c) => '+' + c.replace(/^CAP_/, '').toLowerCase())
      .join(',');
    t.equal(caps, '+net_admin,+net_bind_service');
    const setpriv = [
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      `--inh-caps=-all,${caps}`,
      `--ambient-caps=${caps}`,
      `--bounding-set=-all,${caps}`,
      '--no-new-privs',
    ];
    const traceFile = path.join(dir, 'trace');
    const strace = spawnSync('strace', ['-V']).status === 0;
    const argv = [...(strace ? ['strace', '-f', '-qq', '-o', traceFile] : []), ...setpriv, process.execPath, BIN, 'serve', '-c', cfgFile];
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    const lines = new ChildLines(proc, 'dnswall serve (hardened)');
    t.teardown(() => stopChild(proc));
    await lines.waitFor((l) => l.includes('"msg":"serving"'), 90_000);

    // Signals go to the daemon itself (under strace, proc is strace).
    const pid = findDaemonPid(proc.pid!);
    t.teardown(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    t.match(status, /^Uid:\s+65534\s/m, 'runs as an unprivileged user');
    t.match(status, /^NoNewPrivs:\s+1$/m);
    t.match(status, /^CapBnd:\s+0000000000001400$/m, 'bounding set: NET_ADMIN (12) and NET_BIND_SERVICE (10) only');

    const c = dgram.createSocket('udp4');
    t.teardown(() => c.close());
    const answer = await new Promise<packet.Packet>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), 20_000);
      c.on('message', (m) => {
        clearTimeout(timer);
        resolve(packet.decode(m));
      });
      c.bind(0, ADDR, () =>
        c.send(packet.encode({ id: 7, type: 'query', flags: packet.RECURSION_DESIRED, questions: [{ name: 'www.example.com', type: 'A', class: 'IN' }] }), 53, ADDR),
      );
    });
    t.equal((answer as { rcode?: string }).rcode, 'NOERROR');
    t.equal((answer.answers![0] as { data: string }).data, '198.51.100.7');
    t.match(
      nft('list', 'set', 'inet', 'dnswall', 'allow4'),
      /169\.254\.20\.10 \. 198\.51\.100\.7 timeout \S+ expires \S+ comment "www\.example\.com"/,
      'element programmed by the unprivileged daemon',
    );

    const reloaded = lines.waitFor((l) => l.includes('configuration reloaded'), 60_000);
    process.kill(pid, 'SIGHUP');
    await reloaded;
    const exited = new Promise((r) => proc.once('exit', r));
    process.kill(pid, 'SIGTERM');
    await exited; // strace exits with its tracee

    if (strace) {
      // From node's own execve on (what setpriv does before it is systemd's part, not the service's).
      const used = new Set<string>();
      let started = false;
      for (const l of fs.readFileSync(traceFile, 'utf8').split('\n')) {
        if (!started) {
          started = l.includes(`execve("${process.execPath}"`);
          continue;
        }
        const m = /^\d+\s+([a-z_0-9]+)\(/.exec(l);
        if (m) used.add(m[1]);
      }
      const allowed = unitFilter(unit);
      const outside = [...used].filter((s) => !allowed.has(s) && s !== 'execve');
      t.ok(used.size > 30, `${used.size} distinct syscalls traced`);
      t.same(outside, [], `every syscall is allowed by the unit's SystemCallFilter (outside: ${outside.join(' ')})`);
    } else {
      t.comment('strace not installed: syscall filter not measured');
    }
  });
});

/** The node process under strace/setpriv (they exec, so the pid is the same; strace forks it). */
function findDaemonPid(pid: number): number {
  for (let depth = 0; depth < 3; depth++) {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm === 'node' || comm.startsWith('node')) return pid;
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (kids.length === 0) break;
    pid = Number(kids[0]);
  }
  throw new Error('daemon process not found');
}
