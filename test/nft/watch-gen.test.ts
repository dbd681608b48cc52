// NEWGEN generation ids: every commit ends with one, +1 each (a u32 that skips 0). A gap means
// commits whose notifications were dropped (the watch socket has NETLINK_NO_ENOBUFS, so the
// kernel drops silently); applyNotification hands the id to the watch. No kernel needed.
import t from 'tap';
import { applyNotification, generationGap, nextGeneration, type WatchHandler } from '../../lib/nft/watch';
import { NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN, NFTA_GEN_ID } from '../../lib/nft/netlink/constants';
import type { NlMsg } from '../../lib/nft/netlink/decode';

/** An NFT_MSG_NEWGEN notification: nfgenmsg + NFTA_GEN_ID (be32). */
function newgen(id: number): NlMsg {
  const body = Buffer.alloc(4 + 8);
  body.writeUInt8(0, 0); // nfgen_family
  body.writeUInt16LE(4 + 4, 4); // nla_len
  body.writeUInt16LE(NFTA_GEN_ID, 6);
  body.writeUInt32BE(id, 8);
  return { type: (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN, flags: 0, seq: 0, pid: 0, payload: body };
}

t.test('next generation wraps past 0', async (t) => {
  t.equal(nextGeneration(41), 42);
  t.equal(nextGeneration(0xffffffff), 1);
});

t.test('gaps are reported, consecutive ids are not', async (t) => {
  const gap = generationGap();
  t.equal(gap(100), null, 'the first id is the baseline');
  t.equal(gap(101), null);
  t.match(gap(104), /generation 104 after 101/);
  t.equal(gap(105), null, 'the baseline moves on');
  const w = generationGap();
  w(0xffffffff);
  t.equal(w(1), null, 'wrap: 0 is skipped');
});

t.test('applyNotification passes NEWGEN ids to the handler', async (t) => {
  const ids: number[] = [];
  const h: WatchHandler = { deleted: () => t.fail('no deletion'), lost: () => t.fail('nothing lost'), generation: (id) => ids.push(id) };
  applyNotification(newgen(7), 'dnswall', h);
  applyNotification(newgen(0x80000001), 'dnswall', h);
  t.same(ids, [7, 0x80000001]);
});
