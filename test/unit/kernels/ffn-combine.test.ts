import { describe, expect, it } from 'vitest';
import { combine, expertFfn, expertFfnFp8, fromBF16Bits, quantizeExpertWeights, quantizePerTile, roundBF16, swigluInPlace, toBF16Bits } from '../../../src/kernels/index.js';

const ramp = (len: number, seed: number, amp = 1) => Float32Array.from({ length: len }, (_, i) => amp * Math.sin(i * 0.913 + seed));
const H = 128, I = 256, T = 3;
const weights = { hidden: H, intermediate: I, gate: ramp(I * H, 1, 0.1), up: ramp(I * H, 2, 0.1), down: ramp(H * I, 3, 0.1) };
const x = ramp(T * H, 4);

function reference(): Float64Array {
  const act = new Float64Array(T * I);
  for (let t = 0; t < T; t++)
    for (let j = 0; j < I; j++) {
      let g = 0, u = 0;
      for (let h = 0; h < H; h++) {
        g += x[t * H + h]! * weights.gate[j * H + h]!;
        u += x[t * H + h]! * weights.up[j * H + h]!;
      }
      act[t * I + j] = (g / (1 + Math.exp(-g))) * u;
    }
  const y = new Float64Array(T * H);
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let j = 0; j < I; j++) y[t * H + h] = y[t * H + h]! + act[t * I + j]! * weights.down[h * I + j]!;
  return y;
}
const ref = reference();
const relErr = (y: Float32Array) => Math.hypot(...[...y].map((v, i) => v - ref[i]!)) / Math.hypot(...ref);

describe('SwiGLU expert', () => {
  it('swiglu is silu(g) * u in float32', () => {
    expect(swigluInPlace(new Float32Array([1, -2]), new Float32Array([2, 3]))[0]).toBe(Math.fround(Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-1)))) * 2));
  });

  it('FP32, BF16 and FP8 paths approximate the float64 expert with their formats\' accuracy', () => {
    const e32 = relErr(expertFfn(x, T, weights));
    const yb = expertFfn(x, T, weights, { format: 'bf16' });
    const e16 = relErr(yb);
    const y8 = expertFfnFp8(x, T, quantizeExpertWeights(weights));
    const e8 = relErr(y8);
    expect(e32).toBeLessThan(1e-6);
    expect(e16).toBeLessThan(2e-2);
    expect(e16).toBeGreaterThan(e32);
    expect(e8).toBeLessThan(0.2); // three E4M3 roundings (x, weights, activation); this output cancels a lot
    expect(e8).toBeGreaterThan(e16 / 10);
    for (const v of [...yb, ...y8]) expect(roundBF16(v)).toBe(v);
  });

  it('FP8 accepts already tile-quantized activations (as dispatched) with the same result', () => {
    const qw = quantizeExpertWeights(weights);
    expect([...expertFfnFp8(quantizePerTile(x, T, H), T, qw)]).toEqual([...expertFfnFp8(x, T, qw)]);
  });

  it('rejects mismatched weights and hidden sizes not divisible by 128 for FP8', () => {
    expect(() => expertFfn(x, T, { ...weights, up: new Float32Array(3) })).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', data: expect.objectContaining({ argument: 'weights.up' }) }));
    expect(() => expertFfnFp8(x, T, { ...quantizeExpertWeights(weights), hidden: 100 })).toThrow(expect.objectContaining({ data: expect.objectContaining({ argument: 'weights.hidden' }) }));
  });
});

describe('combine', () => {
  it('plain sum (normal combine) accumulates in float32 and rounds to BF16', () => {
    const rows = new Float32Array([1, 2, 3, 4, 1e-3, 1]); // tokens 1, topK 3, hidden 2
    const out = combine(rows, 1, 3, 2);
    expect([...out]).toEqual([toBF16Bits(Math.fround(Math.fround(1 + 3) + Math.fround(1e-3))), toBF16Bits(7)]);
  });

  it('weighted (low-latency combine) and BF16-bit rows', () => {
    const rowsBits = Uint16Array.from([1.5, -2, 0.25, 8].map(toBF16Bits)); // tokens 2, topK 2, hidden 1
    const w = new Float32Array([0.5, 0.25, 1, 0.1]);
    const out = combine(rowsBits, 2, 2, 1, { weights: w });
    expect(fromBF16Bits(out[0]!)).toBe(roundBF16(0.75 - 0.5));
    expect(fromBF16Bits(out[1]!)).toBe(roundBF16(Math.fround(0.25 + Math.fround(Math.fround(0.1) * 8))));
  });

  it('rejects wrong lengths naming the argument', () => {
    expect(() => combine(new Float32Array(3), 1, 2, 2)).toThrow(/rows must have 4 elements/);
    expect(() => combine(new Float32Array(4), 1, 2, 2, { weights: new Float32Array(1) })).toThrow(expect.objectContaining({ data: expect.objectContaining({ argument: 'weights' }) }));
  });
});
