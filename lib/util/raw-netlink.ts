// The one part of the `netlink` package dnswall uses: its raw socket (our own encoding does the
// rest). Imported from the package's `dist/raw` rather than its index, which loads every family
// the package ships (rtnetlink, nl80211, WireGuard, generic netlink): 7.8 MB of RSS at start
// against 1.2 MB for the raw socket alone (node 20, measured with process.memoryUsage()).
export { RawNetlinkSocket } from 'netlink/dist/raw';
