// Is a query's sender a socket of this network namespace? Its source address is then loopback or
// one of the namespace's own addresses. The set is read with getifaddrs (os.networkInterfaces)
// at start, again whenever the kernel announces an address change (rtnetlink groups
// RTNLGRP_IPV4_IFADDR / RTNLGRP_IPV6_IFADDR), and every 30 s as a backstop — so the per-query
// test is one Set lookup and a pod's query (another namespace's address) pays nothing more.
import os from 'node:os';
import { RawNetlinkSocket } from '../../util/raw-netlink';

const NETLINK_ROUTE = 0;
const RTNLGRP_IPV4_IFADDR = 5;
const RTNLGRP_IPV6_IFADDR = 9;
const REFRESH_MS = 30_000;

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** The addresses getifaddrs reports (interfaces that are up), canonical text. */
export function interfaceAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ''));
  }
  return out;
}

export class LocalAddresses {
  private addresses: Set<string>;
  private sock: RawNetlinkSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  /** refreshes so far (tests, metrics) */
  refreshes = 0;

  /** `extra`: addresses that are always local (the listen addresses). */
  constructor(
    private readonly extra: readonly string[] = [],
    private readonly read: () => Set<string> = interfaceAddresses,
  ) {
    this.addresses = this.load();
  }

  has(address: string): boolean {
    return isLoopback(address) || this.addresses.has(address);
  }

  /** Follow address changes (a netlink subscription and a periodic re-read); stop with close(). */
  follow(): void {
    if (this.sock || this.timer) return;
    try {
      const sock = new RawNetlinkSocket(NETLINK_ROUTE, { recvBufferSize: 256 << 10, sendBufferSize: 4096 });
      sock.on('error', () => this.schedule()); // ENOBUFS: events lost, so read everything again
      sock.on('message', () => this.schedule());
      sock.addMembership(RTNLGRP_IPV4_IFADDR);
      sock.addMembership(RTNLGRP_IPV6_IFADDR);
      sock.unref();
      this.sock = sock;
    } catch {
      // no rtnetlink: the periodic re-read still keeps the set current
    }
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  refresh(): void {
    this.addresses = this.load();
    this.refreshes++;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sock?.close();
    this.sock = null;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.refresh();
    });
  }

  private load(): Set<string> {
    const s = this.read();
    for (const a of this.extra) s.add(a);
    return s;
  }
}
