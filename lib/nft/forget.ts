// `dnswall forget`: delete every allow-set element of one source (a pod that went away, so a
// new pod reusing its address starts with nothing open). One batch: atomic, all or nothing.
import * as ipaddr from 'ipaddr.js';
import { NfnlSocket, type BatchPart } from './netlink/socket';
import { NFPROTO_INET, NFT_MSG_DESTROYSETELEM } from './netlink/constants';
import { encodeElement, setElemMsg } from './netlink/setelem';
import { ALLOW_SETS, LAYOUTS, type AllowSet } from './keys';
import { dumpSet } from './dump';
import { NftError, CAP_HINT } from './errors';

/** Keys per DESTROYSETELEM message: well under the u16 attribute limit (52 bytes each for allow6p). */
const KEYS_PER_MSG = 500;
/** A dump of 100k elements takes seconds, more on a loaded machine. */
const DUMP_REPLY_TIMEOUT_MS = 60_000;

/** Source address bytes, IPv4-mapped IPv6 as IPv4; throws a RangeError naming the input. */
function sourceBytes(ip: string): Buffer {
  if (typeof ip !== 'string' || !ipaddr.isValid(ip)) throw new RangeError(`source ${JSON.stringify(ip)} is not an IP address`);
  return Buffer.from(ipaddr.process(ip).toByteArray());
}

/**
 * Deletes every element whose source is `ip` from the allow sets of `table inet T` (only the
 * sets of its family can hold it) in one netlink batch; returns how many were deleted.
 */
export async function forgetSource(table: string, ip: string): Promise<number> {
  const src = sourceBytes(ip);
  const sets = ALLOW_SETS.filter((s) => LAYOUTS[s].addrLen === src.length);
  const sock = new NfnlSocket({ replyTimeoutMs: DUMP_REPLY_TIMEOUT_MS });
  try {
    const found = new Map<AllowSet, Buffer[]>();
    let n = 0;
    for (const set of sets) {
      let els;
      try {
        els = await dumpSet(sock, table, set);
      } catch (e) {
        throw named(e as NftError, table, set);
      }
      const keys = els.filter((el) => el.key.length === LAYOUTS[set].keyLen && el.key.subarray(0, src.length).equals(src)).map((el) => encodeElement({ key: el.key }));
      found.set(set, keys);
      n += keys.length;
    }
    if (n === 0) return 0;
    const parts: BatchPart[] = [];
    for (const [set, keys] of found) {
      for (let i = 0; i < keys.length; i += KEYS_PER_MSG) {
        const chunk = keys.slice(i, i + KEYS_PER_MSG);
        parts.push({ label: `set inet ${table} ${set} (DESTROYSETELEM, ${chunk.length} elements)`, build: (s) => setElemMsg(NFT_MSG_DESTROYSETELEM, 0, s, NFPROTO_INET, table, set, chunk) });
      }
    }
    await sock.batch(parts);
    return n;
  } finally {
    sock.close();
  }
}

function named(err: NftError, table: string, set: string): Error {
  if (err.code === 'ENOENT') return new NftError('ENOENT', `set ${set} of table inet ${table} not found — is the ruleset installed?`);
  if (err.code === 'EPERM') return new NftError('EPERM', `cannot read table inet ${table}: Operation not permitted — ${CAP_HINT}`);
  return err;
}
