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

function young(argv: string[]): { execArgv: string[]; newSpaceMax: number } {
  const r = spawnSync(argv[0], [...argv.slice(1), '--version'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODE_OPTIONS: `--require ${PRELOAD}` } });
  if (r.error) throw r.error;
  const line = r.stderr.split('\n').find((l) => l.startsWith('YOUNG '));
  if (r.status !== 0 || !line) throw new Error(`${argv.join(' ')} --version: exit ${r.status}, stderr ${r.stderr}`);
  return JSON.parse(line.slice(6)) as { execArgv: string[]; newSpaceMax: number };
}

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
