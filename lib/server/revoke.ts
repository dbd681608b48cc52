// Reload revocation: every live allow-set element is decided again with the new policy index
// (source, the name in its comment, its port) and the ones no longer allowed are deleted.
// From the programmer's book when it holds every live element (its watch says so: see
// SetProgrammer.revokeFromBook) — one decision per (source, name), no kernel read; else from a
// dump of the sets.
import ipaddr from 'ipaddr.js';
import { performance } from 'perf_hooks';
import type { PolicyIndex } from '../policy/index';
import type { Selection } from '../policy/sources';
import type { Decision } from '../policy/types';
import type { SetProgrammer } from '../nft/programmer';
import { IPPROTO, LAYOUTS, decodeKey, type AllowSet, type KeyFields } from '../nft/keys';
import { cgroupIdOf } from '../nft/owner';
import { guardRevokes, type AnswerGuard } from '../plugins/guard/ranges';

export interface RevokeResult {
  /** live elements read */
  checked: number;
  revoked: number;
  /** elements kept because their name is known only by a cut comment */
  undecided?: number;
  /** ms spent reading and deleting */
  ms: number;
  /** where the live elements came from: the programmer's book, or a dump of the kernel's sets */
  from: 'book' | 'kernel';
  /** why the book could not be used (from: 'kernel') */
  bookIncomplete?: string;
}

/** Where the live elements come from, where revoked keys go, and (optionally) the book's whole names (SetProgrammer). */
export type LiveSets = Pick<SetProgrammer, 'readLive' | 'remove'> & Partial<Pick<SetProgrammer, 'nameOf' | 'revokeFromBook' | 'bookIncomplete'>>;

import { commentIsWhole } from '../nft/netlink/setelem';

export { commentIsWhole };

/** The whole name of an element, when the daemon's book has it (SetProgrammer.nameOf). */
export type NameOf = (set: AllowSet, key: Buffer) => string | null;

/** The cgroup path of a cgroup id (lib/identity resolves it); undefined: not known here. */
export type CgroupPathOf = (id: bigint) => string | undefined;

/** Would the index still program this element? `d` is the decision for its source and name. */
export function stillAllowed(k: Pick<KeyFields, 'set' | 'proto' | 'port'>, d: Decision): boolean {
  if (d.verdict !== 'allow') return false; // denied now, or the source is no longer managed
  if (d.allPorts) return true; // a port element is a subset of all ports
  if (!LAYOUTS[k.set].withPort) return false; // all ports, but only some are allowed now
  return d.ports.some((p) => IPPROTO[p.proto] === k.proto && p.port === k.port);
}

/** A source known to another identity (a pod address; a hostNetwork pod's "cgroup:<id>"): its selection in `index`; undefined = not known there. */
export type SelectionOf = (address: string, index: PolicyIndex) => Selection | null | undefined;

/** What else revocation consults: cgroup paths by id, the answer guard, pod selections by address. */
export interface RevokeContext {
  cgroupPath?: CgroupPathOf;
  /** the new configuration's answer guard: an element whose destination it refuses for its source goes too */
  guard?: AnswerGuard;
  selectionOf?: SelectionOf;
}

/**
 * The keys of live elements that `index` no longer allows. Each is decided by its whole name:
 * the book's when it has one, else the comment if the comment is the whole name. An element
 * whose name is known only by a cut comment is kept (counted in `undecided`): it expires on its
 * own, and a cut name must never be the basis of a revoke. A cgroup element is decided by its
 * cgroup's path; one whose id `cgroupPath` cannot resolve is kept too. A pod address is decided
 * by its pod's selection (`selectionOf`).
 */
