import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { E4M3_AMBIGUOUS, e4m3FastBits, e4m3SlowBits, e4m3Table } from '../../src/kernels/e4m3-fast.js';
import { E4M3, encodeFp8Bits } from '../../src/kernels/fp8-format.js';
import { encodeE4M3, quantizePerBlock, quantizePerTile, tileToColumnQuant, dequantizePerTile } from '../../src/kernels/index.js';
import { c10E4M3, f32FromBits } from '../unit/kernels/c10-reference.js';

// fc.assert prints { seed, path } on failure; paste them into the params to replay.
const f = Math.fround;
/** The reference: the exact saturating encoder on the bit pattern (keeps NaN signs). */
const ref = (b: number) => encodeFp8Bits(b >>> 0, E4M3, true);

/** Any float32 pattern. */
const anyBits = fc.integer({ min: 0, max: 0xffffffff });
/** Patterns at or next to a rounding tie for every rounding position E4M3 can have (normal: bit 20; subnormal: 21..24). */
const tieBits = fc
  .record({
    sign: fc.boolean(),
    exp: fc.integer({ min: 100, max: 140 }),
    hi: fc.integer({ min: 0, max: 0x7fffff }),
    k: fc.integer({ min: 14, max: 23 }),
    low: fc.constantFrom(0, 1, -1),
  })
  .map(({ sign, exp, hi, k, low }) => {
    const mant = ((hi << (k + 1)) & 0x7fffff) | (k < 23 ? 1 << k : 0);
    const lowBits = low === 0 ? 0 : low === 1 ? 1 : (1 << k) - 1;
    return ((sign ? 0x80000000 : 0) | (exp << 23) | ((mant | lowBits) & 0x7fffff)) >>> 0;
  });
/** Around 448 (0x43e00000), the 464 tie (0x43e80000) and 480, either sign. */
const near448 = fc
  .record({ base: fc.constantFrom(0x43e00000, 0x43e80000, 0x43f00000), d: fc.integer({ min: -(1 << 21), max: 1 << 21 }), sign: fc.boolean() })
  .map(({ base, d, sign }) => ((sign ? 0x80000000 : 0) | (base + d)) >>> 0);
/** E4M3 subnormals and below (|x| < 2^-6), plus float32 subnormals and zeros. */
const smallBits = fc
  .record({ sign: fc.boolean(), abs: fc.oneof(fc.integer({ min: 0, max: 0x3c800000 }), fc.integer({ min: 0, max: 0x007fffff }), fc.constant(0)) })
  .map(({ sign, abs }) => ((sign ? 0x80000000 : 0) | abs) >>> 0);

describe('fast E4M3 encoder (table on the top 16 bits) vs the reference encoder', () => {
  it('every unambiguous table entry is the code of every pattern of its bucket (checked at 9 points each)', () => {
    const tab = e4m3Table();
    let ambiguous = 0;
    const wrong: number[] = [];
    for (let hi = 0; hi < 1 << 16; hi++) {
      const c = tab[hi]!;
      if (c === E4M3_AMBIGUOUS) {
        ambiguous++;
        continue;
      }
      for (const lo of [0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x1234, 0xedcb]) if (ref(((hi << 16) | lo) >>> 0) !== c) wrong.push(hi);
    }
    expect(wrong).toEqual([]);
    // Ties: 1 bucket in 32 of the finite range, plus the NaN and Inf buckets.
    expect(ambiguous).toBeGreaterThan(0);
    expect(ambiguous).toBeLessThan(1 << 12);
  });

  it('the integer fallback equals the reference in every bucket (sign, exponent, 7 mantissa bits) at 9 low-bit patterns', () => {
    const wrong: number[] = [];
    for (let hi = 0; hi < 1 << 16; hi++)
      for (const lo of [0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x1234, 0xedcb]) {
        const b = ((hi << 16) | lo) >>> 0;
        if (e4m3SlowBits(b | 0) !== ref(b)) wrong.push(b);
      }
    expect(wrong).toEqual([]);
  });

  it.each([
    ['any pattern', anyBits],
    ['ties and near-ties', tieBits],
    ['near 448', near448],
    ['subnormals and zeros', smallBits],
  ] as const)('equals the reference bit for bit on %s', (_name, gen) => {
    fc.assert(
      fc.property(gen, (b) => {
        const want = ref(b);
        expect(e4m3FastBits(b)).toBe(want);
        expect(e4m3FastBits(b | 0)).toBe(want); // int32 view
        expect(e4m3SlowBits(b | 0)).toBe(want);
        const x = f32FromBits(b);
        if (!Number.isNaN(x)) {
          expect(want).toBe(encodeE4M3(x));
          const p = c10E4M3(x);
          expect(want).toBe((p & 0x7f) === 0x7f ? 0x7e | (p & 0x80) : p);
        }
        return true;
      }),
      { numRuns: 20000 },
    );
  });

  it('signed zeros, the extremes and every E4M3 value and midpoint', () => {
    for (const b of [0, 0x80000000, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x00000001, 0x80000001]) expect(e4m3FastBits(b)).toBe(ref(b));
    const u = new Uint32Array(1), v = new Float32Array(u.buffer);
    for (let c = 0; c < 0x7e; c++) {
      for (const sign of [1, -1]) {
        v[0] = sign * decode(c);
        expect(e4m3FastBits(u[0]!)).toBe(ref(u[0]!));
        v[0] = sign * (decode(c) + decode(c + 1)) / 2; // midpoint: a tie
        for (const d of [-1, 0, 1]) expect(e4m3FastBits((u[0]! + d) >>> 0)).toBe(ref((u[0]! + d) >>> 0));
      }
    }
  });
});

