// Restart from the state file, real kernel, own namespace: 100k live elements, a clean stop
// saves the book, the next start (watch, generation, then the ruleset installed again — itself a
// transaction — then open) learns it without dumping a set; a reload then revokes from the
// book; a refresh with a shorter life does not shorten an element. Control: an element deleted
// with `nft delete element` while dnswall is down moves the generation on → the sets are dumped,
// and the deleted element is not in the book.
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import pino from 'pino';
import { performance } from 'perf_hooks';
import { runInNetns } from './netns';
import { testConfig, TEST_INDEX } from './fixtures';
import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';
import { NfnlSocket } from '../../lib/nft/netlink/socket';
import { encodeElement, setElemMsg, decodeSetElemMsg } from '../../lib/nft/netlink/setelem';
import { NFPROTO_INET, NFT_MSG_GETSETELEM, NLM_F_ACK } from '../../lib/nft/netlink/constants';
import { SetProgrammer, type Element } from '../../lib/nft/programmer';
import { capture } from '../log-capture';

const N = 100_000;
/** tap's per-file timeout (package.json): every life bound below holds for a run this long. */
const MAX_RUN_S = 240;
const LONG_S = 600 - MAX_RUN_S;
const el = (i: number, timeoutMs: number): Element => ({
  set: 'allow4',
  source: Buffer.from([10, 244, 1, 1 + (i >> 16)]),
  destination: Buffer.from([198, 18, (i >> 8) & 255, i & 255]),
  timeoutMs,
  comment: `n${i}.example.com`,
});
const ip = (b: Buffer) => [...b].join('.');

/** Seconds the kernel still holds element i (GETSETELEM by key, no dump), or null if absent. */
async function left(i: number): Promise<number | null> {
  const sock = new NfnlSocket({ replyTimeoutMs: 60_000 });
  try {
    const e0 = el(i, 1);
    const key = Buffer.concat([e0.source, e0.destination]);
    const replies = await sock.get('allow4 (GETSETELEM)', (seq) => setElemMsg(NFT_MSG_GETSETELEM, NLM_F_ACK, seq, NFPROTO_INET, 'dnswall', 'allow4', [encodeElement({ key })]));
    const e = replies.length ? decodeSetElemMsg(replies[0]).elements[0] : undefined;
    return e?.expirationMs === undefined ? null : e.expirationMs / 1000;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null;
    throw e;
  } finally {
    sock.close();
  }
}

runInNetns(__filename, (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dw-restart-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'nft.state');
  const install = () => installRuleset(renderRuleset(testConfig(), TEST_INDEX));

  /** The daemon's order: prepare (watch, file, generation), install the ruleset, open. */
  async function start(log: pino.Logger): Promise<SetProgrammer> {
    const p = new SetProgrammer({ table: 'dnswall', adopt: 'background', refreshSlackMs: 5_000, stateFile: file, log });
    await p.prepare();
    await install();
    await p.open();
    return p;
  }

  t.test(`${N} live elements: a clean stop and a start learn them from the state file, no dump`, async (t) => {
    const p1 = await start(capture().log);
    await p1.adopted;
    for (let i = 0; i < N; i += 5000) await p1.add(Array.from({ length: 5000 }, (_, j) => el(i + j, 600_000)));
    const t0 = performance.now();
    await p1.close({ save: true });
    t.ok(existsSync(file), `state saved (close took ${(performance.now() - t0).toFixed(0)} ms)`);

    const { log, lines } = capture();
    const t1 = performance.now();
    const p2 = await start(log);
    const startMs = performance.now() - t1;
    const adopted = lines.find((l) => l.msg === 'live elements adopted');
    t.match(adopted, { from: 'state', elements: N, reads: 0 }, `adopted from the state file, no set read (${adopted?.ms} ms; prepare+install+open ${startMs.toFixed(0)} ms)`);
    t.notOk(existsSync(file), 'the file is removed once read');
    t.equal(p2.bookIncomplete, null, 'the book is complete');
    t.equal(p2.nameOf('allow4', Buffer.concat([el(77, 1).source, el(77, 1).destination])), 'n77.example.com', 'names restored');

    // A reload: revocation from the book (no kernel read) drops one name.
    const doomed = 'n7.example.com';
    const r = await p2.revokeFromBook((_src, name) => name !== doomed);
    t.match(r, { checked: N, revoked: 1 }, 'the reload decided every element from the book');
    t.equal(await left(7), null, 'the revoked element is gone from the kernel');
    t.ok((await left(8)) !== null, 'a kept element is still there');

    // A refresh with a shorter life after the restart never shortens an element.
    await p2.add([el(N - 1, 5_000)]);
    const s = await left(N - 1);
    t.ok(s !== null && s > LONG_S, `refreshed element still expires in ${s}s (not 5 s)`);

    // Control: an element deleted while dnswall is down.
    await p2.close({ save: true });
    t.ok(existsSync(file), 'saved again');
    const gone = el(5, 1);
    execFileSync('nft', ['delete', 'element', 'inet', 'dnswall', 'allow4', `{ ${ip(gone.source)} . ${ip(gone.destination)} }`]);
    const c = capture();
    const p3 = await start(c.log);
    await p3.adopted;
    const line = c.lines.find((l) => l.msg === 'live elements adopted');
    t.match(line, { from: 'kernel', stateFile: /generation/ }, 'the generation moved on: the sets were dumped');
    t.equal(line?.elements, N - 2, 'the dump found every element but the revoked and the deleted one');
    t.equal(p3.nameOf('allow4', Buffer.concat([gone.source, gone.destination])), null, 'the deleted element is not in the book');
    t.equal(p3.sizes().book, N - 2);
    await p3.close();
  });
});
