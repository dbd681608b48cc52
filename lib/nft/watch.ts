// SetWatch: keeps the programmer's book true when something else changes dnswall's sets — an
// operator's `nft delete element`, `dnswall forget` from another process, a flush, `teardown`.
// It listens to nf_tables' change notifications (NFNLGRP_NFTABLES, the group `nft monitor`
// reads), keeps those about our table, and reports every element deleted from an allow set,
// or "anything may have changed" (a set or the table deleted, a deletion it cannot parse, lost
// notifications). The kernel queues a notification on this socket at commit, before
// the deleting command returns, so the notification of a deletion done before a query arrived
// is read in the same event-loop turn as that query, at the latest.
// It also reports elements another process added (the sender's netlink port id is not one of
// ours), so the book can stay complete: reload revocation reads the book instead of the sets.
//
// Overflow. netlink@0.3.0 aborts the process when this socket overflows (ENOBUFS → POLLERR; see
// netlink/sockopt.ts), and a burst of adds (≈60k/s and up, anyone's) overflows it. So the socket
// gets NETLINK_NO_ENOBUFS (the kernel drops what does not fit, silently) and a 64 MiB buffer
// (SO_RCVBUFFORCE), and loss is detected without ENOBUFS: (1) the kernel's drop counter of this
// socket (sk_drops, /proc/net/netlink), read by check() — the programmer calls it before it
// trusts the book (skip, revocation) and a timer every WATCH_POLL_MS; (2) a gap in the NEWGEN generation ids (every commit ends with one), noticed
// as soon as a later NEWGEN is read. (2) alone is not enough: the lost messages may be the last
// ones (no later NEWGEN), and with NO_ENOBUFS a commit's element messages can be dropped while
// its NEWGEN (a later skb) still fits. If the options cannot be set, the watch does not open.
// A big buffer also means a big backlog: check() says whether the watch is behind (bytes still
// queued), and the programmer then sends instead of skipping (the book may be stale this turn).
import { RawNetlinkSocket } from '../util/raw-netlink';
import type { Logger } from 'pino';
import {
  NETLINK_NETFILTER,
  NFNLGRP_NFTABLES,
  NFNL_SUBSYS_NFTABLES,
  NFT_MSG_NEWSETELEM,
  NFT_MSG_DELSETELEM,
  NFT_MSG_DESTROYSETELEM,
  NFT_MSG_DELSET,
  NFT_MSG_DESTROYSET,
  NFT_MSG_DELTABLE,
  NFT_MSG_DESTROYTABLE,
  NFTA_SET_ELEM_LIST_TABLE,
  NFTA_SET_ELEM_LIST_SET,
  NFTA_SET_NAME,
  NFTA_TABLE_NAME,
  NFT_MSG_NEWGEN,
  NFTA_GEN_ID,
} from './netlink/constants';
import { parseMessages, nfAttrs, findAttr, stringAttrIs, readBe32, type NlMsg } from './netlink/decode';
import { hardenNetlinkSocket, netlinkRowByInode } from './netlink/sockopt';
import { decodeSetElemMsg, forEachElementKey, type DecodedElement } from './netlink/setelem';
import { ALLOW_SETS, isAllowSet, type AllowSet } from './keys';

export interface WatchHandler {
  /** An element of an allow set was deleted (by anyone, dnswall included). */
  deleted(set: AllowSet, key: Buffer): void;
  /** Changes may have been missed: trust nothing the book knew. `dead`: the watch has stopped for good. */
  lost(why: string, dead?: boolean): void;
  /** An element was added to an allow set by a socket `ours` does not own (absent: additions are not reported). */
  added?(set: AllowSet, el: DecodedElement): void;
  /** Is this netlink port id one of the listener's own sockets? (its additions are known already) */
  ours?(portid: number): boolean;
  /**
   * An element deletion sent by `portid`: true when it is one of the listener's own, which the
   * book forgot before sending and which need not be parsed (the listener counts it); the
   * watch then drops the message by its header. false: parse it and report its keys (deleted).
   * Absent: every deletion is parsed.
   */
  ownDeletion?(portid: number): boolean;
  /** A commit's NEWGEN: the generation id it made current. */
  generation?(id: number): void;
}

