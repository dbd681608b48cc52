// Drops: the kernel logs each rejected new connection of a managed source (ruleset.ts,
// dropLogRule) to a netlink log group; this reads it (nflog.ts), says why from what dnswall
// answered (history.ts), keeps the last RECENT_MAX for `dnswall drops`, and counts them.
import type { Logger } from 'pino';
import type { Element } from '../nft/programmer';
import type { Metrics } from '../metrics/registry';
import type { PolicyIndex } from '../policy/index';
import type { Selection } from '../policy/sources';
import { cgroupIdBytes } from '../nft/owner';
import { NflogReader, type LoggedPacket } from './nflog';
import { AnswerHistory, addressText, type Verdict } from './history';

export const RECENT_MAX = 1024;

export interface Drop {
  /** ISO time */
  time: string;
  source: string;
  destination: string;
  proto: string;
  port?: number;
  /** expired | evicted | revoked | port | other_source | never_answered | unexplained */
  reason: Verdict['reason'];
  /** the sentence: "answered api.example.com to this source, expired 40 s ago" */
  detail: string;
  name?: string;
  /** the policies selecting the source */
  policies: string[];
  /** audit mode: the connection was let through (would drop) */
  audit?: boolean;
  /** the pod holding the source address when the drop was logged (NAMESPACE/NAME) */
  pod?: string;
  /** a local process's cgroup v2 path (cgroup sources: the output chain), when its socket was found */
  cgroup?: string;
}

/** A logged packet's sender as the daemon knows it. */
export interface DropSender {
  /** the answer history's key for the sender (an address, or cgroup-id:HEX) */
  key: string;
  selection: Selection | null | undefined;
  pod?: string;
  cgroup?: string;
}

export interface DropsOptions {
  group: number;
  index: () => PolicyIndex;
  log?: Logger;
  metrics?: Metrics;
  /** the pod holding an address (pod identity), with its selection */
  pod?: (address: string, index: PolicyIndex) => { name: string; selection: Selection | null | undefined } | undefined;
  /** a local sender's cgroup from the logged packet's socket (sock_diag); undefined when the socket is gone */
  cgroup?: (p: LoggedPacket) => Promise<{ id: bigint; path: string | null } | undefined>;
}

export class DropsService {
  readonly history = new AnswerHistory();
  private readonly recent: Drop[] = [];
  private readonly followers = new Set<(d: Drop) => void>();
  private readonly counts = new Map<string, number>();
  private reader: NflogReader | null = null;
  private reloadedAt = 0;

  constructor(private readonly opts: DropsOptions) {
    opts.metrics?.counterFrom(
      'dnswall_kernel_drops_total',
      'New connections of managed sources the kernel rejected or dropped (as logged, at most drops.perSecond), by reason and policy',
      ['reason', 'policy'],
      (set) => {
        for (const [k, v] of this.counts) {
          const i = k.indexOf('\0');
          set({ reason: k.slice(0, i), policy: k.slice(i + 1) }, v);
        }
      },
    );
    opts.metrics?.counterFrom('dnswall_kernel_drops_unread_total', 'Log messages the kernel could not queue to dnswall (socket buffer full: ENOBUFS)', [], (set) =>
      set({}, this.reader?.lost ?? 0),
    );
    opts.metrics?.gaugeFrom('dnswall_drops_history_entries', 'The (source, destination) answers remembered to explain drops (bounded)', [], (set) => set({}, this.history.size));
  }

  /** Binds the log group. A failure is logged: DNS keeps working, only drops go unexplained. */
  async start(): Promise<void> {
    const reader = new NflogReader(this.opts.group, (p) => this.onPacket(p), this.opts.log);
    try {
      await reader.open();
      this.reader = reader;
    } catch (err) {
      this.opts.log?.warn({ err: (err as Error).message, group: this.opts.group }, 'drops: cannot read the netlink log group; `dnswall drops` will show nothing');
    }
  }

  close(): void {
    this.reader?.close();
    this.reader = null;
    this.followers.clear();
  }

