// Query IDs for upstream queries: cryptographically random (RFC 5452 4.3), drawn from a
// pre-filled buffer so the hot path costs an array read; one randomFillSync per 4096 IDs.
import { randomFillSync } from 'node:crypto';

const BATCH = 4096;

export class RandomIds {
  private readonly pool = new Uint16Array(BATCH);
  private next = BATCH;

  /** A fresh random 16-bit ID. */
  take(): number {
    if (this.next === BATCH) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++];
  }
}
