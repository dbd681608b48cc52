// What dnswall told whom, and how it ended: per (source, destination) the last answer that
// programmed it (name, when, until when, ports) and, if it ended early, why (evicted by a cap).
// Bounded (least recently answered forgotten first), so memory stays flat however many names
// churn. `classify` turns a logged drop into the reason a user asked for.
import ipaddr from 'ipaddr.js';

export const HISTORY_MAX = 32_768;

export interface Answered {
  name: string;
  /** ms since the epoch */
  at: number;
  /** when the element's timeout runs out (a later answer only extends it) */
  expiresAt: number;
  /** null = all ports; else the "tcp/443" forms the answer opened */
  ports: Set<string> | null;
  evicted?: { cap: string; at: number };
}

export interface Verdict {
  reason: 'expired' | 'evicted' | 'revoked' | 'port' | 'other_source' | 'never_answered' | 'unexplained' | 'unattributed';
  detail: string;
  name?: string;
}

export interface ClassifyContext {
  /** when the last reload was applied (0: none since start) */
  reloadedAt: number;
  /** does the policy in force now still allow this name for this source? */
  stillAllowed(source: string, name: string): boolean;
}

const CAP_NAMES: Record<string, string> = { perName: 'maxAddressesPerName', perSource: 'maxElementsPerSource', total: 'maxElements' };

export class AnswerHistory {
  private readonly pairs = new Map<string, Answered>();
  /** destination → the last source it was answered to (for "answered only to another source") */
  private readonly byDestination = new Map<string, { source: string; name: string; at: number }>();

  constructor(private readonly max = HISTORY_MAX) {}

  get size(): number {
    return this.pairs.size;
  }

  /** A committed answer opened destination for source (one element). */
  answered(source: string, destination: string, name: string, timeoutMs: number, port: string | null, now = Date.now()): void {
    const k = source + ' ' + destination;
    const prev = this.pairs.get(k);
    const expiresAt = now + timeoutMs;
    let ports: Set<string> | null;
    if (prev && prev.name === name && !prev.evicted && prev.expiresAt > now) {
      ports = port === null || prev.ports === null ? null : prev.ports.add(port);
    } else {
      ports = port === null ? null : new Set([port]);
    }
    this.pairs.delete(k); // re-insert: newest last, the oldest is evicted first
    this.pairs.set(k, { name, at: now, expiresAt: Math.max(expiresAt, prev && prev.name === name && !prev.evicted ? prev.expiresAt : 0), ports });
    if (this.pairs.size > this.max) this.pairs.delete(this.pairs.keys().next().value as string);
    this.byDestination.delete(destination);
    this.byDestination.set(destination, { source, name, at: now });
    if (this.byDestination.size > this.max) this.byDestination.delete(this.byDestination.keys().next().value as string);
  }

  /** A cap deleted the element early. */
  evicted(source: string, destination: string, cap: string, now = Date.now()): void {
    const e = this.pairs.get(source + ' ' + destination);
    if (e) e.evicted = { cap: CAP_NAMES[cap] ?? cap, at: now };
  }

  get(source: string, destination: string): Answered | undefined {
    return this.pairs.get(source + ' ' + destination);
  }

  /** Why was a new connection from source to destination:port dropped at `at`? */
  classify(source: string, destination: string, proto: string, port: number | undefined, at: number, ctx: ClassifyContext): Verdict {
    const e = this.pairs.get(source + ' ' + destination);
    if (e) {
      const ago = (t: number) => `${Math.max(0, Math.round((at - t) / 1000))} s ago`;
      if (e.evicted) return { reason: 'evicted', name: e.name, detail: `answered ${e.name} to this source ${ago(e.at)}, evicted (cap ${e.evicted.cap}) ${ago(e.evicted.at)}` };
      if (e.expiresAt <= at) return { reason: 'expired', name: e.name, detail: `answered ${e.name} to this source, expired ${ago(e.expiresAt)}` };
      if (ctx.reloadedAt > e.at && !ctx.stillAllowed(source, e.name))
        return { reason: 'revoked', name: e.name, detail: `answered ${e.name} to this source ${ago(e.at)}, revoked by reload ${ago(ctx.reloadedAt)}` };
      const want = port === undefined ? proto : `${proto}/${port}`;
      if (e.ports && !e.ports.has(want)) return { reason: 'port', name: e.name, detail: `answered ${e.name} to this source for ${[...e.ports].join(', ')} only, not ${want}` };
      return {
        reason: 'unexplained',
        name: e.name,
        detail: `answered ${e.name} to this source ${ago(e.at)} and not known to have ended (deleted by hand, or the ruleset was reinstalled?)`,
      };
    }
    const other = this.byDestination.get(destination);
    if (other && other.source !== source) return { reason: 'other_source', name: other.name, detail: `answered only to another source (${other.source}, ${other.name})` };
    return { reason: 'never_answered', detail: 'never answered: literal IP or another resolver' };
  }
}

/** Element source/destination bytes → text, as the history keys them. */
export function addressText(b: Buffer): string {
  // 4 or 16 bytes: an address; 8: a cgroup id (host order), shown as such.
  return b.length === 4 || b.length === 16 ? ipaddr.fromByteArray([...b]).toString() : `cgroup-id:${b.toString('hex')}`;
}
