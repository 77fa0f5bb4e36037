import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeE4M3, encodeE4M3Array, encodeE5M2, toBF16Bits, E4M3_VALUES } from '../../src/kernels/index.js';
import { c10BF16, c10E4M3, c10E5M2, f32FromBits } from '../unit/kernels/c10-reference.js';

// fc.assert prints { seed, path } on failure; paste them into the params to replay.
const bits = fc.integer({ min: 0, max: 0xffffffff });

describe('format conversions vs PyTorch (c10 ports) on random float32 bit patterns', () => {
  it.each([
    ['E4M3', encodeE4M3, c10E4M3],
    ['E5M2', encodeE5M2, c10E5M2],
  ] as const)('%s (pytorch overflow mode) is identical to c10 for every float32', (_name, encode, c10) => {
    fc.assert(fc.property(bits, (b) => {
      const x = f32FromBits(b);
      if (Number.isNaN(x)) return (encode(x, { overflow: 'pytorch' }) & 0x7f) === 0x7f;
      return encode(x, { overflow: 'pytorch' }) === c10(x);
    }), { numRuns: 20000 });
  });

  it('the saturating E4M3 encoder differs from PyTorch only by clamping, and is within half an ulp', () => {
    fc.assert(fc.property(fc.float({ noNaN: true, min: -1000, max: 1000 }), (x) => {
      const q = encodeE4M3(x);
      const p = c10E4M3(x);
      if ((p & 0x7f) === 0x7f) return q === (0x7e | (p & 0x80));
      expect(q).toBe(p);
      return true;
    }), { numRuns: 5000 });
  });

  it('BF16 is identical to c10 round_to_nearest_even', () => {
    fc.assert(fc.property(bits, (b) => toBF16Bits(f32FromBits(b)) === c10BF16(f32FromBits(b))), { numRuns: 20000 });
  });

  it('array and scalar encoders agree on random arrays (saturating mode)', () => {
    fc.assert(fc.property(fc.float32Array({ maxLength: 64 }), (x) => {
      const q = encodeE4M3Array(x);
      return [...x].every((v, i) => (Number.isNaN(v) ? (q[i]! & 0x7f) === 0x7f : q[i] === encodeE4M3(v) && !Number.isNaN(E4M3_VALUES[q[i]!]!)));
    }), { numRuns: 300 });
  });
});
