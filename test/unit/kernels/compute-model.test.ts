import { describe, expect, it } from 'vitest';
import { H200, H800 } from '../../../src/hardware/profile.js';
import { expertTimeUs, gemmCost, gemmTimeUs, kernelTimeUs } from '../../../src/kernels/index.js';

/** h200-compute.md: [m, n, k, bf16 us, fp8 us]. */
export const H200_MEASURED: ReadonlyArray<readonly [number, number, number, number, number]> = [
  [32, 4096, 7168, 44.7, 40.2], [32, 7168, 2048, 24.9, 28.8], [64, 4096, 7168, 33.7, 39.5], [64, 7168, 2048, 24.9, 28.6],
  [128, 4096, 7168, 41.1, 42.8], [128, 7168, 2048, 24.1, 28.6], [256, 4096, 7168, 42.5, 41.5], [256, 7168, 2048, 29.2, 29.5],
  [512, 4096, 7168, 55.4, 42.8], [512, 7168, 2048, 37.2, 34.9], [1024, 4096, 7168, 91.1, 63.3], [1024, 7168, 2048, 60.3, 49.4],
  [2048, 4096, 7168, 165.1, 106.0], [2048, 7168, 2048, 92.5, 69.9], [4096, 4096, 7168, 322.8, 193.5], [4096, 7168, 2048, 173.4, 122.4],
  [128, 7168, 7168, 45.0, 45.3],
];

describe('compute-time model calibrated on h200-compute.md', () => {
  for (const format of ['bf16', 'fp8'] as const) {
    it(`${format}: mean |error| <= 8%, every shape within 30%, large shapes (m >= 1024) within 20%`, () => {
      const errs = H200_MEASURED.map(([m, n, k, b, f]) => {
        const measured = format === 'bf16' ? b : f;
        return { m, err: gemmTimeUs(H200, { m, n, k, format }) / measured - 1 };
      });
      const mean = errs.reduce((s, e) => s + Math.abs(e.err), 0) / errs.length;
      expect(mean).toBeLessThanOrEqual(0.08);
      for (const e of errs) expect(Math.abs(e.err)).toBeLessThanOrEqual(0.3);
      for (const e of errs.filter((x) => x.m >= 1024)) expect(Math.abs(e.err)).toBeLessThanOrEqual(0.2);
    });
  }

  it('fewer SMs cost more time; zero tokens cost nothing; expert = up/gate + down', () => {
    const shape = { m: 4096, n: 4096, k: 7168, format: 'fp8' as const };
    expect(gemmTimeUs(H800, shape, { sms: 112 })).toBeGreaterThan(gemmTimeUs(H800, shape));
    expect(expertTimeUs(H800, { tokens: 0, hidden: 7168, intermediate: 2048, format: 'fp8' })).toBe(0);
    expect(expertTimeUs(H800, { tokens: 64, hidden: 7168, intermediate: 2048, format: 'bf16' })).toBeCloseTo(
      gemmTimeUs(H800, { m: 64, n: 4096, k: 7168, format: 'bf16' }) + gemmTimeUs(H800, { m: 64, n: 7168, k: 2048, format: 'bf16' }), 9);
    expect(gemmCost({ m: 1, n: 2, k: 3, format: 'fp8' }).flops).toBe(2 * 64 * 2 * 3);
  });

  it('rejects bad SM counts, formats and work', () => {
    expect(() => kernelTimeUs(H800, { flops: 1, bytes: 1, format: 'fp8' }, { sms: 200 })).toThrow(expect.objectContaining({ data: expect.objectContaining({ argument: 'sms' }) }));
    expect(() => kernelTimeUs(H800, { flops: NaN, bytes: 1, format: 'fp8' })).toThrow(/flops must be/);
    expect(() => kernelTimeUs(H800, { flops: 1, bytes: 1, format: 'fp4' as 'fp8' })).toThrow(/format must be/);
  });
});
