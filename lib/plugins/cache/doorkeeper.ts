// Admission on the second miss (TinyLFU's "doorkeeper"): a key is stored only when it missed
// once before, recently. A name asked once — most of a pod's fresh names, all of a unique-name
// workload — costs no entry: no reply scan, no copy, nothing promoted to the old generation
// and marked by the GC, and no older entry evicted for it. A name asked again is stored on its
// second miss and hits from the third ask on.
//
// One bit per hash of the key in a fixed array (FNV-1a of the key's UTF-16 code units). A set bit
// may be another key's (a false "seen": that key is admitted on its first miss, as without the
// doorkeeper); bits are cleared all at once after RESET_AFTER first misses, so "recently" means
// within the last RESET_AFTER distinct misses and the false rate stays ≤ RESET_AFTER / BITS.

/** 2^20 bits: 128 KiB. */
export const BITS_LOG2 = 20;
/** First misses recorded before the bits are cleared (≤ 1/16 of the bits set: ≤ 6 % false "seen"). */
export const RESET_AFTER = (1 << BITS_LOG2) >>> 4;

export class Doorkeeper {
  private readonly words = new Uint32Array((1 << BITS_LOG2) >>> 5);
  private recorded = 0;

  /** true: `key` missed before (within the window) — store it; false: remembered now, not stored. */
  admit(key: string): boolean {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const bit = h >>> (32 - BITS_LOG2);
    const w = bit >>> 5;
    const m = 1 << (bit & 31);
    if ((this.words[w] & m) !== 0) return true;
    if (++this.recorded > RESET_AFTER) {
      this.words.fill(0);
      this.recorded = 1;
    }
    this.words[w] |= m;
    return false;
  }
}