function decode(c: number): number {
  const e = c >> 3, m = c & 7;
  return e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7);
}

/** DeepGEMM's formula element by element, with the scalar reference encoder. */
function refGroup(vals: ArrayLike<number>, ue8m0: boolean): { q: number[]; scale: number } {
  let amax = f(1e-4);
  for (let i = 0; i < vals.length; i++) amax = Math.max(amax, Math.abs(vals[i]!));
  if (ue8m0) {
    const scale = 2 ** Math.ceil(Math.log2(f(amax / 448)));
    return { q: Array.from(vals, (v) => encodeE4M3(f(v * f(1 / scale)))), scale };
  }
  const factor = f(448 / amax);
  return { q: Array.from(vals, (v) => encodeE4M3(f(v * factor))), scale: f(amax / 448) };
}

/** Float32 values spread over many binades (subnormal products included), with zeros and exact ties. */
const value = fc.oneof(
  fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.float({ noNaN: true, noDefaultInfinity: true, min: f(-1e-3), max: f(1e-3) }),
  fc.constantFrom(0, -0, 448, -448, 1, 1.0625, 3.25e-4),
);
const matrix = (maxRows: number, cols: fc.Arbitrary<number>) =>
  fc.record({ m: fc.integer({ min: 1, max: maxRows }), n: cols, seed: fc.array(value, { minLength: 1, maxLength: 512 }) }).map(({ m, n, seed }) => ({
    m,
    n,
    x: Float32Array.from({ length: m * n }, (_, i) => seed[(i * 7919) % seed.length]! * (1 + (i % 5))),
  }));

describe('quantization kernels on the fast path equal the reference formula', () => {
  it('quantizePerTile (both scale kinds, aligned and unaligned out buffers)', () => {
    fc.assert(
      fc.property(matrix(5, fc.constantFrom(128, 256, 384)), fc.boolean(), fc.integer({ min: 0, max: 3 }), ({ m, n, x }, ue8m0, shift) => {
        const q = new Uint8Array(m * n + 4).subarray(shift, shift + m * n);
        const scales = new Float32Array((m * n) / 128);
        quantizePerTile(x, m, n, { ue8m0, out: { q, scales } });
        for (let t = 0; t < (m * n) / 128; t++) {
          const r = refGroup(x.subarray(t * 128, t * 128 + 128), ue8m0);
          expect(scales[t]).toBe(r.scale);
          expect([...q.subarray(t * 128, t * 128 + 128)]).toEqual(r.q);
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('quantizePerTile reports the first non-finite element, in any tile', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity), (m, at, bad) => {
        const x = Float32Array.from({ length: m * 256 }, (_, i) => Math.sin(i));
        const i = at % x.length;
        x[i] = bad;
        expect(() => quantizePerTile(x, m, 256)).toThrow(expect.objectContaining({ code: 'E_NUMERIC', data: expect.objectContaining({ argument: 'x', index: i }) }));
        return true;
      }),
      { numRuns: 50 },
    );
  });

  it('quantizePerBlock and tileToColumnQuant', () => {
    fc.assert(
      fc.property(matrix(140, fc.integer({ min: 1, max: 300 })), fc.boolean(), ({ m, n, x }, ue8m0) => {
        const b = quantizePerBlock(x, m, n, { ue8m0 });
        const bn = Math.ceil(n / 128);
        for (let bi = 0; bi < Math.ceil(m / 128); bi++)
          for (let bj = 0; bj < bn; bj++) {
            const idx: number[] = [];
            for (let r = bi * 128; r < Math.min(m, bi * 128 + 128); r++) for (let c = bj * 128; c < Math.min(n, bj * 128 + 128); c++) idx.push(r * n + c);
            const r = refGroup(idx.map((i) => x[i]!), ue8m0);
            expect(b.scales[bi * bn + bj]).toBe(r.scale);
            expect(idx.map((i) => b.q[i])).toEqual(r.q);
          }
        return true;
      }),
      { numRuns: 40 },
    );
    fc.assert(
      fc.property(matrix(140, fc.constantFrom(128, 256)), fc.boolean(), ({ m, n, x }, ue8m0) => {
        const t = quantizePerTile(x, m, n);
        const d = dequantizePerTile(t.q, t.scales, m, n);
        const c = tileToColumnQuant(t.q, t.scales, m, n, { ue8m0 });
        for (let g = 0; g < Math.ceil(m / 128); g++)
          for (let j = 0; j < n; j++) {
            const rows: number[] = [];
            for (let r = g * 128; r < Math.min(m, g * 128 + 128); r++) rows.push(r * n + j);
            const r = refGroup(rows.map((i) => d[i]!), ue8m0);
            expect(c.scales[g * n + j]).toBe(r.scale);
            expect(rows.map((i) => c.q[i])).toEqual(r.q);
          }
        return true;
      }),
      { numRuns: 20 },
    );
  });
});
