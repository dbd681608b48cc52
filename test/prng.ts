// The seeded generator every randomized test uses, so a failure can be replayed: each test names
// its seed in its failure messages, and FUZZ_SEED=<n> replays a run with another seed.

/** Deterministic PRNG (mulberry32): the same seed gives the same sequence. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a randomized test: FUZZ_SEED (or the test's own variable) when set, else its default. */
export function testSeed(dflt: number, envName = 'FUZZ_SEED'): number {
  const v = process.env[envName] ?? process.env.FUZZ_SEED;
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${envName}: want a non-negative integer, got "${v}"`);
  return n >>> 0;
}

/** `n` random bytes from `rand`. */
export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}
