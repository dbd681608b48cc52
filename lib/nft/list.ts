// `dnswall list`: the live allow-set elements, read over netlink (like `nft list set`).
import * as ipaddr from 'ipaddr.js';
import { netlinkTransport, type TransportFactory } from './netlink/socket';
import { ALLOW_SETS, decodeKey, type AllowSet } from './keys';
import { sourceFieldText } from './owner';
import { dumpTransport, readAllowSets } from './sets';

export interface ListedElement {
  set: AllowSet;
  /** canonical textual address; for a cgroup set `cgroup:<id>` (the numeric cgroup id) */
  source: string;
  destination: string;
  proto?: number; // 6 tcp, 17 udp (port sets only)
  port?: number;
  comment: string; // the DNS name
  /** namespace/name of the pod the source belongs to (as the running daemon knows it) */
  pod?: string;
  /** undefined for a permanent element (added without timeout by someone else). */
  timeoutMs?: number;
  expiresInMs?: number;
}

export interface ListOptions {
  sets?: AllowSet[];
  /** Only elements of this source address. */
  source?: string;
  /** How to reach nf_tables (tests). */
  transport?: TransportFactory;
}

function addr(b: Buffer): string {
  return ipaddr.fromByteArray([...b]).toString();
}

export async function listElements(table: string, opts: ListOptions = {}): Promise<ListedElement[]> {
  const io = dumpTransport(opts.transport ?? netlinkTransport);
  const want = opts.source ? ipaddr.process(opts.source).toString() : undefined;
  const out: ListedElement[] = [];
  try {
    await readAllowSets(
      io,
      table,
      (set, el) => {
        const k = decodeKey(set, el.key);
        if (!k) return;
        const item: ListedElement = { set, source: sourceFieldText(k.source), destination: addr(k.destination), comment: el.comment ?? '' };
        if (want && item.source !== want) return;
        if (k.proto !== undefined) {
          item.proto = k.proto;
          item.port = k.port;
        }
        if (el.timeoutMs !== undefined) item.timeoutMs = el.timeoutMs;
        if (el.expirationMs !== undefined) item.expiresInMs = el.expirationMs;
        out.push(item);
      },
      opts.sets ?? ALLOW_SETS,
    );
  } finally {
    io.close();
  }
  return out;
}

const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

export function formatPort(e: Pick<ListedElement, 'proto' | 'port'>): string {
  if (e.proto === undefined) return '*';
  return `${PROTO_NAMES[e.proto] ?? String(e.proto)}/${e.port}`;
}

/** "1h2m3s" like nft, to the second; "never" for permanent elements. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  let s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = [d && `${d}d`, h && `${h}h`, m && `${m}m`, (s || (!d && !h && !m)) && `${s}s`].filter(Boolean);
  return parts.join('');
}

export function formatList(elements: ListedElement[], json: boolean): string {
  if (json) return JSON.stringify(elements, null, 2) + '\n';
  const rows = [['SOURCE', 'DESTINATION', 'PORT', 'NAME', 'EXPIRES']];
  for (const e of elements) rows.push([e.pod ? `${e.source} ${e.pod}` : e.source, e.destination, formatPort(e), e.comment || '-', formatDuration(e.expiresInMs ?? e.timeoutMs)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}
