import { describe, expect, it } from 'vitest';
import { H200, H800 } from '../../../src/hardware/profile.js';
import {
  DEFAULT_COMPUTE_MODEL, expertTimeUs, gemmCost, gemmTimeUs, groupedExpertsTimeUs, groupedGemmTimeUs, kernelTimeUs, measuredGemmUs, planGroupedGemm,
} from '../../../src/kernels/index.js';

/** h200-compute.md: [m, n, k, bf16 us, fp8 us]. */
export const H200_MEASURED: ReadonlyArray<readonly [number, number, number, number, number]> = [
  [32, 4096, 7168, 44.7, 40.2], [32, 7168, 2048, 24.9, 28.8], [64, 4096, 7168, 33.7, 39.5], [64, 7168, 2048, 24.9, 28.6],
  [128, 4096, 7168, 41.1, 42.8], [128, 7168, 2048, 24.1, 28.6], [256, 4096, 7168, 42.5, 41.5], [256, 7168, 2048, 29.2, 29.5],
  [512, 4096, 7168, 55.4, 42.8], [512, 7168, 2048, 37.2, 34.9], [1024, 4096, 7168, 91.1, 63.3], [1024, 7168, 2048, 60.3, 49.4],
  [2048, 4096, 7168, 165.1, 106.0], [2048, 7168, 2048, 92.5, 69.9], [4096, 4096, 7168, 322.8, 193.5], [4096, 7168, 2048, 173.4, 122.4],
  [128, 7168, 7168, 45.0, 45.3],
];

/** One tile configuration only, so the wave count is known. */
const ONE_TILE = {
  ...DEFAULT_COMPUTE_MODEL,
  tileConfigs: { fp8: [{ bm: 128, bn: 128, splitK: 1 }], bf16: [{ bm: 128, bn: 128, splitK: 1 }], fp32: [{ bm: 128, bn: 128, splitK: 1 }] },
};

describe('compute-time model calibrated on h200-compute.md', () => {
  const errs = H200_MEASURED.flatMap(([m, n, k, b, f]) => (['bf16', 'fp8'] as const).map((format) => ({
    m, n, k, format, err: measuredGemmUs(H200, { m, n, k, format }) / (format === 'bf16' ? b : f) - 1,
  })));

  it('every shape within 25%, m >= 128 within 15%, mean |error| within 7% (each format and all)', () => {
    const mean = (xs: typeof errs) => xs.reduce((s, e) => s + Math.abs(e.err), 0) / xs.length;
    expect(mean(errs)).toBeLessThanOrEqual(0.07);
    for (const f of ['bf16', 'fp8']) expect(mean(errs.filter((e) => e.format === f))).toBeLessThanOrEqual(0.07);
    for (const e of errs) expect(Math.abs(e.err), `${e.format} ${e.m}x${e.n}x${e.k}`).toBeLessThanOrEqual(0.25);
    for (const e of errs.filter((x) => x.m >= 128)) expect(Math.abs(e.err), `${e.format} ${e.m}x${e.n}x${e.k}`).toBeLessThanOrEqual(0.15);
  });

  it('the shapes the issue names: BF16 up/gate m=32, FP8 dense 7168 m=128 and FP8 down m=4096 within 15%', () => {
    expect(Math.abs(measuredGemmUs(H200, { m: 32, n: 4096, k: 7168, format: 'bf16' }) / 44.7 - 1)).toBeLessThan(0.15);
    expect(Math.abs(measuredGemmUs(H200, { m: 128, n: 7168, k: 7168, format: 'fp8' }) / 45.3 - 1)).toBeLessThan(0.15);
    expect(Math.abs(measuredGemmUs(H200, { m: 4096, n: 7168, k: 2048, format: 'fp8' }) / 122.4 - 1)).toBeLessThan(0.15);
  });

  it('simulated time is the kernel body plus the profile launch, not the measurement overheads', () => {
    const shape = { m: 1024, n: 4096, k: 7168, format: 'fp8' as const };
    const body = planGroupedGemm(H200, { ms: [1024], n: 4096, k: 7168, format: 'fp8' })!.bodyUs;
    expect(gemmTimeUs(H200, shape)).toBeCloseTo(H200.kernelLaunchUs + body, 9);
    expect(measuredGemmUs(H200, shape)).toBeCloseTo(14.3 + DEFAULT_COMPUTE_MODEL.measuredOpOverheadUs.fp8 + body, 9);
  });
});

