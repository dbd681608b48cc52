// The IP identity: a sender is its source address, selected by the policies' CIDRs. The key is
// the address itself, in its own family only (a pod that asks over IPv4 connects from IPv4).
import ipaddr from 'ipaddr.js';
import type { PolicyIndex } from '../policy/index';
import type { Peer, Source } from './types';

/** Address text → bytes, parsed once per sender (pods are few; a node sees hundreds at most). */
const KEY_CACHE_MAX = 4096;
const keyCache = new Map<string, Buffer>();

/** Throws on text that is not an IP address (a bug: peers come from sockets), so the query fails closed. */
export function addressBytes(address: string): Buffer {
  let b = keyCache.get(address);
  if (!b) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    const bytes = ipaddr.parse(address).toByteArray();
    // Its own memory, not a slice of Buffer's 8 KiB pool: a cached key would keep its slab alive.
    b = Buffer.allocUnsafeSlow(bytes.length);
    b.set(bytes);
    keyCache.set(address, b);
  }
  return b;
}

/** The IP source of a query: selected by CIDR in `index`; keyed by its own address. */
export function ipSource(index: PolicyIndex, peer: Peer): Source {
  return {
    kind: 'ip',
    address: peer.address,
    family: peer.family,
    port: peer.port,
    selection: index.selectAddress(peer.address) ?? null,
    keys: peer.family === 4 ? { 4: addressBytes(peer.address) } : { 6: addressBytes(peer.address) },
    display: peer.address,
  };
}
