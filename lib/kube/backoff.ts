// Exponential backoff with jitter ("equal jitter": half fixed, half random), capped; reset after
// a success. Many nodes reconnecting to one API server must not do it in step.
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {}

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt++, 30));
    return base / 2 + (base / 2) * this.random();
  }

  reset(): void {
    this.attempt = 0;
  }
}
