/**
 * @module
 * A tiny seeded PRNG (mulberry32) with normal deviates, so simulations are reproducible.
 * @internal
 */

/** Uniform [0, 1) and standard-normal draws from a 32-bit seed. @internal */
export interface Rng {
  uniform(): number;
  /** One standard-normal deviate (Box-Muller, two uniforms). */
  normal(): number;
  /**
   * Fill `out` with standard-normal deviates by Marsaglia and Tsang's ziggurat (about five times
   * faster than {@link Rng.normal}: routing a training step draws a million per rank). A different
   * stream from `normal()`'s.
   */
  fillNormal(out: Float64Array): void;
}

// Ziggurat tables (Marsaglia & Tsang, "The Ziggurat Method for Generating Random Variables",
// J. Stat. Softw. 5(8), 2000: 128 layers, r = 3.442619855899, v = 9.91256303526217e-3).
const ZIG_R = 3.442619855899;
const KN = new Float64Array(128);
const WN = new Float64Array(128);
const FN = new Float64Array(128);
{
  const m1 = 2147483648;
  const vn = 9.91256303526217e-3;
  let dn = ZIG_R;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  KN[0] = (dn / q) * m1;
  KN[1] = 0;
  WN[0] = q / m1;
  WN[127] = dn / m1;
  FN[0] = 1;
  FN[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = (dn / tn) * m1;
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / m1;
  }
}

/** mulberry32's state increment per draw. @internal */
export const MULBERRY32_INCREMENT = 0x6d2b79f5;

/**
 * mulberry32's output for state `a` (already incremented), as a signed 32-bit integer; `a` may be
 * held as int32 or uint32 bits (the same output). For loops that draw in bulk without a closure call
 * per draw (V8 inlines this). @internal
 */
export function mulberry32Output(a: number): number {
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) | 0;
}

/** mulberry32's uniform draw in [0, 1) for state `a` (already incremented): `createRng`'s `uniform`. @internal */
export function mulberry32Uniform(a: number): number {
  return (mulberry32Output(a) >>> 0) / 4294967296;
}

/** mulberry32 seeded with `seed`; `normal()` uses Box-Muller, `fillNormal()` the ziggurat. @internal */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  /** The state of the next draw. */
  const step = (): number => (a = (a + MULBERRY32_INCREMENT) >>> 0);
  /** The next 32-bit output, as a signed integer. */
  const next = (): number => mulberry32Output(step());
  const uniform = (): number => mulberry32Uniform(step());
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  /** The ziggurat's slow path: the wedge below layer `iz`'s curve, or the tail beyond r. */
  const fix = (hz: number, iz: number): number => {
    for (;;) {
      const x = hz * WN[iz]!;
      if (iz === 0) {
        let tx: number;
        let ty: number;
        do {
          tx = -Math.log(1 - uniform()) / ZIG_R;
          ty = -Math.log(1 - uniform());
        } while (ty + ty < tx * tx);
        return hz > 0 ? ZIG_R + tx : -ZIG_R - tx;
      }
      if (FN[iz]! + uniform() * (FN[iz - 1]! - FN[iz]!) < Math.exp(-0.5 * x * x)) return x;
      hz = next();
      iz = hz & 127;
      if (Math.abs(hz) < KN[iz]!) return hz * WN[iz]!;
    }
  };
  const fillNormal = (out: Float64Array): void => {
    for (let i = 0; i < out.length; i++) {
      const hz = next();
      const iz = hz & 127;
      out[i] = Math.abs(hz) < KN[iz]! ? hz * WN[iz]! : fix(hz, iz);
    }
  };
  return { uniform, normal, fillNormal };
}
