import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dequantizePerBlock, dequantizePerTile, fp8Gemm, quantizePerBlock, quantizePerTile } from '../../src/kernels/index.js';

/** xorshift32: fast-check draws the seed, this fills the matrices. */
function xorshift(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 4294967296);
}

function problem(seed: number, m: number, n: number, k: number, offset: number) {
  const r = xorshift(seed);
  const x = Float32Array.from({ length: m * k }, () => offset + r());
  const w = Float32Array.from({ length: n * k }, () => offset + r());
  const a = quantizePerTile(x, m, k);
  const b = quantizePerBlock(w, n, k);
  const A = dequantizePerTile(a.q, a.scales, m, k);
  const B = dequantizePerBlock(b.q, b.scales, n, k);
  const ref = new Float64Array(m * n);
  const absRef = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0, sa = 0;
      for (let t = 0; t < k; t++) {
        const p = A[i * k + t]! * B[j * k + t]!;
        s += p;
        sa += Math.abs(p);
      }
      ref[i * n + j] = s;
      absRef[i * n + j] = sa;
    }
  return { a, b, ref, absRef };
}

const errNorm = (c: Float32Array, ref: Float64Array) => Math.hypot(...[...c].map((v, i) => v - ref[i]!));

describe('fp8Gemm accumulation', () => {
  it('at K = 4096, promotion every 128 cuts the emulated 14-bit accumulator error by >= 10x', () => {
    const m = 3, n = 3, k = 4096;
    fc.assert(fc.property(fc.integer(), fc.double({ min: 0, max: 1, noNaN: true }), (seed, offset) => {
      const { a, b, ref } = problem(seed, m, n, k, offset);
      const run = (promotionInterval: number) => fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k, { emulateAccumulator: true, promotionInterval });
      const noPromotion = errNorm(run(Infinity), ref);
      const promoted = errNorm(run(128), ref);
      // Relative error without promotion is around DeepSeek's ~1e-3..1e-2 at this K.
      expect(noPromotion / Math.hypot(...ref)).toBeGreaterThan(1e-5);
      return promoted * 10 <= noPromotion;
    }), { numRuns: 12 });
  });

  it('without emulation the result is within FP32 rounding of the float64 product of the dequantized operands', () => {
    fc.assert(fc.property(
      fc.integer(), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }),
      fc.constantFrom(32, 128, 256, Infinity), fc.double({ min: -1, max: 1, noNaN: true }),
      (seed, m, n, kb, promotionInterval, offset) => {
        const k = kb * 128;
        const { a, b, ref, absRef } = problem(seed, m, n, k, offset - 0.5);
        const c = fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k, { promotionInterval });
        const promotions = Math.ceil(k / Math.min(k, promotionInterval)) + 1;
        // Each float32 rounding (scaled partial, then the running sum) costs <= 2^-24 of the magnitude.
        return [...c].every((v, i) => Math.abs(v - ref[i]!) <= (2 * promotions + 2) * 2 ** -24 * absRef[i]!);
      }), { numRuns: 60 });
  });
});
