/**
 * @module
 * Fast saturating E4M3 encoding of float32 bit patterns, for the quantization kernels' hot loops.
 *
 * A 64 KiB table indexed by the top 16 bits of the float32 pattern (sign, exponent, 7 mantissa bits)
 * holds the code wherever the low 16 bits cannot change it: E4M3 keeps 3 mantissa bits, so the low 16
 * bits only matter at a rounding tie (round bit set, the bits below it in the index clear, an even
 * result). Each entry is built from the reference encoder ({@link encodeFp8Bits}) at both ends of its
 * bucket, `hi << 16` and `hi << 16 | 0xffff`: rounding is monotonic, so equal codes at both ends mean
 * every pattern of the bucket has that code. Otherwise (about 1 bucket in 32, plus NaN buckets) the
 * entry is {@link E4M3_AMBIGUOUS} and the caller falls back to {@link e4m3SlowBits}, which is exact for
 * every pattern. 0xff never comes out of a finite input (it is -NaN), so it can serve as the marker.
 */
import { E4M3, encodeFp8Bits } from './fp8-format.js';

/** Table entry meaning "the low 16 bits decide": use {@link e4m3SlowBits}. @internal */
export const E4M3_AMBIGUOUS = 0xff;

// Module-local aliases: some loaders (tsx) compile imported bindings to getter calls, one per access.
const encode = encodeFp8Bits;
const FMT = E4M3;

let table: Uint8Array | undefined;

/** The saturating E4M3 code per top-16-bit bucket of a float32 pattern (built on first use). @internal */
export function e4m3Table(): Uint8Array {
  if (table !== undefined) return table;
  const t = new Uint8Array(1 << 16);
  for (let hi = 0; hi < 1 << 16; hi++) {
    const lo = encode((hi << 16) >>> 0, FMT, true);
    t[hi] = lo === encode(((hi << 16) | 0xffff) >>> 0, FMT, true) ? lo : E4M3_AMBIGUOUS;
  }
  table = t;
  return t;
}

/**
 * Saturating E4M3 code of the float32 pattern `b` (int32 or uint32), exact for every pattern, in integer
 * arithmetic only (small enough to inline into the kernels' loops): c10's rounding for the normal range;
 * below 2^-6 the 24-bit significand shifted to units of 2^-9 (the E4M3 subnormal step), to nearest even;
 * from 464 (the tie above 448) and for +-Inf the largest finite code; NaN stays NaN. @internal
 */
export function e4m3SlowBits(b: number): number {
  const sign = (b >> 24) & 0x80;
  const abs = b & 0x7fffffff;
  if (abs >= 0x3c800000) {
    if (abs < 0x43e80000) return sign | ((abs - 0x3c000000 + 0x7ffff + ((abs >> 20) & 1)) >> 20);
    return sign | (abs > 0x7f800000 ? 0x7f : 0x7e);
  }
  // |x| < 2^-6: exponent field <= 120; |x| * 2^9 = significand >> (141 - exponent field).
  const shift = 141 - (abs >>> 23);
  if (shift > 24) return sign; // below 2^-10 (half the smallest subnormal, a tie at 2^-10 itself): zero
  const sig = (abs & 0x7fffff) | 0x800000;
  return sign | ((sig + (1 << (shift - 1)) - 1 + ((sig >> shift) & 1)) >> shift);
}

/**
 * Saturating E4M3 code of the float32 pattern `b` through the table (same result as the reference
 * encoder, bit for bit). The kernels inline this; it is exported for the tests. @internal
 */
export function e4m3FastBits(b: number): number {
  const c = e4m3Table()[b >>> 16]!;
  return c === E4M3_AMBIGUOUS ? e4m3SlowBits(b) : c;
}
