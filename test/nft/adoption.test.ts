// A restarted programmer with adopt: 'background' is usable at once even with 100k live
// elements, and a refresh during adoption still never shortens an element the previous
// daemon wrote (lookup by key before the refresh).
import { performance } from 'perf_hooks';
import { runInNetns } from './netns';
import { openProgrammer, ip4 } from './fixtures';
import { NfnlSocket } from '../../lib/nft/netlink/socket';
import { encodeElement, setElemMsg, decodeSetElemMsg } from '../../lib/nft/netlink/setelem';
import { NFPROTO_INET, NFT_MSG_GETSETELEM, NLM_F_ACK } from '../../lib/nft/netlink/constants';
import { SetProgrammer, type Element } from '../../lib/nft/programmer';

const N = 100_000;
/** Every bound below holds for a run of up to tap's per-file timeout (240 s, package.json). */
const MAX_RUN_S = 240;
const NEW_LIFE_S = MAX_RUN_S + 60;
/** What is left of the previous daemon's 600 s at the end of the longest run. */
const LONG_S = 600 - MAX_RUN_S;
const el = (i: number, timeoutMs: number): Element => ({
  set: 'allow4',
  source: Buffer.from([10, 244, 1, 1 + (i >> 16)]),
  destination: Buffer.from([198, 18, (i >> 8) & 255, i & 255]),
  timeoutMs,
  comment: `n${i}.example.com`,
});

runInNetns(__filename, (t) => {
  t.test(`${N} live elements: open() in background, refresh during adoption keeps the longer life`, async (t) => {
    const p1 = await openProgrammer();
    for (let i = 0; i < N; i += 5000) await p1.add(Array.from({ length: 5000 }, (_, j) => el(i + j, 600_000)));
    await p1.close();

    const t0 = performance.now();
    const p2 = new SetProgrammer({ table: 'dnswall', adopt: 'background' });
    await p2.open();
    const openMs = performance.now() - t0;
    t.ok(openMs < 1000, `open() took ${openMs.toFixed(0)} ms with ${N} live elements`);
    // Refreshed before its set was read: the previous daemon gave it 600 s, this answer 5 s.
    const last = N - 1;
    const t1 = performance.now();
    await p2.add([el(last, 5_000)]);
    t.ok(performance.now() - t1 < 1000, `add() during adoption committed in ${(performance.now() - t1).toFixed(0)} ms`);
    // A new element, with a life longer than this file may run (tap's timeout), so it cannot expire before it is read.
    await p2.add([{ ...el(0, NEW_LIFE_S * 1000), destination: ip4('198.51.100.99') }]);
    await p2.adopted;
    const adoptedMs = performance.now() - t0;
    t.comment(`open ${openMs.toFixed(0)} ms, adoption done after ${adoptedMs.toFixed(0)} ms`, p2.adoptionStats);
    // One element by key (GETSETELEM without dump): a dump of 100k elements took over 60 s on a loaded machine.
    const left = async (src: string, dst: string) => {
      const sock = new NfnlSocket({ replyTimeoutMs: 60_000 });
      try {
        const key = Buffer.concat([ip4(src), ip4(dst)]);
        const replies = await sock.get('allow4 (GETSETELEM)', (seq) => setElemMsg(NFT_MSG_GETSETELEM, NLM_F_ACK, seq, NFPROTO_INET, 'dnswall', 'allow4', [encodeElement({ key })]));
        const e = replies.length ? decodeSetElemMsg(replies[0]).elements[0] : undefined;
        return e?.expirationMs === undefined ? null : e.expirationMs / 1000;
      } finally {
        sock.close();
      }
    };
    const s = await left(`10.244.1.${1 + (last >> 16)}`, `198.18.${(last >> 8) & 255}.${last & 255}`);
    // 600 s less the time this test has run (at most tap's timeout): never near the answer's 5 s.
    t.ok(s !== null && s > LONG_S, `refreshed element still expires in ${s}s (not 5 s)`);
    const fresh = await left('10.244.1.1', '198.51.100.99');
    t.ok(fresh !== null && fresh <= NEW_LIFE_S, `new element lives its own ${fresh}s`);
    // After adoption the book knows every element: a short refresh of another one stays long.
    await p2.add([el(1, 5_000)]);
    const s1 = await left('10.244.1.1', '198.18.0.1');
    t.ok(s1 !== null && s1 > LONG_S, `element learned by adoption: ${s1}s`);
    await p2.close();
  });
});
