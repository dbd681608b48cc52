// dgram's `lookup` for sockets that send to addresses, not names (the listeners answer the
// sender's address, the upstream pool asks configured addresses). Node's default, dns.lookup,
// answers even an IP literal through a process.nextTick, so every send() waited a tick and paid
// an async-context scope; a literal goes straight through here. A name still goes to dns.lookup.
import { isIP } from 'node:net';
import { lookup, type LookupOneOptions } from 'node:dns';

export function literalLookup(address: string, options: LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(address);
  if (family !== 0) callback(null, address, family);
  else lookup(address, options, callback);
}