  /** The programmer committed these elements for an answer. */
  answered(elements: readonly Element[], now = Date.now()): void {
    for (let i = 0; i < elements.length; i++) {
      const e = elements[i];
      this.history.answered(e.source, e.destination, e.comment, e.timeoutMs, e.proto, e.port, now);
    }
  }

  /** A cap evicted an element (source and destination bytes). */
  evicted(source: Buffer, destination: Buffer, cap: string): void {
    this.history.evicted(source, destination, cap);
  }

  reloaded(now = Date.now()): void {
    this.reloadedAt = now;
  }

  onPacket(p: LoggedPacket): void {
    // The cgroup output chain's drops: a local process, found by its socket.
    if (p.prefix.startsWith('dnswall cg')) {
      void this.onLocal(p);
      return;
    }
    const index = this.opts.index();
    const pod = this.opts.pod?.(p.source, index);
    this.record(p, { key: p.source, selection: pod ? pod.selection : index.selectAddress(p.source), ...(pod ? { pod: pod.name } : {}) });
  }

  private async onLocal(p: LoggedPacket): Promise<void> {
    let cg: { id: bigint; path: string | null } | undefined;
    try {
      cg = await this.opts.cgroup?.(p);
    } catch {
      cg = undefined;
    }
    if (!cg) {
      this.record(
        p,
        { key: '', selection: null },
        { reason: 'unattributed', detail: 'a local process (cgroup source) whose socket was gone before its cgroup could be read (a rejected TCP connect closes at once)' },
      );
      return;
    }
    const index = this.opts.index();
    const sel = cg.path !== null ? index.selectCgroup(cg.path) : null;
    this.record(p, { key: addressText(cgroupIdBytes(cg.id)), selection: sel, cgroup: cg.path ?? `(removed cgroup ${cg.id})` });
  }

  private record(p: LoggedPacket, who: DropSender, fixed?: Verdict): void {
    const index = this.opts.index();
    const v =
      fixed ??
      this.history.classify(who.key, p.destination, p.proto, p.port, p.at, {
        reloadedAt: this.reloadedAt,
        stillAllowed: (_s, name) => index.decide(who.selection, name).verdict === 'allow',
      });
    const policies = [...(who.selection?.names ?? [])];
    const d: Drop = {
      time: new Date(p.at).toISOString(),
      source: p.source,
      destination: p.destination,
      proto: p.proto,
      ...(p.port !== undefined ? { port: p.port } : {}),
      reason: v.reason,
      detail: v.detail,
      ...(v.name ? { name: v.name } : {}),
      policies,
      ...(p.prefix.endsWith('audit') ? { audit: true } : {}),
      ...(who.pod ? { pod: who.pod } : {}),
      ...(who.cgroup ? { cgroup: who.cgroup } : {}),
    };
    this.recent.push(d);
    if (this.recent.length > RECENT_MAX) this.recent.splice(0, this.recent.length - RECENT_MAX);
    const k = v.reason + '\0' + policies.join(',');
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    for (const f of this.followers) f(d);
  }

  /** The drops remembered, oldest first, filtered. */
  list(filter: (d: Drop) => boolean = () => true): Drop[] {
    return this.recent.filter(filter);
  }

  get size(): number {
    return this.recent.length;
  }

  /** Calls fn for each new drop until the returned function is called. */
  follow(fn: (d: Drop) => void): () => void {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }
}

/** `dnswall drops` filters: a source address, a pod (NAMESPACE/NAME), or a cgroup path and its descendants (as in the policies). */
export function dropFilter(f: { source?: string; pod?: string; cgroup?: string }): (d: Drop) => boolean {
  const cgroup = f.cgroup && f.cgroup.length > 1 ? f.cgroup.replace(/\/+$/, '') : f.cgroup;
  return (d) =>
    (!f.source || d.source === f.source) &&
    (!f.pod || d.pod === f.pod) &&
    (!cgroup || (d.cgroup !== undefined && (cgroup === '/' || d.cgroup === cgroup || d.cgroup.startsWith(cgroup + '/'))));
}
