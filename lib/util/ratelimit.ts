/**
 * Token bucket for log lines: a flood of denied search-path expansions must not flood the log.
 * take() says whether to log now; suppressed() returns (and resets) how many were held back.
 */
export class LogLimiter {
  private tokens: number;
  private last = Date.now();
  private dropped = 0;

  constructor(
    private readonly perSecond: number,
    private readonly burst = perSecond,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.dropped++;
    return false;
  }

  suppressed(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }
}
