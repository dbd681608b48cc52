// Drops: the kernel logs each rejected new connection of a managed source (ruleset.ts,
// dropLogRule) to a netlink log group; this reads it (nflog.ts), says why from what dnswall
// answered (history.ts), keeps the last RECENT_MAX for `dnswall drops`, and counts them.
import type { Logger } from 'pino';
import type { Element } from '../nft/programmer';
import type { Metrics } from '../metrics/registry';
import type { PolicyIndex } from '../policy/index';
import { NflogReader, type LoggedPacket } from './nflog';
import { AnswerHistory, addressText, type Verdict } from './history';

export const RECENT_MAX = 1024;
const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp' };

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
}

export interface DropsOptions {
  group: number;
  index: () => PolicyIndex;
  log?: Logger;
  metrics?: Metrics;
}

export class DropsService {
  readonly history = new AnswerHistory();
  private readonly recent: Drop[] = [];
  private readonly followers = new Set<(d: Drop) => void>();
  private readonly counts = new Map<string, number>();
  private reader: NflogReader | null = null;
  private reloadedAt = 0;

  constructor(private readonly opts: DropsOptions) {
    opts.metrics?.counterFrom('dnswall_kernel_drops_total', 'New connections of managed sources the kernel rejected or dropped (as logged, at most drops.perSecond), by reason and policy', ['reason', 'policy'], (set) => {
      for (const [k, v] of this.counts) {
        const i = k.indexOf('\0');
        set({ reason: k.slice(0, i), policy: k.slice(i + 1) }, v);
      }
    });
    opts.metrics?.counterFrom('dnswall_kernel_drops_unread_total', 'Log messages the kernel could not queue to dnswall (socket buffer full: ENOBUFS)', [], (set) => set({}, this.reader?.lost ?? 0));
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
    for (const e of elements) {
      const port = e.proto !== undefined && e.port !== undefined ? `${PROTO_NAMES[e.proto] ?? e.proto}/${e.port}` : null;
      this.history.answered(addressText(e.source), addressText(e.destination), e.comment, e.timeoutMs, port, now);
    }
  }

  /** A cap evicted an element (source and destination bytes). */
  evicted(source: Buffer, destination: Buffer, cap: string): void {
    this.history.evicted(addressText(source), addressText(destination), cap);
  }

  reloaded(now = Date.now()): void {
    this.reloadedAt = now;
  }

  onPacket(p: LoggedPacket): void {
    const index = this.opts.index();
    const src = { address: p.source, family: p.family };
    const v = this.history.classify(p.source, p.destination, p.proto, p.port, p.at, {
      reloadedAt: this.reloadedAt,
      stillAllowed: (_s, name) => index.decideAddress(src, name).verdict === 'allow',
    });
    const policies = index.decideAddress(src, '').policies;
    const d: Drop = {
      time: new Date(p.at).toISOString(), source: p.source, destination: p.destination, proto: p.proto,
      ...(p.port !== undefined ? { port: p.port } : {}),
      reason: v.reason, detail: v.detail, ...(v.name ? { name: v.name } : {}), policies,
      ...(p.prefix === 'dnswall audit' ? { audit: true } : {}),
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
