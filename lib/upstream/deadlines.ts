// The UDP tries' timeouts as one FIFO and one timer, instead of a timer object and closure per
// try. Every try of a pool waits the same timeoutMs, so deadlines arrive in the order the tries
// were sent: the queue's head is always the next to expire. An entry names its try by value
// (socket, ID, sequence number) and holds no reference to it, so a try that is answered leaves
// nothing alive behind; its entry is skipped when it reaches the head. The timer keeps the event
// loop alive while entries wait (answered ones too, up to timeoutMs after the last try): the
// pool's owner closes it (the daemon does, at stop and after a reload).

const FIRST_CAPACITY = 1024;
/**
 * The timer wakes at most this often, and a try times out up to this late (a tenth of timeoutMs
 * when that is less). Waking for every head instead (a try sent every 50 µs under load) cost
 * more kernel time than the per-try timers it replaced: an answered try's timer never fired.
 */
const MAX_LATENESS_MS = 50;

/** A try's name: which socket, which ID on it, and the sequence number that tells reused IDs apart. */
export type Expired = (slot: number, id: number, seq: number) => void;

export class DeadlineQueue {
  private at = new Float64Array(FIRST_CAPACITY);
  private slot = new Int32Array(FIRST_CAPACITY);
  private id = new Int32Array(FIRST_CAPACITY);
  private seq = new Float64Array(FIRST_CAPACITY);
  private head = 0;
  private count = 0;
  private timer?: NodeJS.Timeout;
  private readonly lateness: number;
  private closed = false;
  /** times the timer fired (tests: it wakes per MAX_LATENESS_MS, not per try) */
  wakeups = 0;

  /**
   * `timeoutMs`: every entry's wait (an entry expires up to MAX_LATENESS_MS late); `expired` is
   * called for each entry whose deadline has passed (answered tries included: the caller checks
   * that the try is still in flight). `now`: a monotonic clock in ms (tests pass their own).
   */
  constructor(
    readonly timeoutMs: number,
    private readonly expired: Expired,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
    this.lateness = Math.min(MAX_LATENESS_MS, timeoutMs / 10);
  }

  /** Entries waiting (answered tries stay until their deadline passes). */
  get size(): number {
    return this.count;
  }

  /** A try was sent now: expire it after timeoutMs unless the caller finds it answered. */
  push(slot: number, id: number, seq: number): void {
    if (this.closed) return;
    if (this.count === this.at.length) this.grow();
    const i = (this.head + this.count) & (this.at.length - 1);
    const at = this.now() + this.timeoutMs;
    this.at[i] = at;
    this.slot[i] = slot;
    this.id[i] = id;
    this.seq[i] = seq;
    this.count++;
    if (this.timer === undefined) this.arm(at);
  }

  /** Stop the timer and forget every entry (the pool rejects what is in flight itself). */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.count = 0;
  }

  private arm(at: number): void {
    this.timer = setTimeout(this.fire, Math.max(0, Math.ceil(at - this.now())));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.wakeups++;
    const now = this.now();
    const mask = this.at.length - 1;
    // A timer can fire a little early (it counts whole ms): entries not yet due wait for the next one.
    while (this.count > 0 && this.at[this.head] <= now) {
      const h = this.head;
      this.head = (h + 1) & mask;
      this.count--;
      this.expired(this.slot[h], this.id[h], this.seq[h]);
      if (this.closed) return;
    }
    if (this.count > 0 && this.timer === undefined) this.arm(Math.max(this.at[this.head], now + this.lateness));
  };

  private grow(): void {
    const n = this.at.length;
    const at = new Float64Array(n * 2);
    const slot = new Int32Array(n * 2);
    const id = new Int32Array(n * 2);
    const seq = new Float64Array(n * 2);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & (n - 1);
      at[k] = this.at[i];
      slot[k] = this.slot[i];
      id[k] = this.id[i];
      seq[k] = this.seq[i];
    }
    this.at = at;
    this.slot = slot;
    this.id = id;
    this.seq = seq;
    this.head = 0;
  }

  /** For tests: is the timer armed? */
  get armed(): boolean {
    return this.timer !== undefined;
  }
}
