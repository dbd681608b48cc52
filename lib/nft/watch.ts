// SetWatch: keeps the programmer's book true when something else changes dnswall's sets — an
// operator's `nft delete element`, `dnswall forget` from another process, a flush, `teardown`.
// It listens to nf_tables' change notifications (NFNLGRP_NFTABLES, the group `nft monitor`
// reads), keeps those about our table, and reports every element deleted from an allow set,
// or "anything may have changed" (a set or the table deleted, a deletion it cannot parse, lost
// notifications: ENOBUFS). The kernel queues a notification on this socket at commit, before
// the deleting command returns, so the notification of a deletion done before a query arrived
// is read in the same event-loop turn as that query, at the latest.
// It also reports elements another process added (the sender's netlink port id is not one of
// ours), so the book can stay complete: reload revocation reads the book instead of the sets.
import { RawNetlinkSocket } from 'netlink';
import type { Logger } from 'pino';
import {
  NETLINK_NETFILTER, NFNLGRP_NFTABLES, NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM, NFT_MSG_DESTROYSETELEM, NFT_MSG_DELSET,
  NFT_MSG_DESTROYSET, NFT_MSG_DELTABLE, NFT_MSG_DESTROYTABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_NAME, NFTA_TABLE_NAME,
} from './netlink/constants';
import { parseMessages, nfAttrs, attrMap, readString, type NlMsg } from './netlink/decode';
import { decodeSetElemMsg, type DecodedElement } from './netlink/setelem';
import { isAllowSet, type AllowSet } from './keys';

export interface WatchHandler {
  /** An element of an allow set was deleted (by anyone, dnswall included). */
  deleted(set: AllowSet, key: Buffer): void;
  /** Changes may have been missed: trust nothing the book knew. `dead`: the watch has stopped for good. */
  lost(why: string, dead?: boolean): void;
  /** An element was added to an allow set by a socket `ours` does not own (absent: additions are not reported). */
  added?(set: AllowSet, el: DecodedElement): void;
  /** Is this netlink port id one of the listener's own sockets? (its additions are known already) */
  ours?(portid: number): boolean;
}

export interface SetWatcher {
  close(): void;
}

/** Starts watching `table inet T`; throws if the socket cannot join the group (then nothing may be trusted). */
export type WatchFactory = (table: string, handler: WatchHandler, log?: Logger) => SetWatcher;

/** What one notification means for the book. Exported for tests. */
export function applyNotification(msg: NlMsg, table: string, h: WatchHandler): void {
  if (msg.type >> 8 !== NFNL_SUBSYS_NFTABLES) return;
  const type = msg.type & 0xff;
  const a = attrMap(nfAttrs(msg));
  switch (type) {
    case NFT_MSG_NEWSETELEM: {
      if (!h.added || h.ours?.(msg.pid) || readString(a.get(NFTA_SET_ELEM_LIST_TABLE)) !== table) return;
      const d = decodeSetElemMsg(msg);
      if (!isAllowSet(d.set)) return;
      for (const el of d.elements) h.added(d.set, el);
      return;
    }
    case NFT_MSG_DELSETELEM:
    case NFT_MSG_DESTROYSETELEM: {
      if (readString(a.get(NFTA_SET_ELEM_LIST_TABLE)) !== table) return;
      const d = decodeSetElemMsg(msg);
      if (!isAllowSet(d.set)) return;
      if (d.elements.length === 0) return h.lost(`${d.set}: a deletion without elements`);
      for (const el of d.elements) h.deleted(d.set, el.key);
      return;
    }
    case NFT_MSG_DELSET:
    case NFT_MSG_DESTROYSET:
      // NFTA_SET_TABLE = 1 = NFTA_SET_ELEM_LIST_TABLE
      if (readString(a.get(NFTA_SET_ELEM_LIST_TABLE)) === table && isAllowSet(readString(a.get(NFTA_SET_NAME)))) h.lost(`set ${readString(a.get(NFTA_SET_NAME))} deleted`);
      return;
    case NFT_MSG_DELTABLE:
    case NFT_MSG_DESTROYTABLE:
      if (readString(a.get(NFTA_TABLE_NAME)) === table) h.lost(`table inet ${table} deleted`);
      return;
    default:
      // nothing else changes what the book holds
  }
}

/** The real watcher: a NETLINK_NETFILTER socket in the NFNLGRP_NFTABLES group. */
export const netlinkWatch: WatchFactory = (table, handler, log) => {
  const sock = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 8 << 20, sendBufferSize: 64 << 10 });
  sock.on('error', (err) => {
    // ENOBUFS: notifications were dropped; we cannot know which elements went.
    log?.warn({ err: { code: err.code, message: err.message } }, 'nftables change notifications lost; refreshing every element again');
    handler.lost(`notification socket: ${err.code || err.message}`);
  });
  sock.on('truncatedMessage', () => handler.lost('notification truncated'));
  let closing = false;
  sock.on('close', () => { if (!closing) handler.lost('notification socket closed', true); });
  sock.on('message', (buf) => {
    for (const msg of parseMessages(buf)) applyNotification(msg, table, handler);
  });
  try {
    sock.addMembership(NFNLGRP_NFTABLES);
  } catch (e) {
    sock.close();
    throw e;
  }
  sock.unref();
  return { close: () => { closing = true; sock.close(); } };
};
