// Reload revocation: every live allow-set element is decided again with the new policy index
// (source, the name in its comment, its port) and the ones no longer allowed are deleted.
import ipaddr from 'ipaddr.js';
import { performance } from 'perf_hooks';
import type { PolicyIndex } from '../policy/index';
import type { Decision } from '../policy/types';
import type { SetProgrammer } from '../nft/programmer';
import { NfnlSocket } from '../nft/netlink/socket';
import { dumpSet } from '../nft/dump';
import { ALLOW_SETS, decodeKey, type AllowSet, type KeyFields } from '../nft/keys';
import { guardRevokes, type AnswerGuard } from '../plugins/guard/ranges';

const IPPROTO = { tcp: 6, udp: 17 } as const;
/** A dump of 100k elements takes seconds, more on a loaded machine. */
const DUMP_REPLY_TIMEOUT_MS = 60_000;

export interface RevokeResult {
  /** live elements read */
  checked: number;
  revoked: number;
  /** elements known only by a cut comment: kept, they expire on their own */
  undecided?: number;
  /** ms spent reading and deleting */
  ms: number;
}

/** Would the index still program this element? `d` is the decision for its source and name. */
export function stillAllowed(k: Pick<KeyFields, 'set' | 'proto' | 'port'>, d: Decision): boolean {
  if (d.verdict !== 'allow') return false; // denied now, or the source is no longer managed
  if (d.allPorts) return true; // a port element is a subset of all ports
  if (k.set === 'allow4' || k.set === 'allow6') return false; // all ports, but only some are allowed now
  return d.ports.some((p) => IPPROTO[p.proto] === k.proto && p.port === k.port);
}

/** A comment sanitizeComment cut ("~" + the name's right end) or changed ("?" for a byte nft cannot print). */
export function commentIsWhole(comment: string): boolean {
  return !comment.startsWith('~') && !comment.includes('?');
}

/** The whole name of an element, when the daemon's book has it (SetProgrammer.nameOf). */
export type NameOf = (set: AllowSet, key: Buffer) => string | null;

/**
 * The keys of live elements that `index` no longer allows. Each is decided by its whole name:
 * the book's when it has one, else the comment if the comment is the whole name. An element
 * whose name is known only by a cut comment is kept (counted in `undecided`): it expires on its
 * own, and a cut name must never be the basis of a revoke. `guard`: the new configuration's
 * answer guard; an element whose destination it refuses for its source goes too.
 */
export async function findRevoked(table: string, index: PolicyIndex, nameOf?: NameOf, guard?: AnswerGuard): Promise<{ checked: number; keys: KeyFields[]; undecided: number }> {
  const sock = new NfnlSocket({ replyTimeoutMs: DUMP_REPLY_TIMEOUT_MS });
  const keys: KeyFields[] = [];
  let checked = 0;
  let undecided = 0;
  // Many elements share (source, name): decide each pair once.
  const decisions = new Map<string, Decision>();
  try {
    for (const set of ALLOW_SETS) {
      for (const el of await dumpSet(sock, table, set)) {
        const k = decodeKey(set, el.key);
        if (!k) continue;
        checked++;
        const source = ipaddr.fromByteArray([...k.source]).toString();
        const comment = el.comment ?? '';
        const name = nameOf?.(set, el.key) ?? (commentIsWhole(comment) ? comment : null);
        if (name === null) {
          undecided++;
          continue;
        }
        const pair = source + ' ' + name;
        let d = decisions.get(pair);
        if (!d) {
          d = index.decideAddress({ address: source, family: k.source.length === 4 ? 4 : 6 }, name);
          decisions.set(pair, d);
        }
        if (!stillAllowed(k, d) || (guard && guardRevokes(guard, k.destination, d.policies))) keys.push(k);
      }
    }
  } finally {
    sock.close();
  }
  return { checked, keys, undecided };
}

/** Deletes what the new index no longer allows, through the programmer (so its book forgets them too). */
export async function revokeDisallowed(table: string, index: PolicyIndex, programmer: Pick<SetProgrammer, 'remove'> & Partial<Pick<SetProgrammer, 'nameOf'>>, guard?: AnswerGuard): Promise<RevokeResult> {
  const t0 = performance.now();
  const { checked, keys, undecided } = await findRevoked(table, index, programmer.nameOf?.bind(programmer), guard);
  if (keys.length > 0) await programmer.remove(keys);
  return { checked, revoked: keys.length, ...(undecided ? { undecided } : {}), ms: Math.round(performance.now() - t0) };
}
