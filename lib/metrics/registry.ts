// The registry every part registers its own metrics with (CoreDNS keeps a metrics.go beside each
// plugin; ours is a metrics.ts beside each part). A part is handed a `Metrics` at setup and
// declares what it measures; nobody outside the part reads its internals. Names follow
// namespace_subsystem_name (dnswall_policy_decisions_total); counters end in _total, durations
// are histograms in seconds.
import { Registry, Counter, Gauge, collectDefaultMetrics, type Metric } from 'prom-client';
import { LeanHistogram } from './histogram';

export type Labels = Record<string, string>;
/** Called at scrape time with a setter: report each label set's current value. */
export type Read = (set: (labels: Labels, value: number) => void) => void;
/** The same, for a value that must be fetched first (e.g. from `nft -j`). */
export type ReadAsync = (set: (labels: Labels, value: number) => void) => Promise<void>;

export interface Metrics {
  /** A counter the part increments itself (prefer `counterFrom` on hot paths). Registered again: the same counter. */
  counter(name: string, help: string, labelNames?: readonly string[]): Counter<string>;
  /**
   * A counter read from the part's own `stats` at scrape time: the request path pays nothing.
   * It never goes backwards: a part built again (a reload) registers again and continues from
   * the old part's values, and a label set once reported stays.
   */
  counterFrom(name: string, help: string, labelNames: readonly string[], read: Read | ReadAsync): void;
  /** A gauge read at scrape time (registered again: the newest read replaces the old). */
  gaugeFrom(name: string, help: string, labelNames: readonly string[], read: Read | ReadAsync): void;
  /**
   * A real histogram (buckets in the unit of the name, seconds for durations), cheap to observe
   * on the request path (histogram.ts; labelled series through child()). Registered again: the same histogram.
   */
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): LeanHistogram;
}

/** Buckets for DNS request durations, as CoreDNS's (0.25 ms … 8 s, doubling). */
export const DURATION_BUCKETS: readonly number[] = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);
/** Buckets for a kernel commit (50 µs … 1.6 s, doubling). */
export const COMMIT_BUCKETS: readonly number[] = Array.from({ length: 16 }, (_, i) => 0.00005 * 2 ** i);

export interface RegistryOptions {
  /** process_* and nodejs_* from prom-client's defaults (off in unit tests that build many). */
  process?: boolean;
  version?: string;
}

/** prom-client behind the small `Metrics` interface; `text()` is the exposition. */
export class MetricsRegistry implements Metrics {
  readonly prom = new Registry();

  constructor(opts: RegistryOptions = {}) {
    // Standard names (process_resident_memory_bytes, process_cpu_seconds_total, …): no prefix.
    if (opts.process) {
      collectDefaultMetrics({ register: this.prom });
      // Gauges that prom-client names like counters (promtool: "non-counter metrics should not
      // have _total suffix"); nodejs_active_handles{type} etc. carry the same numbers by type.
      for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.prom.removeSingleMetric(n);
    }
    const g = new Gauge({
      name: 'dnswall_build_info',
      help: 'A metric with constant value 1, labelled by version and Node.js version',
      labelNames: ['version', 'nodejs'],
      registers: [this.prom],
    });
    g.set({ version: opts.version ?? 'unknown', nodejs: process.version }, 1);
  }

  /** What each counterFrom last reported, and its offset from its part's own numbers, per label set. */
  private readonly pulled = new Map<string, { read: Read | ReadAsync; last: Map<string, { labels: Labels; raw: number; value: number }> }>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter<string> {
    const had = this.prom.getSingleMetric(name);
    if (had instanceof Counter) return had;
    return new Counter({ name, help, labelNames, registers: [this.prom] });
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): LeanHistogram {
    const had = this.prom.getSingleMetric(name);
    if (had instanceof LeanHistogram) return had;
    const h = new LeanHistogram(name, help, labelNames, buckets);
    this.prom.registerMetric(h as unknown as Metric);
    return h;
  }

  counterFrom(name: string, help: string, labelNames: readonly string[], read: Read | ReadAsync): void {
    const old = this.pulled.get(name);
    const last = new Map<string, { labels: Labels; raw: number; value: number }>();
    if (old) {
      // A new part replaces the old one: each label set continues from what the old part had
      // counted (read now, once more), less what the new part starts with (nothing, or the same
      // numbers when the part itself is kept, like a cache across a reload).
      const before = readNow(old.read);
      const now = readNow(read);
      for (const [k, prev] of old.last) {
        const had = before?.get(k)?.value ?? prev.raw;
        const value = Math.max(prev.value, prev.value - prev.raw + had);
        last.set(k, { labels: prev.labels, raw: now?.get(k)?.value ?? 0, value });
      }
      for (const [k, b] of before ?? []) {
        if (!last.has(k)) last.set(k, { labels: b.labels, raw: now?.get(k)?.value ?? 0, value: b.value });
      }
      this.prom.removeSingleMetric(name);
    } else if (this.prom.getSingleMetric(name)) this.prom.removeSingleMetric(name);
    this.pulled.set(name, { read, last });
    const report = (c: Counter<string>) => {
      c.reset();
      for (const e of last.values()) c.inc(e.labels, e.value);
    };
    // raw: the part's own number; value: what is exposed. A raw number that went down (a part
    // replaced without registering again) is a reset: the value keeps growing from where it was.
    const update = (labels: Labels, raw: number) => {
      const k = labelKey(labels);
      const e = last.get(k);
      if (!e) last.set(k, { labels, raw, value: raw });
      else {
        e.value += raw >= e.raw ? raw - e.raw : raw;
        e.raw = raw;
      }
    };
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.prom],
      collect() {
        const r = read(update);
        if (r instanceof Promise) return r.then(() => report(this));
        report(this);
      },
    });
  }

  gaugeFrom(name: string, help: string, labelNames: readonly string[], read: Read | ReadAsync): void {
    if (this.prom.getSingleMetric(name)) this.prom.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.prom],
      collect() {
        this.reset();
        const r = read((labels, v) => this.set(labels, v));
        if (r instanceof Promise) return r;
      },
    });
  }

  get contentType(): string {
    return this.prom.contentType;
  }

  text(): Promise<string> {
    return this.prom.metrics();
  }
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\0');
}

/** A synchronous read's values now (undefined for an asynchronous one). */
function readNow(read: Read | ReadAsync): Map<string, { labels: Labels; value: number }> | undefined {
  const out = new Map<string, { labels: Labels; value: number }>();
  const r = read((labels, value) => out.set(labelKey(labels), { labels, value }));
  if (r instanceof Promise) {
    r.catch(() => undefined);
    return undefined;
  }
  return out;
}
