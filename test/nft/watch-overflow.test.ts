// A burst of element additions overflows the change-notification socket. netlink@0.3.0 aborts the
// process on that (POLLERR → its PollHandler throws from native code): the control below shows it
// on a plain socket. The watch's socket has NETLINK_NO_ENOBUFS, so the daemon survives; the loss
// is found by the kernel's drop counter, the book is no longer trusted (skip stops, revocation
// reads the kernel), and an element deleted from outside afterwards is still put back by the
// next answer. Real kernel, own namespace; the burst is one `nft -f` of BURST elements.
import { execFileSync, spawn } from 'child_process';
import { writeFileSync, unlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { runInNetns } from './netns';
import { openProgrammer, ip4 } from './fixtures';
import { openNetlinkWatch, netlinkWatch } from '../../lib/nft/watch';
import type { Element } from '../../lib/nft/programmer';
import { NFNLGRP_NFTABLES } from '../../lib/nft/netlink/constants';

const BURST = 100_000;
const el = (over: Partial<Element> = {}): Element => ({
  set: 'allow4',
  source: ip4('10.244.1.5'),
  destination: ip4('198.51.100.7'),
  timeoutMs: 60_000,
  comment: 'api.example.com',
  ...over,
});
const nft = (...args: string[]) => execFileSync('nft', args, { encoding: 'utf8' });
const inKernel = () => {
  try {
    nft('get', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.7 }');
    return true;
  } catch {
    return false;
  }
};

/** `nft -f` adding BURST elements in one transaction (the notifications all arrive at its commit). */
function burst(tag: number): void {
  const file = join(tmpdir(), `dnswall-burst-${process.pid}-${tag}.nft`);
  const els: string[] = [];
  for (let i = 0; i < BURST; i++) els.push(`10.${240 + (i >> 16)}.${(i >> 8) & 255}.${i & 255} . 198.18.${tag}.1 timeout 60s comment "burst.example"`);
  writeFileSync(file, `add element inet dnswall allow4 { ${els.join(', ')} }\n`);
  try {
    execFileSync('nft', ['-f', file], { timeout: 60_000 }); // blocks this process: the watch cannot read meanwhile
  } finally {
    unlinkSync(file);
  }
}

/** In the daemon an answer comes from a poll-phase callback (a query or upstream reply read), so
 * the watch had its poll turn too; the tests' direct add() calls get one this way. */
const queryTurn = () => new Promise((r) => setTimeout(r, 0));

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

runInNetns(__filename, (t) => {
  t.test('control: a plain netlink@0.3.0 socket in the group aborts its process on the same burst', async (t) => {
    await (await openProgrammer()).close(); // installs the ruleset; only the table is needed
    // The child's loop is busy (as a daemon's under load) until the burst was committed.
    const marker = join(tmpdir(), `dnswall-burst-${process.pid}-done`);
    const child = spawn(
      process.execPath,
      [
        '-e',
        `
      const { RawNetlinkSocket } = require('netlink');
      const fs = require('fs');
      const s = new RawNetlinkSocket(12, { recvBufferSize: 256 << 10, sendBufferSize: 64 << 10 });
      s.on('error', () => console.log('error event'));
      s.on('message', () => {});
      s.addMembership(${NFNLGRP_NFTABLES});
      console.log('ready');
      const end = Date.now() + 60000;
      while (!fs.existsSync(${JSON.stringify(marker)}) && Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      setTimeout(() => { console.log('survived'); process.exit(0); }, 2000);
    `,
      ],
      { cwd: join(__dirname, '..', '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.teardown(() => {
      try {
        unlinkSync(marker);
      } catch {
        /* gone */
      }
      if (child.exitCode === null && child.signalCode === null) child.kill();
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    await until('the control socket is up', () => out.includes('ready'));
    burst(1);
    writeFileSync(marker, '');
    const { signal } = await exited;
    t.equal(signal, 'SIGABRT', 'the unprotected process was aborted');
    t.match(err, /Napi::Error/, `its stderr: ${err.trim().split('\n')[0]}`);
    t.notMatch(out, /survived/);
  });

  t.test('the watch survives an overflow; the book is untrusted; a later outside deletion is still repaired', async (t) => {
    let lostWhy = '';
    // A small buffer (256 KiB, forced) makes the overflow certain; the default is 64 MiB.
    const p = await openProgrammer({
      refreshSlackMs: 5_000,
      watch: (table, h, log) =>
        openNetlinkWatch(
          table,
          {
            ...h,
            lost: (why, dead) => {
              lostWhy ||= why;
              h.lost(why, dead);
            },
          },
          log,
          { recvBuffer: 256 << 10 },
        ),
    });
    t.teardown(() => p.close());
    await p.add([el()]);
    await p.add([el()]);
    t.equal(p.stats.skipped, 1, 'skipping before the burst');
    t.equal(p.bookIncomplete, null, 'the book is complete before the burst');

    burst(2);
    t.pass('the process survived the burst');
    await until('the loss is noticed', () => p.bookIncomplete !== null);
    t.match(p.bookIncomplete, /notifications dropped|generation/, `book incomplete: ${p.bookIncomplete}`);
    t.match(lostWhy, /\d+ notifications dropped \(receive buffer full\)|commits missed/, `lost: ${lostWhy}`);
    t.equal(await p.revokeFromBook(() => true), null, 'reload revocation falls back to reading the kernel');

    const batches = p.stats.batches;
    await p.add([el()]);
    t.equal(p.stats.batches, batches + 1, 'the first answer after the loss goes to the kernel (nothing trusted)');
    t.equal(p.stats.skipped, 1);

    // Reading that commit's NEWGEN, the watch may find the gap the burst left and untrust the book
    // once more: acks are read right after sendmsg (syncAcks), so that can come after the commit
    // was confirmed. The next answer is then sent again (safe: never a skip on stale trust).
    await queryTurn();
    await p.add([el()]);
    await queryTurn();
    const sent = p.stats.batches;
    const skipped = p.stats.skipped;
    await p.add([el()]);
    t.equal(p.stats.skipped, skipped + 1, 'skipping resumes for what was sent after the loss');
    t.equal(p.stats.batches, sent);
    nft('delete', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.7 }');
    t.notOk(inKernel(), 'deleted from outside');
    await queryTurn();
    await p.add([el()]);
    t.ok(inKernel(), 'the next answer put it back: the watch still hears deletions after the overflow');
    t.equal(p.stats.batches, sent + 1);
  });

  t.test(`the default watch (64 MiB) with a ${BURST}-element burst: alive, and its book is right either way`, async (t) => {
    const p = await openProgrammer({ refreshSlackMs: 5_000, watch: netlinkWatch });
    t.teardown(() => p.close());
    await p.add([el()]);
    const before = p.sizes().book; // adoption read what the earlier bursts left
    burst(3);
    t.pass('the process survived the burst');
    // Right after the burst the watch is behind (100k notifications queued): a deletion from
    // outside now sits behind them; the next answer must not be skipped on the stale book.
    nft('delete', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.7 }');
    await queryTurn();
    await p.add([el()]);
    t.ok(inKernel(), 'an element deleted right after the burst is put back by the next answer');
    // Then: either every foreign element was heard (the book learned them) or the loss was noticed.
    await until('the book learned the burst or knows it lost some', () => p.bookIncomplete !== null || p.sizes().book >= before + BURST, 30_000);
    if (p.bookIncomplete === null) t.equal(p.sizes().book, before + BURST, 'no drops: the book learned every element of the burst');
    else t.match(p.bookIncomplete, /notifications dropped|generation/, `dropped: ${p.bookIncomplete}`);
    nft('delete', 'element', 'inet', 'dnswall', 'allow4', '{ 10.244.1.5 . 198.51.100.7 }');
    await queryTurn();
    await p.add([el()]);
    t.ok(inKernel(), 'and one deleted after the watch caught up, too');
    t.ok(p.stats.watchBehind > 0, `skips refused while the watch was behind: ${p.stats.watchBehind}`);
  });
});
