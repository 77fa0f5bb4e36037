import { describe, expect, it } from 'vitest';
import {
  decodeE4M3, decodeE4M3Array, decodeE5M2, decodeE5M2Array, E4M3_VALUES, E5M2_VALUES,
  encodeE4M3, encodeE4M3Array, encodeE5M2, encodeE5M2Array,
} from '../../../src/kernels/index.js';
import { c10E4M3, c10E5M2, f32Bits, f32FromBits } from './c10-reference.js';

const formats = [
  { name: 'E4M3', enc: encodeE4M3, dec: decodeE4M3, values: E4M3_VALUES, c10: c10E4M3, max: 448, maxCode: 0x7e, isNaNCode: (c: number) => (c & 0x7f) === 0x7f },
  { name: 'E5M2', enc: encodeE5M2, dec: decodeE5M2, values: E5M2_VALUES, c10: c10E5M2, max: 57344, maxCode: 0x7b, isNaNCode: (c: number) => (c & 0x7f) > 0x7c },
] as const;

describe.each(formats)('$name', (F) => {
  const finiteCodes = [...Array(256).keys()].filter((c) => Number.isFinite(F.dec(c)));

  it('decodes every code to the value of its bit fields (spot values)', () => {
    if (F.name === 'E4M3') {
      expect([F.dec(0x38), F.dec(0x7e), F.dec(0x01), F.dec(0x08), F.dec(0xb8)]).toEqual([1, 448, 2 ** -9, 2 ** -6, -1]);
      expect(F.dec(0x7f)).toBeNaN();
    } else {
      expect([F.dec(0x3c), F.dec(0x7b), F.dec(0x01), F.dec(0x04), F.dec(0x7c), F.dec(0xfc)]).toEqual([1, 57344, 2 ** -16, 2 ** -14, Infinity, -Infinity]);
      expect(F.dec(0x7d)).toBeNaN();
    }
    expect(Object.is(F.dec(0x80), -0)).toBe(true);
  });

  it('round-trips all 256 codes (NaN codes decode to NaN and re-encode to a NaN code)', () => {
    for (let c = 0; c < 256; c++) {
      const v = F.dec(c);
      if (Number.isNaN(v)) {
        expect(F.isNaNCode(c)).toBe(true);
        expect(F.isNaNCode(F.enc(v))).toBe(true);
      } else if (!Number.isFinite(v)) {
        expect(F.enc(v, { overflow: 'pytorch' })).toBe(c);
      } else expect(F.enc(v), `code 0x${c.toString(16)}`).toBe(c);
      expect(F.enc(v, { overflow: 'pytorch' })).toBe(F.c10(v));
    }
  });

  it('rounds every midpoint between neighbours to the even code, and its float32 neighbours away', () => {
    const pos = finiteCodes.filter((c) => c < 0x80).sort((a, b) => F.dec(a) - F.dec(b));
    let checked = 0;
    for (let i = 0; i + 1 < pos.length; i++) {
      const lo = pos[i]!, hi = pos[i + 1]!;
      const mid = (F.dec(lo) + F.dec(hi)) / 2;
      expect(Math.fround(mid)).toBe(mid);
      const even = (lo & 1) === 0 ? lo : hi;
      for (const s of [1, -1]) {
        const sb = s < 0 ? 0x80 : 0;
        expect(F.enc(s * mid), `midpoint ${s * mid}`).toBe(even | sb);
        expect(F.enc(s * f32FromBits(f32Bits(mid) - 1))).toBe(lo | sb);
        expect(F.enc(s * f32FromBits(f32Bits(mid) + 1))).toBe(hi | sb);
        expect(F.enc(s * mid, { overflow: 'pytorch' })).toBe(F.c10(s * mid));
      }
      checked++;
    }
    expect(checked).toBe(pos.length - 1);
  });

  it('saturates out-of-range values and infinities by default; PyTorch mode gives NaN (E4M3) / Inf (E5M2)', () => {
    const ulpTop = F.name === 'E4M3' ? 32 : 8192;
    const beyondMid = F.max + ulpTop / 2; // midpoint between max and the next (non-finite) step
    for (const s of [1, -1]) {
      const sb = s < 0 ? 0x80 : 0;
      for (const v of [beyondMid + ulpTop / 4, 1e30, Infinity]) {
        expect(F.enc(s * v)).toBe(F.maxCode | sb);
        expect(F.enc(s * v, { overflow: 'pytorch' })).toBe(F.c10(s * v));
      }
    }
    // The tie above max: E4M3's 448 is even (stays), E5M2's 57344 is odd (overflows in PyTorch mode).
    expect(F.enc(beyondMid, { overflow: 'pytorch' })).toBe(F.name === 'E4M3' ? 0x7e : 0x7c);
    expect(F.enc(NaN)).toBe(F.name === 'E4M3' ? 0x7f : 0x7f);
  });

  it('keeps signed zero and rounds the float64 input to float32 first', () => {
    expect(F.enc(-0)).toBe(0x80);
    expect(F.enc(0)).toBe(0);
    // 1 + 2^-4 (E4M3) is a tie; a float64 a hair above it rounds to the tie in float32, then to even.
    const tie = F.name === 'E4M3' ? 1 + 2 ** -4 : 1 + 2 ** -3;
    expect(F.enc(tie + 2 ** -40)).toBe(F.enc(tie));
  });

  it('array versions match the scalar ones, bit for bit, and decode into a given output', () => {
    const x = new Float32Array([0, -0, 1.5, -3.25, 1e-9, 465, -1e9, Infinity, NaN, F.max]);
    const enc = F.name === 'E4M3' ? encodeE4M3Array : encodeE5M2Array;
    const dec = F.name === 'E4M3' ? decodeE4M3Array : decodeE5M2Array;
    const q = enc(x);
    expect([...q]).toEqual([...x].map((v) => F.enc(v)));
    expect([...enc(x, { overflow: 'pytorch' })]).toEqual([...x].map((v) => F.c10(v)));
    const out = new Float32Array(q.length);
    expect(dec(q, out)).toBe(out);
    expect([...out]).toEqual([...q].map((c) => F.dec(c)));
  });
});

describe('array conversion errors', () => {
  it('names the argument on a wrong type or output length', () => {
    expect(() => encodeE4M3Array([1] as unknown as Float32Array)).toThrow(/x must be a Float32Array/);
    expect(() => encodeE4M3Array(new Float32Array(2), { out: new Uint8Array(3) })).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', data: expect.objectContaining({ argument: 'out' }) }));
    expect(() => decodeE5M2Array(new Uint8Array(2), new Float32Array(1))).toThrow(/out must have 2 elements/);
  });
});
