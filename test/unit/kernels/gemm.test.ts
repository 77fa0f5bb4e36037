import { describe, expect, it } from 'vitest';
import { dequantizePerBlock, dequantizePerTile, f32Gemm, fp8Gemm, quantizePerBlock, quantizePerTile } from '../../../src/kernels/index.js';

const ramp = (len: number, seed = 1) => Float32Array.from({ length: len }, (_, i) => Math.cos(i * 0.71 + seed));

function naive(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) c[i * n + j] = c[i * n + j]! + a[i * k + t]! * b[j * k + t]!;
  return c;
}

describe('f32Gemm', () => {
  it('computes A·Bᵀ for odd shapes (edge rows and columns) within float32 rounding', () => {
    for (const [m, n, k] of [[1, 1, 1], [3, 5, 7], [5, 34, 300], [2, 33, 129]] as const) {
      const a = ramp(m * k), b = ramp(n * k, 2);
      const ref = naive(a, b, m, n, k);
      const c = f32Gemm(a, b, m, n, k);
      c.forEach((v, i) => expect(Math.abs(v - ref[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref[i]!)) * Math.ceil(k / 128)));
    }
    expect([...f32Gemm(new Float32Array([1, 2]), new Float32Array([3, 4]), 1, 1, 2)]).toEqual([11]);
  });

  it('emulated accumulator with 24 bits and promotion every element equals a float32 running sum', () => {
    const k = 256, a = ramp(k), b = ramp(k, 3);
    let acc = 0;
    for (let t = 0; t < k; t++) acc = Math.fround(acc + Math.fround(a[t]! * b[t]!));
    const c = f32Gemm(a, b, 1, 1, k, { emulateAccumulator: true, accumulatorBits: 24, promotionInterval: 1 });
    expect(c[0]).toBe(acc);
  });
});

describe('fp8Gemm', () => {
  const m = 5, n = 130, k = 256;
  const a = quantizePerTile(ramp(m * k), m, k);
  const b = quantizePerBlock(ramp(n * k, 4), n, k);

  it('matches the float64 product of the dequantized operands', () => {
    const ref = naive(dequantizePerTile(a.q, a.scales, m, k), dequantizePerBlock(b.q, b.scales, n, k), m, n, k);
    const c = fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k);
    c.forEach((v, i) => expect(Math.abs(v - ref[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref[i]!))));
  });

  it('the emulated 14-bit accumulator is less accurate than the exact path but close', () => {
    const ref = fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k);
    const emu = fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k, { emulateAccumulator: true });
    let diff = 0, mag = 0;
    emu.forEach((v, i) => ((diff = Math.max(diff, Math.abs(v - ref[i]!))), (mag = Math.max(mag, Math.abs(ref[i]!)))));
    expect(diff).toBeGreaterThan(0);
    expect(diff / mag).toBeLessThan(2e-3);
  });

  it('rejects bad shapes, NaN scales and NaN codes, naming the argument', () => {
    const err = (data: object, code = 'E_ARGUMENT') => expect.objectContaining({ code, data: expect.objectContaining(data) });
    expect(() => fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, 200)).toThrow(err({ argument: 'k' }));
    expect(() => fp8Gemm(a.q.subarray(1), a.scales, b.q, b.scales, m, n, k)).toThrow(err({ argument: 'aQ' }));
    expect(() => fp8Gemm(a.q, a.scales, b.q, new Float32Array(1), m, n, k)).toThrow(err({ argument: 'bScales' }));
    const s = a.scales.slice();
    s[3] = NaN;
    expect(() => fp8Gemm(a.q, s, b.q, b.scales, m, n, k)).toThrow(err({ argument: 'aScales', index: 3 }, 'E_NUMERIC'));
    const q = b.q.slice();
    q[7] = 0xff;
    expect(() => fp8Gemm(a.q, a.scales, q, b.scales, m, n, k)).toThrow(err({ argument: 'bQ', index: 7 }, 'E_NUMERIC'));
    expect(() => fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k, { promotionInterval: 0 })).toThrow(err({ argument: 'promotionInterval' }));
    expect(() => f32Gemm(new Float32Array(1), new Float32Array(1), 1, 1, 1, { emulateAccumulator: true, accumulatorBits: 60 })).toThrow(err({ argument: 'accumulatorBits' }));
  });
});
