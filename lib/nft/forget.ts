// `dnswall forget`: delete every allow-set element of one source (a pod that went away, so a
// new pod reusing its address starts with nothing open). One batch: atomic, all or nothing.
import * as ipaddr from 'ipaddr.js';
import { netlinkTransport, type TransportFactory } from './netlink/socket';
import { ALLOW_SETS, LAYOUTS, type AllowSet } from './keys';
import { dumpTransport, readAllowSets, deleteKeys } from './sets';
import { cgroupIdBytes } from './owner';

/** Source address bytes, IPv4-mapped IPv6 as IPv4; throws a RangeError naming the input. */
function sourceBytes(ip: string): Buffer {
  if (typeof ip !== 'string' || !ipaddr.isValid(ip)) throw new RangeError(`source ${JSON.stringify(ip)} is not an IP address`);
  return Buffer.from(ipaddr.process(ip).toByteArray());
}

/**
 * Deletes every element whose source is `ip` from the allow sets of `table inet T` (only the
 * address sets of its family can hold it) in one netlink batch; returns how many were deleted.
 */
export async function forgetSource(table: string, ip: string, transport: TransportFactory = netlinkTransport): Promise<number> {
  const src = sourceBytes(ip);
  return forgetPrefix(
    table,
    ALLOW_SETS.filter((s) => LAYOUTS[s].source === 'ip' && LAYOUTS[s].srcLen === src.length),
    src,
    transport,
  );
}

/**
 * `dnswall forget --cgroup`: deletes every element keyed by this cgroup id from the cgroup sets
 * of `table inet T` in one netlink batch; returns how many were deleted.
 */
export async function forgetCgroup(table: string, id: bigint, transport: TransportFactory = netlinkTransport): Promise<number> {
  return forgetPrefix(
    table,
    ALLOW_SETS.filter((s) => LAYOUTS[s].source === 'cgroup'),
    cgroupIdBytes(id),
    transport,
  );
}

/** Deletes, in one batch, every element of `sets` whose key starts with the source bytes `prefix`. */
async function forgetPrefix(table: string, sets: AllowSet[], prefix: Buffer, transport: TransportFactory): Promise<number> {
  const io = dumpTransport(transport);
  try {
    const found: { set: AllowSet; key: Buffer }[] = [];
    await readAllowSets(
      io,
      table,
      (set, el) => {
        if (el.key.subarray(0, prefix.length).equals(prefix)) found.push({ set, key: el.key });
      },
      sets,
    );
    await deleteKeys(io, table, found, true);
    return found.length;
  } finally {
    io.close();
  }
}