describe('tiles and waves', () => {
  it('one tile more than a full wave costs a second wave', () => {
    // 1536 x 1408 in 128 x 128 tiles: 12 x 11 = 132 tiles, one wave on 132 SMs. Compute-bound: the
    // tiles share their A rows and B columns, so HBM traffic stays far below the tile time.
    const shape = { ms: [1536], n: 1408, k: 7168, format: 'fp8' as const };
    const full = planGroupedGemm(H200, shape, { params: ONE_TILE })!;
    const oneShort = planGroupedGemm(H200, shape, { params: ONE_TILE, sms: 131 })!;
    expect([full.tiles, full.waves, full.bound, oneShort.waves]).toEqual([132, 1, 'tiles', 2]);
    expect(oneShort.bodyUs / full.bodyUs).toBeCloseTo(2, 9);
    // 12 more tiles (n 1536) also take a second wave: the time steps, it does not grow by 12/132
    const more = planGroupedGemm(H200, { ...shape, n: 1536 }, { params: ONE_TILE })!;
    expect([more.tiles, more.waves]).toEqual([144, 2]);
    expect(more.bodyUs / full.bodyUs).toBeCloseTo(2, 9);
    // fewer tiles than SMs cost one wave all the same
    expect(planGroupedGemm(H200, { ...shape, n: 1280 }, { params: ONE_TILE })!.bodyUs).toBeCloseTo(full.bodyUs, 9);
  });

  it('the SM share changes the waves: 132 tiles on 66 SMs take two, on 112 SMs two as well', () => {
    const shape = { ms: [1536], n: 1408, k: 7168, format: 'fp8' as const };
    const waves = [132, 112, 66, 44].map((sms) => planGroupedGemm(H800, shape, { params: ONE_TILE, sms })!.waves);
    expect(waves).toEqual([1, 2, 2, 3]);
    expect(gemmTimeUs(H800, { m: 4096, n: 4096, k: 7168, format: 'fp8' }, { sms: 112 })).toBeGreaterThan(gemmTimeUs(H800, { m: 4096, n: 4096, k: 7168, format: 'fp8' }));
  });

  it('an m-grouped GEMM is one launch whose tiles share the waves', () => {
    // 8 experts of 128 tokens, 128 x 128 tiles: 8 x 32 = 256 tiles = 2 waves in one launch ...
    const grouped = planGroupedGemm(H800, { ms: Array(8).fill(128), n: 4096, k: 7168, format: 'fp8' }, { params: ONE_TILE })!;
    expect([grouped.tiles, grouped.waves]).toEqual([256, 2]);
    // ... against 8 launches of one wave each
    const one = groupedGemmTimeUs(H800, { ms: [128], n: 4096, k: 7168, format: 'fp8' }, { params: ONE_TILE });
    expect(H800.kernelLaunchUs + grouped.bodyUs).toBeLessThan(8 * one / 2);
    // an uneven load (one hot expert of 1024 tokens, seven of 16) is not the same time as the even one
    const uneven = groupedExpertsTimeUs(H800, { tokensPerExpert: [1024, 16, 16, 16, 16, 16, 16, 16], hidden: 7168, intermediate: 2048, format: 'fp8' });
    const even = groupedExpertsTimeUs(H800, { tokensPerExpert: Array(8).fill(142), hidden: 7168, intermediate: 2048, format: 'fp8' });
    expect(uneven).not.toBeCloseTo(even, 0);
    // empty experts are skipped: they add neither tiles nor weight traffic
    expect(groupedGemmTimeUs(H800, { ms: [300, 0, 0], n: 4096, k: 7168, format: 'fp8' })).toBe(groupedGemmTimeUs(H800, { ms: [300], n: 4096, k: 7168, format: 'fp8' }));
  });

  it('split-K is the BF16 choice for a tall-k GEMM with few tiles, never for FP8', () => {
    expect(planGroupedGemm(H200, { ms: [128], n: 4096, k: 7168, format: 'bf16' })!.config.splitK).toBe(2);
    expect(planGroupedGemm(H200, { ms: [128], n: 4096, k: 7168, format: 'fp8' })!.config.splitK).toBe(1);
  });
});

describe('compute model API', () => {
  it('zero tokens cost nothing; an expert is its up/gate plus its down GEMM', () => {
    expect(gemmTimeUs(H800, { m: 0, n: 4096, k: 7168, format: 'fp8' })).toBe(0);
    expect(groupedGemmTimeUs(H800, { ms: [0, 0], n: 4096, k: 7168, format: 'fp8' })).toBe(0);
    expect(expertTimeUs(H800, { tokens: 0, hidden: 7168, intermediate: 2048, format: 'fp8' })).toBe(0);
    expect(groupedExpertsTimeUs(H800, { tokensPerExpert: [], hidden: 7168, intermediate: 2048, format: 'fp8' })).toBe(0);
    expect(expertTimeUs(H800, { tokens: 64, hidden: 7168, intermediate: 2048, format: 'bf16' })).toBeCloseTo(
      gemmTimeUs(H800, { m: 64, n: 4096, k: 7168, format: 'bf16' }) + gemmTimeUs(H800, { m: 64, n: 7168, k: 2048, format: 'bf16' }), 9);
    expect(gemmCost({ m: 1, n: 2, k: 3, format: 'fp8' })).toEqual({ flops: 12, bytes: 3 + 6 + 4, format: 'fp8' });
  });

  it('a streaming kernel moves its bytes at the copy rate: 1 GB on H800 in 1e6 / (3350 x 0.884) us plus the launch', () => {
    expect(kernelTimeUs(H800, { flops: 0, bytes: 1e9, format: 'bf16' })).toBeCloseTo(4 + 1e6 / (3350 * 0.884), 6);
    // 20 SMs at 107 GB/s each cannot reach HBM's rate
    expect(kernelTimeUs(H800, { flops: 0, bytes: 1e9, format: 'bf16' }, { sms: 20 })).toBeCloseTo(4 + 1e6 / (20 * 107), 6);
  });

  it('rejects bad SM counts, formats, work and group sizes', () => {
    expect(() => kernelTimeUs(H800, { flops: 1, bytes: 1, format: 'fp8' }, { sms: 200 })).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', data: expect.objectContaining({ argument: 'sms' }) }));
    expect(() => kernelTimeUs(H800, { flops: NaN, bytes: 1, format: 'fp8' })).toThrow(/flops must be/);
    expect(() => kernelTimeUs(H800, { flops: 1, bytes: 1, format: 'fp4' as 'fp8' })).toThrow(/format must be/);
    expect(() => gemmTimeUs(H800, { m: 1, n: 2, k: 3, format: 'fp4' as 'fp8' })).toThrow(/format must be/);
    expect(() => groupedGemmTimeUs(H800, { ms: [3, -1], n: 2, k: 3, format: 'fp8' })).toThrow(/ms\[1\] must be a non-negative integer, got -1/);
    expect(() => gemmTimeUs(H800, { m: 1, n: 0, k: 3, format: 'fp8' })).toThrow(/n must be a positive integer/);
  });
});