export async function findRevoked(
  live: Pick<LiveSets, 'readLive' | 'nameOf'>,
  index: PolicyIndex,
  ctx: RevokeContext = {},
): Promise<{ checked: number; keys: KeyFields[]; undecided: number }> {
  const { cgroupPath, guard, selectionOf } = ctx;
  const keys: KeyFields[] = [];
  let checked = 0;
  let undecided = 0;
  const nameOf: NameOf | undefined = live.nameOf?.bind(live);
  // Many elements share (source, name): decide each pair once.
  const decisions = new Map<string, Decision | null>();
  await live.readLive((set, el) => {
    const k = decodeKey(set, el.key);
    if (!k) return;
    checked++;
    const comment = el.comment ?? '';
    const name = nameOf?.(set, el.key) ?? (commentIsWhole(comment) ? comment : null);
    if (name === null) {
      undecided++;
      return;
    }
    const cgroup = LAYOUTS[set].source === 'cgroup';
    const source = cgroup ? String(cgroupIdOf(k.source)) : ipaddr.fromByteArray([...k.source]).toString();
    const pair = (cgroup ? 'cgroup:' : '') + source + ' ' + name;
    let d = decisions.get(pair);
    if (d === undefined) {
      const pod = cgroup ? selectionOf?.('cgroup:' + source, index) : undefined; // a hostNetwork pod's cgroup
      if (pod !== undefined) d = index.decide(pod, name);
      else if (cgroup) {
        const path = cgroupPath?.(BigInt(source));
        d = path === undefined ? null : index.decideCgroup(path, name);
      } else {
        const other = selectionOf?.(source, index);
        d = other !== undefined ? index.decide(other, name) : index.decideAddress({ address: source, family: k.source.length === 4 ? 4 : 6 }, name);
      }
      decisions.set(pair, d);
    }
    if (d && (!stillAllowed(k, d) || (guard && guardRevokes(guard, k.destination, d.policies)))) keys.push(k);
  });
  return { checked, keys, undecided };
}

/**
 * The book's visitor (SetProgrammer.revokeFromBook): decides a (source, name) group once — keep
 * all, delete all, or per element when ports or the answer guard decide. Same rules as findRevoked.
 */
export function groupVisitor(index: PolicyIndex, ctx: RevokeContext = {}): (source: Buffer, name: string) => boolean | ((set: AllowSet, key: Buffer) => boolean) {
  const { cgroupPath, guard, selectionOf } = ctx;
  // Few sources, many names: a source's selection is looked up once (the book passes one Buffer per source).
  const selections = new Map<Buffer, Selection | null | undefined>();
  const decide = index.decider(); // names under one parent often share a decision
  // One per-element check per decision (decisions are shared by the names of a parent).
  const perElement = new WeakMap<Decision, (set: AllowSet, key: Buffer) => boolean>();
  return (source, name) => {
    let d: Decision | null;
    if (source.length === LAYOUTS.cgroup4.srcLen) {
      const id = cgroupIdOf(source);
      const pod = selectionOf?.(`cgroup:${id}`, index); // a hostNetwork pod's cgroup: its pod's selection
      if (pod !== undefined) d = decide(pod, name);
      else {
        const path = cgroupPath?.(id);
        d = path === undefined ? null : decide(index.selectCgroup(path), name);
      }
    } else {
      let sel = selections.get(source);
      if (sel === undefined && !selections.has(source)) {
        const address = ipaddr.fromByteArray([...source]).toString();
        const other = selectionOf?.(address, index);
        sel = other !== undefined ? other : index.selectAddress(address);
        selections.set(source, sel);
      }
      d = decide(sel, name);
    }
    if (!d) return true; // cannot be decided here: kept, it expires on its own
    if (d.verdict !== 'allow') return false;
    if (d.allPorts && !guard) return true;
    const decided = d;
    let check = perElement.get(decided);
    if (!check) {
      check = (set, key) => {
        const k = decodeKey(set, key);
        return !k || (stillAllowed(k, decided) && !(guard && guardRevokes(guard, k.destination, decided.policies)));
      };
      perElement.set(decided, check);
    }
    return check;
  };
}

/** Deletes what the new index no longer allows, through the programmer (so its book forgets them too). */
export async function revokeDisallowed(live: LiveSets, index: PolicyIndex, ctx: RevokeContext = {}): Promise<RevokeResult> {
  const t0 = performance.now();
  const fromBook = await live.revokeFromBook?.(groupVisitor(index, ctx));
  if (fromBook) {
    const { checked, unnamed, revoked } = fromBook;
    return { checked, revoked, ...(unnamed ? { undecided: unnamed } : {}), ms: Math.round(performance.now() - t0), from: 'book' };
  }
  const { checked, keys, undecided } = await findRevoked(live, index, ctx);
  if (keys.length > 0) await live.remove(keys);
  const why = live.bookIncomplete;
  return { checked, revoked: keys.length, ...(undecided ? { undecided } : {}), ms: Math.round(performance.now() - t0), from: 'kernel', ...(why ? { bookIncomplete: why } : {}) };
}
