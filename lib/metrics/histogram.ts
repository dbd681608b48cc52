// A histogram for the request path: observe() finds the bucket and adds one, nothing else — no
// label object, hash string or closure per call. prom-client's Histogram.observe() builds all
// three on every call (~0.5 KB and a few hundred ns per query at each of two histograms; see
// bench/chain-micro.ts --alloc). A labelled series is resolved once (child()) and kept by the
// caller. The registry serves it in prom-client's own format (the same lines as its Histogram:
// cumulative _bucket with `le` first, _sum, _count).
import type { Labels } from './registry';

/** One label set's counts. */
export class HistogramSeries {
  /** per bucket (not cumulative); the last is +Inf */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return; // a clock oddity must not poison _sum
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface Value {
  metricName: string;
  labels: Labels;
  sharedLabels?: Labels;
  value: number;
}

/** The metric object prom-client's Registry serves (registerMetric / getMetricsAsString). */
export class LeanHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();
  private readonly unlabelled: HistogramSeries;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    this.unlabelled = new HistogramSeries({}, bounds);
  }

  /** The series of these labels (every label name given a value), made once. */
  child(labels: Labels): HistogramSeries {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || !this.labelNames.every((n) => typeof labels[n] === 'string')) {
      throw new Error(`histogram ${this.name}: labels ${JSON.stringify(labels)} do not match ${JSON.stringify(this.labelNames)}`);
    }
    const key = this.labelNames.map((n) => labels[n]).join('\0');
    let s = this.series.get(key);
    if (!s) {
      s = new HistogramSeries({ ...labels }, this.bounds);
      this.series.set(key, s);
    }
    return s;
  }

  /** For a histogram without labels. */
  observe(value: number): void {
    this.unlabelled.observe(value);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Value[] } {
    const values: Value[] = [];
    // a labelled series shows once it has been observed, as prom-client's do
    const all = this.labelNames.length === 0 ? [this.unlabelled] : [...this.series.values()].filter((s) => s.count > 0);
    for (const s of all) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le: i < this.bounds.length ? String(this.bounds[i]) : '+Inf' }, sharedLabels: s.labels, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
    this.unlabelled.counts.fill(0);
    this.unlabelled.sum = 0;
    this.unlabelled.count = 0;
  }
}
