// The command line as an operator uses it: exit codes, FILE:LINE:COL errors, explain, ruleset.
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const BIN = path.join(__dirname, '..', '..', 'bin', 'dnswall.js');
const EXAMPLE = path.join(__dirname, '..', '..', '..', 'examples', 'config.yaml');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });

const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const bad = path.join(dir, 'bad.yaml');
writeFileSync(bad, 'listen: ["1.2.3.4"]\npolicies:\n  - name: a\n    sources: ["10.0.0.1/24"]\n    allow: ["a.**.com"]\n    bogus: 1\n');

t.test('check: a valid file prints a summary, exit 0', async (t) => {
  const r = run('check', '-c', EXAMPLE);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /policies\s+\d+ policies/);
});

t.test('check: every error as FILE:LINE:COL message, exit 1', async (t) => {
  const r = run('check', '-c', bad);
  t.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 4, r.stderr);
  t.match(lines[0], new RegExp(`^${bad.replace(/[.]/g, '\\.')}:1:10 .*missing port`));
  t.match(lines[1], /:4:15 .*host bits set/);
  t.match(lines[2], /:5:13 .*'\*\*' is allowed only as the whole first label/);
  t.match(lines[3], /:6:5 unknown key "bogus"/);
});

t.test('check: a missing file is bad input, exit 1', async (t) => {
  const r = run('check', '-c', path.join(dir, 'nope.yaml'));
  t.equal(r.status, 1);
  t.match(r.stderr, /nope\.yaml/);
});

t.test('explain: verdict, policy and pattern', async (t) => {
  const allow = run('explain', '-c', EXAMPLE, '--source', '10.244.1.5', 'api.stripe.com');
  t.equal(allow.status, 0, allow.stderr);
  t.match(allow.stdout, /^allow\s+policy=frontend pattern=api\.stripe\.com/);
  t.match(run('explain', '-c', EXAMPLE, '--source', '10.244.1.5', 'evil.example').stdout, /^deny/);
  t.match(run('explain', '-c', EXAMPLE, '--source', '192.0.2.99', 'evil.example').stdout, /^unmanaged/);
  const badSource = run('explain', '-c', EXAMPLE, '--source', 'not-an-ip', 'x.com');
  t.equal(badSource.status, 1);
  t.match(badSource.stderr, /--source "not-an-ip" is not an IP address/);
  t.equal(run('explain', '-c', EXAMPLE, '--source', '10.244.1.5', '--type', 'BOGUS', 'x.com').status, 1);
});

t.test('explain --address: would the answer guard strip it for this source, and why', async (t) => {
  const r = run(
    'explain',
    '-c',
    EXAMPLE,
    '--source',
    '10.244.1.5',
    'api.stripe.com',
    '--address',
    '169.254.169.254',
    '--address',
    '::ffff:127.0.0.1',
    '--address',
    '10.96.0.10',
    '--address',
    '10.0.0.7',
    '--address',
    '198.18.0.1',
  );
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.match(lines[0], /^allow\s+policy=frontend/);
  t.equal(lines[1], 'guard  169.254.169.254: stripped (link-local 169.254.0.0/16); an answer with no other address gets SERVFAIL + EDE 15');
  t.equal(lines[2], 'guard  ::ffff:7f00:1: stripped (loopback 127.0.0.0/8 (IPv4-mapped)); an answer with no other address gets SERVFAIL + EDE 15');
  t.equal(lines[3], 'guard  10.96.0.10: kept, not programmed: policy frontend allowCIDRs 10.96.0.0/12 lets it through (guarded: answers.denyCIDRs 10.96.0.0/12)');
  t.equal(lines[4], 'guard  10.0.0.7: stripped (answers.denyCIDRs 10.0.0.0/16); an answer with no other address gets SERVFAIL + EDE 15');
  t.equal(lines[5], 'guard  198.18.0.1: kept (in no guarded range)');
  t.equal(lines.length, 6);
  // another policy's source: the frontend exception does not apply
  t.match(
    run('explain', '-c', EXAMPLE, '--source', '10.244.2.5', 'x.example.com', '--address', '10.96.0.10').stdout,
    /guard {2}10\.96\.0\.10: stripped if the name were allowed \(answers\.denyCIDRs 10\.96\.0\.0\/12\)/,
  );
  t.match(run('explain', '-c', EXAMPLE, '--source', '192.0.2.99', 'x.com', '--address', '127.0.0.1').stdout, /guard {2}127\.0\.0\.1: not applied \(unmanaged source/);
  const bad = run('explain', '-c', EXAMPLE, '--source', '10.244.1.5', 'x.com', '--address', '1.2.3');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /--address "1\.2\.3" is not an IP address/);
});

t.test('ruleset: the nft script with the managed sources', async (t) => {
  const r = run('ruleset', '-c', EXAMPLE);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /add table inet dnswall/);
  t.match(r.stdout, /add set inet dnswall allow4 \{ typeof ip saddr \. ip daddr; flags timeout; size \d+; \}/);
  t.match(r.stdout, /add element inet dnswall managed4 \{ 10\.244\.1\.0\/24/);
  t.notMatch(r.stdout, /flush set inet dnswall allow4/, 'restart never flushes the allow sets');
});

t.test('--version and usage errors', async (t) => {
  t.match(run('--version').stdout.trim(), /^\d+\.\d+\.\d+$/);
  t.equal(run('frobnicate').status, 1);
});