export interface SetWatcher {
  close(): void;
  /**
   * Has the watch read everything the kernel queued for it? (false: it is behind, the book may
   * not know the latest changes yet — don't vouch for anything this turn.) Also reports
   * (handler.lost) notifications the kernel dropped. Cheap while the last poll read drained the
   * socket (fewer than RECV_BATCH datagrams since the last look); else, or with `force`, it reads
   * the socket's row of /proc/net/netlink (queued bytes, drop counter; ~0.1 ms).
   */
  check?(force?: boolean): boolean;
}

/** The watch socket's receive buffer (SO_RCVBUFFORCE; the kernel reports double). */
export const WATCH_RECV_BUFFER = 64 << 20;
/** netlink@0.3.0 reads at most this many datagrams per poll callback (binding.cc Recvmsg); fewer means it hit EAGAIN. */
export const RECV_BATCH = 32;
/** check(true) runs at least this often while the watch is up (drops → the book incomplete soon). */
export const WATCH_POLL_MS = 1_000;

/** The generation after `id` (a u32 that skips 0 when it wraps: nf_tables' base_seq). */
export function nextGeneration(id: number): number {
  return id >= 0xffffffff ? 1 : id + 1;
}

/** Tracks NEWGEN ids; returns a description of the gap when one was skipped. */
export function generationGap(): (id: number) => string | null {
  let last: number | null = null;
  return (id) => {
    const want = last === null ? id : nextGeneration(last);
    last = id;
    return id === want ? null : `generation ${id} after ${want - 1} (commits missed)`;
  };
}

/** Starts watching `table inet T`; throws if the socket cannot join the group (then nothing may be trusted). */
export type WatchFactory = (table: string, handler: WatchHandler, log?: Logger) => SetWatcher;

/** What one notification means for the book. Exported for tests. */
export function applyNotification(msg: NlMsg, table: string, h: WatchHandler): void {
  if (msg.type >> 8 !== NFNL_SUBSYS_NFTABLES) return;
  const type = msg.type & 0xff;
  const attrs = nfAttrs(msg);
  switch (type) {
    case NFT_MSG_NEWGEN: {
      const id = readBe32(findAttr(attrs, NFTA_GEN_ID));
      if (id !== undefined) h.generation?.(id);
      return;
    }
    case NFT_MSG_NEWSETELEM: {
      if (!h.added || h.ours?.(msg.pid) || !stringAttrIs(findAttr(attrs, NFTA_SET_ELEM_LIST_TABLE), table)) return;
      const d = decodeSetElemMsg(msg);
      if (!isAllowSet(d.set)) return;
      for (const el of d.elements) h.added(d.set, el);
      return;
    }
    case NFT_MSG_DELSETELEM:
    case NFT_MSG_DESTROYSETELEM: {
      // One message per deleted element (a revocation reads one per revoked element): only the
      // table, the set and the keys are looked at, nothing is copied.
      if (!stringAttrIs(findAttr(attrs, NFTA_SET_ELEM_LIST_TABLE), table)) return;
      const set = allowSetOf(findAttr(attrs, NFTA_SET_ELEM_LIST_SET));
      if (!set) return;
      if (forEachElementKey(attrs, (key) => h.deleted(set, key)) === 0) h.lost(`${set}: a deletion without elements`);
      return;
    }
    case NFT_MSG_DELSET:
    case NFT_MSG_DESTROYSET: {
      // NFTA_SET_TABLE = 1 = NFTA_SET_ELEM_LIST_TABLE
      const set = allowSetOf(findAttr(attrs, NFTA_SET_NAME));
      if (set && stringAttrIs(findAttr(attrs, NFTA_SET_ELEM_LIST_TABLE), table)) h.lost(`set ${set} deleted`);
      return;
    }
    case NFT_MSG_DELTABLE:
    case NFT_MSG_DESTROYTABLE:
      if (stringAttrIs(findAttr(attrs, NFTA_TABLE_NAME), table)) h.lost(`table inet ${table} deleted`);
      return;
    default:
    // nothing else changes what the book holds
  }
}

/** The allow set a NUL-terminated set-name attribute names, if it names one. */
function allowSetOf(b: Buffer | undefined): AllowSet | undefined {
  for (const s of ALLOW_SETS) if (stringAttrIs(b, s)) return s;
  return undefined;
}

