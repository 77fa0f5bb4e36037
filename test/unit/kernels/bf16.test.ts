import { describe, expect, it } from 'vitest';
import { fromBF16Array, fromBF16Bits, roundBF16, roundBF16Array, toBF16Array, toBF16Bits } from '../../../src/kernels/index.js';
import { c10BF16, f32FromBits } from './c10-reference.js';

describe('BF16', () => {
  it('converts known values like PyTorch', () => {
    expect(toBF16Bits(1)).toBe(0x3f80);
    expect(toBF16Bits(-2)).toBe(0xc000);
    expect(toBF16Bits(-0)).toBe(0x8000);
    expect(toBF16Bits(NaN)).toBe(0x7fc0);
    expect(toBF16Bits(Infinity)).toBe(0x7f80);
    expect(toBF16Bits(3.4e38)).toBe(0x7f80); // overflow rounds to Inf
    expect(fromBF16Bits(0x3f80)).toBe(1);
    expect(fromBF16Bits(0x0001)).toBe(2 ** -133);
  });

  it('rounds every midpoint of a range of neighbours to even, neighbours away', () => {
    for (let b = 0x3f00; b < 0x4100; b++) {
      const lo = fromBF16Bits(b);
      const hiBits = b + 1;
      const mid = f32FromBits((b << 16) + 0x8000);
      expect(toBF16Bits(mid)).toBe((b & 1) === 0 ? b : hiBits);
      expect(toBF16Bits(f32FromBits((b << 16) + 0x7fff))).toBe(b);
      expect(toBF16Bits(f32FromBits((b << 16) + 0x8001))).toBe(hiBits);
      expect(toBF16Bits(lo)).toBe(b);
      expect(toBF16Bits(mid)).toBe(c10BF16(mid));
    }
  });

  it('array versions agree with the scalar ones; roundBF16Array rounds in place', () => {
    const x = new Float32Array([1.00390625, -1.01171875, 3e38, 1e-40, NaN, -0]);
    const bits = toBF16Array(x);
    expect([...bits]).toEqual([...x].map(toBF16Bits));
    expect([...fromBF16Array(bits)]).toEqual([...bits].map(fromBF16Bits));
    const y = x.slice();
    expect(roundBF16Array(y)).toBe(y);
    expect([...y].map(String)).toEqual([...x].map((v) => String(roundBF16(v))));
  });

  it('rejects wrong argument types', () => {
    expect(() => toBF16Array(new Float64Array(1) as unknown as Float32Array)).toThrow(expect.objectContaining({ code: 'E_ARGUMENT' }));
    expect(() => fromBF16Array(new Uint16Array(2), new Float32Array(3))).toThrow(/out must have 2/);
  });
});
