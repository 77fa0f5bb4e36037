import { describe, expect, it } from 'vitest';
import { decodeE4M3, dequantizePerBlock, dequantizePerTile, encodeE4M3, quantizePerBlock, quantizePerTile, tileToColumnQuant } from '../../../src/kernels/index.js';

const f = Math.fround;
const ramp = (len: number, seed = 1) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * 0.37 + seed) * (1 + (i % 7)));

/** DeepGEMM's formula, written out element by element in float32. */
function refGroup(vals: number[], ue8m0 = false): { q: number[]; scale: number } {
  const amax = Math.max(...vals.map(Math.abs), f(1e-4));
  if (ue8m0) {
    const scale = 2 ** Math.ceil(Math.log2(f(amax / 448)));
    return { q: vals.map((v) => encodeE4M3(f(v * f(1 / scale)))), scale };
  }
  const factor = f(448 / amax);
  return { q: vals.map((v) => encodeE4M3(f(v * factor))), scale: f(amax / 448) };
}

describe('quantizePerTile', () => {
  it('follows the reference formula per 1x128 tile, scales [m][n/128]', () => {
    const m = 3, n = 256;
    const x = ramp(m * n);
    x[5] = 0; // keep an exact zero
    const { q, scales } = quantizePerTile(x, m, n);
    expect(scales.length).toBe(m * 2);
    for (let t = 0; t < m * 2; t++) {
      const r = refGroup([...x.subarray(t * 128, t * 128 + 128)]);
      expect(scales[t]).toBe(r.scale);
      expect([...q.subarray(t * 128, t * 128 + 128)]).toEqual(r.q);
    }
  });

  it('maps each tile max to +-448 and a zero tile to scale 1e-4/448', () => {
    const x = new Float32Array(256);
    x[3] = -7;
    const { q, scales } = quantizePerTile(x, 1, 256);
    expect(decodeE4M3(q[3]!)).toBe(-448);
    expect(scales[1]).toBe(f(f(1e-4) / 448));
  });

  it('UE8M0: power-of-two scales rounded up, values stay within +-448', () => {
    const x = ramp(2 * 128, 3);
    const { q, scales } = quantizePerTile(x, 2, 128, { ue8m0: true });
    for (let t = 0; t < 2; t++) {
      expect(Number.isInteger(Math.log2(scales[t]!))).toBe(true);
      const r = refGroup([...x.subarray(t * 128, t * 128 + 128)], true);
      expect(scales[t]).toBe(r.scale);
      expect([...q.subarray(t * 128, (t + 1) * 128)]).toEqual(r.q);
    }
    for (const c of q) expect(Math.abs(decodeE4M3(c))).toBeLessThanOrEqual(448);
  });

  it('dequantizes within E4M3 rounding (<= 1/16 relative, plus subnormal floor)', () => {
    const x = ramp(4 * 128);
    const t = quantizePerTile(x, 4, 128);
    const y = dequantizePerTile(t.q, t.scales, 4, 128);
    y.forEach((v, i) => expect(Math.abs(v - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) / 16 + t.scales[i >> 7]! * 2 ** -9));
  });

  it('rejects n not a multiple of 128, wrong lengths and non-finite inputs, naming the argument', () => {
    expect(() => quantizePerTile(new Float32Array(100), 1, 100)).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', data: expect.objectContaining({ argument: 'n', value: 100 }) }));
    expect(() => quantizePerTile(new Float32Array(128), 2, 128)).toThrow(/x must have 256 elements, got 128/);
    expect(() => quantizePerTile(new Float32Array(128), 0, 128)).toThrow(/m must be a positive integer/);
    const bad = new Float32Array(256);
    bad[130] = NaN;
    expect(() => quantizePerTile(bad, 1, 256)).toThrow(expect.objectContaining({ code: 'E_NUMERIC', data: expect.objectContaining({ argument: 'x', index: 130 }) }));
    bad[130] = -Infinity;
    expect(() => quantizePerTile(bad, 1, 256)).toThrow(expect.objectContaining({ code: 'E_NUMERIC' }));
  });
});

describe('quantizePerBlock', () => {
  it('uses one scale per 128x128 block, zero-padded edges, scales [ceil(m/128)][ceil(n/128)]', () => {
    const m = 130, n = 200;
    const w = ramp(m * n, 2);
    const { q, scales } = quantizePerBlock(w, m, n);
    expect(q.length).toBe(m * n);
    expect(scales.length).toBe(2 * 2);
    for (const [bi, bj] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
      const vals: number[] = [];
      const idx: number[] = [];
      for (let r = bi * 128; r < Math.min(m, bi * 128 + 128); r++)
        for (let c = bj * 128; c < Math.min(n, bj * 128 + 128); c++) {
          vals.push(w[r * n + c]!);
          idx.push(r * n + c);
        }
      const ref = refGroup(vals);
      expect(scales[bi * 2 + bj]).toBe(ref.scale);
      expect(idx.map((i) => q[i])).toEqual(ref.q);
    }
    const back = dequantizePerBlock(q, scales, m, n);
    const worst = back.reduce((acc, v, i) => Math.max(acc, Math.abs(v - w[i]!) - Math.abs(w[i]!) / 16), -Infinity);
    expect(worst).toBeLessThanOrEqual(1e-3);
  });

  it('rejects wrong lengths and NaN weights; dequantize rejects NaN scales', () => {
    expect(() => quantizePerBlock(new Float32Array(5), 2, 3)).toThrow(/w must have 6 elements/);
    const w = new Float32Array(6);
    w[4] = NaN;
    expect(() => quantizePerBlock(w, 2, 3)).toThrow(expect.objectContaining({ code: 'E_NUMERIC', data: expect.objectContaining({ argument: 'w' }) }));
    expect(() => dequantizePerBlock(new Uint8Array(6), new Float32Array([NaN]), 2, 3)).toThrow(expect.objectContaining({ code: 'E_NUMERIC', data: expect.objectContaining({ argument: 'scales', index: 0 }) }));
  });
});

describe('tileToColumnQuant', () => {
  it('equals per-column 128x1 quantization of the dequantized tiles; scales [ceil(m/128)][n]', () => {
    const m = 200, n = 128;
    const t = quantizePerTile(ramp(m * n, 5), m, n);
    const x = dequantizePerTile(t.q, t.scales, m, n);
    const c = tileToColumnQuant(t.q, t.scales, m, n);
    expect(c.scales.length).toBe(2 * n);
    for (const g of [0, 1])
      for (const j of [0, 17, 127]) {
        const rows = [...Array(Math.min(m, g * 128 + 128) - g * 128).keys()].map((r) => g * 128 + r);
        const ref = refGroup(rows.map((r) => x[r * n + j]!));
        expect(c.scales[g * n + j]).toBe(ref.scale);
        expect(rows.map((r) => c.q[r * n + j])).toEqual(ref.q);
      }
  });

  it('rejects NaN scales and E4M3 NaN codes', () => {
    expect(() => tileToColumnQuant(new Uint8Array(128), new Float32Array([NaN]), 1, 128)).toThrow(expect.objectContaining({ code: 'E_NUMERIC', data: expect.objectContaining({ argument: 'scales' }) }));
    const q = new Uint8Array(128);
    q[9] = 0x7f;
    expect(() => tileToColumnQuant(q, new Float32Array([1]), 1, 128)).toThrow(expect.objectContaining({ code: 'E_NUMERIC' }));
  });
});