/** nlmsg_type of an element addition (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM). */
const ELEMENT_ADDITION = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
/** nlmsg_type of an element deletion (the kernel sends one message per deleted element). */
const ELEMENT_DELETION = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM;

/**
 * What the watch does with one datagram of notifications. Our own additions and (when the
 * handler says so) our own deletions are dropped by their netlink header, before any attribute
 * is read: applyNotification would ignore the additions after parsing them, and the book forgot
 * the deleted elements before it sent the deletions (one message per element committed or
 * revoked: most of what the watch hears).
 */
export function notificationReader(table: string, handler: WatchHandler): (buf: Buffer) => void {
  const own = (type: number, pid: number) => (type === ELEMENT_ADDITION && handler.ours?.(pid) === true) || (type === ELEMENT_DELETION && handler.ownDeletion?.(pid) === true);
  return (buf) => {
    for (const msg of parseMessages(buf, own)) applyNotification(msg, table, handler);
  };
}

/** The real watcher: a NETLINK_NETFILTER socket in the NFNLGRP_NFTABLES group, NETLINK_NO_ENOBUFS. */
export const netlinkWatch: WatchFactory = (table, handler, log) => openNetlinkWatch(table, handler, log);

export function openNetlinkWatch(table: string, handler: WatchHandler, log?: Logger, opts: { recvBuffer?: number } = {}): SetWatcher {
  const sock = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 8 << 20, sendBufferSize: 64 << 10 });
  let inode: string;
  let drops: number;
  try {
    // Before joining the group: nothing can overflow it yet.
    const h = hardenNetlinkSocket(NETLINK_NETFILTER, sock.address().port, { noEnobufs: true, recvBufferForce: opts.recvBuffer ?? WATCH_RECV_BUFFER });
    inode = h.inode;
    drops = h.drops;
  } catch (e) {
    sock.close();
    throw new Error(`the change-notification socket cannot be made overflow-safe: ${(e as Error).message}`, { cause: e });
  }
  let closing = false;
  let dead = false;
  const lost = (why: string, gone?: boolean) => {
    if (dead) return;
    if (gone) dead = true;
    handler.lost(why, gone);
  };
  sock.on('error', (err) => {
    // Not an overflow (NETLINK_NO_ENOBUFS); the package closes the socket after an error.
    log?.warn({ err: { code: err.code, message: err.message } }, 'nftables change notification socket failed; refreshing every element again');
    lost(`notification socket: ${err.code || err.message}`);
  });
  sock.on('truncatedMessage', () => lost('notification truncated'));
  sock.on('close', () => {
    if (!closing) lost('notification socket closed', true);
  });
  const gap = generationGap();
  let datagrams = 0;
  const watching: WatchHandler = {
    ...handler,
    generation: (id) => {
      const g = gap(id);
      if (g) lost(g);
      handler.generation?.(id);
    },
  };
  const read = notificationReader(table, watching);
  sock.on('message', (buf) => {
    datagrams++;
    read(buf);
  });
  const check = (force?: boolean): boolean => {
    if (closing || dead) return false;
    // Fewer than RECV_BATCH datagrams since the last look: the last poll callback stopped at
    // EAGAIN, the socket was empty then. (A drop needs a full buffer, which is read RECV_BATCH at
    // a time, so it is seen here by the next look after it.)
    if (!force && datagrams < RECV_BATCH) return true;
    datagrams = 0;
    let row;
    try {
      row = netlinkRowByInode(inode);
    } catch (e) {
      lost(`cannot read the drop counter: ${(e as Error).message}`, true);
      return false;
    }
    if (!row) {
      lost('notification socket gone from /proc/net/netlink', true);
      return false;
    }
    if (row.drops !== drops) {
      log?.warn({ dropped: row.drops - drops }, 'nftables change notifications dropped (receive buffer full); refreshing every element again');
      lost(`${row.drops - drops} notifications dropped (receive buffer full)`);
      drops = row.drops;
    }
    return row.rmem === 0;
  };
  const timer = setInterval(() => check(true), WATCH_POLL_MS);
  timer.unref();
  try {
    sock.addMembership(NFNLGRP_NFTABLES);
  } catch (e) {
    clearInterval(timer);
    sock.close();
    throw e;
  }
  sock.unref();
  return {
    close: () => {
      closing = true;
      clearInterval(timer);
      sock.close();
    },
    check,
  };
}
