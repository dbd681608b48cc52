// Admission on the second miss (TinyLFU's "doorkeeper"): a question is stored only when it was
// asked once before, recently. A name asked once — most of a pod's fresh names, all of a
// unique-name workload — costs no entry: no reply scan, no copy, nothing promoted to the old
// generation and marked by the GC, and no older entry evicted for it. A name asked again is
// stored on its second miss and hits from the third ask on.
//
// The cache asks the doorkeeper first, with a hash of the question (questionHash: no key string
// is built). A first sighting is answered "not seen" and the query goes on down untouched: it
// cannot be stored or fetching (both happen only to questions seen before, and stored ones stay
// marked, see below), so the cache builds no key, looks nothing up and marks nothing in flight.
//
// One bit per hash in a fixed array. A set bit may be another question's (a false "seen": that
// question takes the key path on its first ask and is stored then, as without the doorkeeper);
// bits are cleared all at once after RESET_AFTER first sightings, so "recently" means within the
// last RESET_AFTER distinct first asks. A clear re-marks every stored entry (`onClear`), so a
// stored question is always "seen"; the false rate stays ≤ (RESET_AFTER + entries) / BITS.
import type { Query } from '../../dns/types';
import { keyBits } from './store';

/** 2^20 bits: 128 KiB. */
export const BITS_LOG2 = 20;
/** First sightings recorded before the bits are cleared (≤ 1/16 of the bits: ≤ 6 % false "seen"). */
export const RESET_AFTER = (1 << BITS_LOG2) >>> 4;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over what cacheKey() names: the name's UTF-16 code units, qtype, qclass and the key's bits. */
export function questionHash(q: Query): number {
  let h = FNV_OFFSET;
  const name = q.name;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
  h = Math.imul(h ^ (q.qtype & 0xff), FNV_PRIME);
  h = Math.imul(h ^ (q.qtype >>> 8), FNV_PRIME);
  h = Math.imul(h ^ (q.qclass & 0xff), FNV_PRIME);
  h = Math.imul(h ^ (q.qclass >>> 8), FNV_PRIME);
  h = Math.imul(h ^ keyBits(q), FNV_PRIME);
  return h >>> 0;
}

export class Doorkeeper {
  private readonly words = new Uint32Array((1 << BITS_LOG2) >>> 5);
  private recorded = 0;

  /** `onClear(mark)`: after the bits are cleared, mark what must stay "seen" (the stored entries). */
  constructor(private readonly onClear: (mark: (hash: number) => void) => void = () => undefined) {}

  /** true: `hash` was seen within the window; false: a first sighting, remembered now. */
  seen(hash: number): boolean {
    const bit = hash >>> (32 - BITS_LOG2);
    const w = bit >>> 5;
    const m = 1 << (bit & 31);
    if ((this.words[w] & m) !== 0) return true;
    if (++this.recorded > RESET_AFTER) {
      this.words.fill(0);
      this.recorded = 1;
      this.onClear(this.mark);
    }
    this.words[w] |= m;
    return false;
  }

  /** Set `hash`'s bit without counting a sighting. */
  readonly mark = (hash: number): void => {
    const bit = hash >>> (32 - BITS_LOG2);
    this.words[bit >>> 5] |= 1 << (bit & 31);
  };
}
