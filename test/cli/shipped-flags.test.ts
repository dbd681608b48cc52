// The node flags `dnswall` ships with (its `#!/usr/bin/env -S node …` line) take effect when the
// command is executed, and the harness (lib/sandbox/daemon-peer.ts: tests, bench, demo) runs the
// daemon with the same ones.
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { DNSWALL_BIN, shippedNodeFlags } from '../../lib/sandbox/daemon-peer';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-flags-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// Loaded before the command (NODE_OPTIONS=--require): churns objects while keeping 60,000 alive,
// which grows V8's young generation to its maximum, and reports the largest size seen.
const PRELOAD = path.join(dir, 'young.js');
writeFileSync(
  PRELOAD,
  `const v8 = require('node:v8');
const ring = new Array(60000);
let max = 0;
for (let i = 0; i < 2000000; i++) {
  ring[i % ring.length] = { i, s: 'x' + i };
  if (i % 10000 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
}
process.stderr.write('YOUNG ' + JSON.stringify({ execArgv: process.execArgv, newSpaceMax: max }) + '\\n');
`,
);

// Loaded before the command: keeps ~300,000 objects alive for good, and churns objects that live
// long enough to be promoted (a ring of 100,000) and then die in the old generation — what a
// daemon's in-flight queries do under load. Reports the largest old generation seen and what is
// live after a full GC at the end.
const OLD_PRELOAD = path.join(dir, 'old.js');
writeFileSync(
  OLD_PRELOAD,
  `const v8 = require('node:v8');
const old = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
const live = [];
for (let i = 0; i < 300000; i++) live.push({ i, s: 'live' + i });
const ring = new Array(100000);
let oldMax = 0;
for (let i = 0; i < 3000000; i++) {
  ring[i % ring.length] = { i, s: 'x' + i };
  if (i % 20000 === 0) oldMax = Math.max(oldMax, old().space_size);
}
v8.setFlagsFromString('--expose-gc');
require('node:vm').runInNewContext('gc')();
process.stderr.write('OLD ' + JSON.stringify({ execArgv: process.execArgv, oldMax, live: old().space_used_size, kept: live.length + ring.length }) + '\\n');
`,
);

function preloaded<T>(argv: string[], preload: string, tag: string): T {
  const r = spawnSync(argv[0], [...argv.slice(1), '--version'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: `--require ${preload}` } });
  if (r.error) throw r.error;
  const line = r.stderr.split('\n').find((l) => l.startsWith(`${tag} `));
  if (r.status !== 0 || !line) throw new Error(`${argv.join(' ')} --version: exit ${r.status}, stderr ${r.stderr}`);
  return JSON.parse(line.slice(tag.length + 1)) as T;
}

const young = (argv: string[]) => preloaded<{ execArgv: string[]; newSpaceMax: number }>(argv, PRELOAD, 'YOUNG');
const oldGen = (argv: string[]) => preloaded<{ execArgv: string[]; oldMax: number; live: number; kept: number }>(argv, OLD_PRELOAD, 'OLD');

t.test('shippedNodeFlags reads the flags of an env shebang, and refuses any other first line', async (t) => {
  const file = (first: string) => {
    const f = path.join(dir, 'script.js');
    writeFileSync(f, `${first}\n"use strict";\n`);
    return f;
  };
  t.same(shippedNodeFlags(file('#!/usr/bin/env -S node --max-semi-space-size=2 --no-foo')), ['--max-semi-space-size=2', '--no-foo']);
  t.same(shippedNodeFlags(file('#!/usr/bin/env node')), []);
  t.throws(() => shippedNodeFlags(file('#!/bin/sh')), /first line is not "#!\/usr\/bin\/env \[-S\] node \[flags\]"/);
  t.throws(() => shippedNodeFlags(file('"use strict";')), /script\.js: first line/);
});

t.test('the command, executed, runs with the young generation its first line sets', async (t) => {
  const flags = shippedNodeFlags();
  const semi = flags.map((f) => /^--max-semi-space-size=(\d+)$/.exec(f)).find((m) => m !== null);
  t.ok(semi, `the command caps V8's semi-spaces: ${JSON.stringify(flags)}`);
  const capBytes = 2 * Number(semi![1]) * 1024 * 1024; // new space = two semi-spaces
  // npm makes a package's bin executable when it installs it; a build leaves it as a plain file
  chmodSync(DNSWALL_BIN, statSync(DNSWALL_BIN).mode | 0o111);
  const shipped = young([DNSWALL_BIN]);
  t.same(shipped.execArgv, flags, 'the kernel ran node with the flags of the first line');
  t.ok(shipped.newSpaceMax <= capBytes, `young generation at most ${capBytes} bytes: ${shipped.newSpaceMax}`);
  // control: the same churn in the same script without the flags grows past the cap
  const bare = young([process.execPath, DNSWALL_BIN]);
  t.same(bare.execArgv, []);
  t.ok(bare.newSpaceMax > capBytes, `without the flags V8 grows the young generation past ${capBytes} bytes: ${bare.newSpaceMax}`);
});

t.test('the command, executed, grows its old generation by the factor its first line sets', async (t) => {
  const flags = shippedNodeFlags();
  const pct = flags.map((f) => /^--heap-growing-percent=(\d+)$/.exec(f)).find((m) => m !== null);
  t.ok(pct, `the command sets V8's heap growing factor: ${JSON.stringify(flags)}`);
  t.ok(Number(pct![1]) > 0 && Number(pct![1]) <= 50, `a factor of at most 1.5: ${pct![0]}`);
  chmodSync(DNSWALL_BIN, statSync(DNSWALL_BIN).mode | 0o111);
  const shipped = oldGen([DNSWALL_BIN]);
  t.same(shipped.execArgv, flags, 'the kernel ran node with the flags of the first line');
  t.equal(shipped.kept, 400_000);
  // V8 sets the next full GC at live × factor (at least live + 8 MB), and concurrent marking
  // runs on while the program allocates: with a factor of 1.3, ~1.9× live was measured.
  const bound = 3 * shipped.live;
  t.ok(shipped.oldMax <= bound, `old generation at most 3× what is live (${shipped.live} bytes): ${shipped.oldMax}`);
  // control: V8's own factor (up to 4 when it collects fast) let the same churn grow it ~6× live
  const bare = oldGen([process.execPath, DNSWALL_BIN]);
  t.same(bare.execArgv, []);
  t.ok(bare.oldMax > 3 * bare.live, `without the flags the old generation grows past 3× what is live (${bare.live} bytes): ${bare.oldMax}`);
});
