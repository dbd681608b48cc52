// What a change notification means for the book (applyNotification): element deletions in our
// table's allow sets are reported key by key; everything else in other tables or sets is not;
// a deletion without elements, a deleted allow set or the deleted table means "anything may
// have changed". Messages are built with the encoder the programmer uses (the kernel's
// notifications carry the same attributes). The real kernel's notifications are read in
// skip.test.ts (an operator's `nft delete element`); this checks the parser's edges. No kernel needed.
import t from 'tap';
import { applyNotification, notificationReader, type WatchHandler } from '../../lib/nft/watch';
import { parseMessages, type NlMsg } from '../../lib/nft/netlink/decode';
import { setElemMsg, encodeElement } from '../../lib/nft/netlink/setelem';
import { nlmsg, strAttr } from '../../lib/nft/netlink/encode';
import {
  NFPROTO_INET,
  NFT_MSG_DELSETELEM,
  NFT_MSG_NEWSETELEM,
  NFT_MSG_DESTROYSETELEM,
  NFT_MSG_DELSET,
  NFT_MSG_DELTABLE,
  NFTA_SET_NAME,
  NFTA_TABLE_NAME,
  NFTA_SET_ELEM_LIST_TABLE,
  nftType,
} from '../../lib/nft/netlink/constants';

const key = (last: number) => Buffer.from([192, 0, 2, 10, 198, 18, 0, last]);

function one(buf: Buffer): NlMsg {
  const [m] = parseMessages(buf);
  return m;
}

function recorder() {
  const deleted: string[] = [];
  const lost: string[] = [];
  const h: WatchHandler = {
    deleted: (set, k) => deleted.push(`${set} ${k.toString('hex')}`),
    lost: (why) => lost.push(why),
  };
  return { h, deleted, lost };
}

t.test('a deletion in our table reports every key of an allow set', async (t) => {
  const r = recorder();
  applyNotification(
    one(
      setElemMsg(NFT_MSG_DELSETELEM, 0, 1, NFPROTO_INET, 'dnswall', 'allow4', [
        encodeElement({ key: key(1), comment: 'a.example' }),
        encodeElement({ key: key(2), timeoutMs: 5000 }),
      ]),
    ),
    'dnswall',
    r.h,
  );
  t.same(r.deleted, [`allow4 ${key(1).toString('hex')}`, `allow4 ${key(2).toString('hex')}`]);
  applyNotification(one(setElemMsg(NFT_MSG_DESTROYSETELEM, 0, 2, NFPROTO_INET, 'dnswall', 'cgroup6p', [encodeElement({ key: key(3) })])), 'dnswall', r.h);
  t.equal(r.deleted[2], `cgroup6p ${key(3).toString('hex')}`, 'destroy too, every allow set');
  t.same(r.lost, []);
});

t.test('other tables, near names and other sets are not ours', async (t) => {
  const r = recorder();
  for (const table of ['other', 'dnswal', 'dnswall2', 'DNSWALL'])
    applyNotification(one(setElemMsg(NFT_MSG_DELSETELEM, 0, 1, NFPROTO_INET, table, 'allow4', [encodeElement({ key: key(1) })])), 'dnswall', r.h);
  for (const set of ['allow', 'allow44', 'meter4', 'managed4'])
    applyNotification(one(setElemMsg(NFT_MSG_DELSETELEM, 0, 1, NFPROTO_INET, 'dnswall', set, [encodeElement({ key: key(1) })])), 'dnswall', r.h);
  t.same(r.deleted, []);
  t.same(r.lost, []);
});

t.test('a deletion without elements, a deleted allow set or table: anything may have changed', async (t) => {
  const r = recorder();
  applyNotification(one(setElemMsg(NFT_MSG_DELSETELEM, 0, 1, NFPROTO_INET, 'dnswall', 'allow6', [])), 'dnswall', r.h);
  t.match(r.lost[0], /allow6: a deletion without elements/);
  const delset = (table: string, set: string) => one(nlmsg(nftType(NFT_MSG_DELSET), 0, 1, NFPROTO_INET, [strAttr(NFTA_SET_ELEM_LIST_TABLE, table), strAttr(NFTA_SET_NAME, set)]));
  applyNotification(delset('dnswall', 'allow4p'), 'dnswall', r.h);
  applyNotification(delset('dnswall', 'meter4'), 'dnswall', r.h);
  applyNotification(delset('other', 'allow4'), 'dnswall', r.h);
  const deltable = (table: string) => one(nlmsg(nftType(NFT_MSG_DELTABLE), 0, 1, NFPROTO_INET, [strAttr(NFTA_TABLE_NAME, table)]));
  applyNotification(deltable('other'), 'dnswall', r.h);
  applyNotification(deltable('dnswall'), 'dnswall', r.h);
  t.same(r.lost, ['allow6: a deletion without elements', 'set allow4p deleted', 'table inet dnswall deleted']);
  t.same(r.deleted, []);
});

t.test('a truncated message never throws; with no key readable it means anything may have changed', async (t) => {
  const r = recorder();
  const full = setElemMsg(NFT_MSG_DELSETELEM, 0, 1, NFPROTO_INET, 'dnswall', 'allow4', [encodeElement({ key: key(1) }), encodeElement({ key: key(2) })]);
  const m = one(full);
  const cut: NlMsg = { ...m, payload: m.payload.subarray(0, m.payload.length - 6) };
  t.doesNotThrow(() => applyNotification(cut, 'dnswall', r.h));
  t.same(r.deleted, []);
  t.same(r.lost, ['allow4: a deletion without elements']);
});

t.test("notificationReader: our own deletions are counted unread, others' are parsed; our additions dropped", async (t) => {
  const OURS = 4242;
  const from = (buf: Buffer, pid: number) => {
    buf.writeUInt32LE(pid, 12); // nlmsg_pid: the sender's port id
    return buf;
  };
  const del = (last: number, pid: number) => from(setElemMsg(NFT_MSG_DELSETELEM, 0, 1, NFPROTO_INET, 'dnswall', 'allow4', [encodeElement({ key: key(last) })]), pid);
  const add = (last: number, pid: number) => from(setElemMsg(NFT_MSG_NEWSETELEM, 0, 1, NFPROTO_INET, 'dnswall', 'allow4', [encodeElement({ key: key(last) })]), pid);
  const r = recorder();
  const added: string[] = [];
  let own = 0;
  let counting = true;
  const h: WatchHandler = {
    ...r.h,
    added: (set, el) => added.push(`${set} ${el.key.toString('hex')}`),
    ours: (pid) => pid === OURS,
    ownDeletion: (pid) => {
      if (!counting || pid !== OURS) return false;
      own++;
      return true;
    },
  };
  const read = notificationReader('dnswall', h);
  read(Buffer.concat([del(1, OURS), del(2, 77), add(3, OURS), add(4, 77), del(5, OURS)]));
  t.equal(own, 2, 'our two deletions counted');
  t.same(r.deleted, [`allow4 ${key(2).toString('hex')}`], "only the other sender's deletion is parsed and reported");
  t.same(added, [`allow4 ${key(4).toString('hex')}`], "only the other sender's addition is reported");
  counting = false; // e.g. while adopting: every deletion is parsed
  read(del(6, OURS));
  t.equal(own, 2);
  t.same(r.deleted.at(-1), `allow4 ${key(6).toString('hex')}`, 'reported when ownDeletion says no');
  const plain = recorder();
  notificationReader('dnswall', plain.h)(del(7, OURS));
  t.same(plain.deleted, [`allow4 ${key(7).toString('hex')}`], 'a handler without ownDeletion hears every deletion');
  t.same(r.lost, []);
});
