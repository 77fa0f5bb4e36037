/**
 * @module
 * A tiny seeded PRNG (mulberry32) with normal deviates, so simulations are reproducible.
 * @internal
 */

/** Uniform [0, 1) and standard-normal draws from a 32-bit seed. @internal */
export interface Rng {
  uniform(): number;
  normal(): number;
}

/** mulberry32 seeded with `seed`; `normal()` uses Box-Muller. @internal */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}
