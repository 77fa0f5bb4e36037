/**
 * Independent oracles for the format tests: literal ports of c10's (PyTorch's) conversion routines
 * (`c10/util/Float8_e4m3fn.h`, `Float8_e5m2.h`, `BFloat16.h`), float32 arithmetic via Math.fround.
 */
const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);
const bitsOf = (x: number) => ((f[0] = x), u[0]!);
const fromBits = (b: number) => ((u[0] = b >>> 0), f[0]!);

/** c10 fp8e4m3fn_from_fp32_value (PyTorch's cast, NaN on overflow). */
export function c10E4M3(x: number): number {
  const fp8Max = 1087 << 20;
  const denormMask = 141 << 23;
  let fBits = bitsOf(x);
  const sign = fBits & 0x80000000;
  fBits = (fBits ^ sign) >>> 0;
  let result: number;
  if (fBits >= fp8Max) result = 0x7f;
  else if (fBits < 121 << 23) {
    fBits = bitsOf(Math.fround(fromBits(fBits) + fromBits(denormMask)));
    result = (fBits - denormMask) & 0xff;
  } else {
    const mantOdd = (fBits >>> 20) & 1;
    fBits = (fBits + ((7 - 127) << 23) + 0x7ffff + mantOdd) >>> 0;
    result = (fBits >>> 20) & 0xff;
  }
  return result | (sign >>> 24);
}

/** c10 fp8e5m2_from_fp32_value (PyTorch's cast, Inf on overflow). */
export function c10E5M2(x: number): number {
  const fp32Inf = 255 << 23;
  const fp8Max = 143 << 23;
  const denormMask = 134 << 23;
  let fBits = bitsOf(x);
  const sign = fBits & 0x80000000;
  fBits = (fBits ^ sign) >>> 0;
  let result: number;
  if (fBits >= fp8Max) result = fBits > fp32Inf ? 0x7f : 0x7c;
  else if (fBits < 113 << 23) {
    fBits = bitsOf(Math.fround(fromBits(fBits) + fromBits(denormMask)));
    result = (fBits - denormMask) & 0xff;
  } else {
    const mantOdd = (fBits >>> 21) & 1;
    fBits = (fBits + ((15 - 127) << 23) + 0xfffff + mantOdd) >>> 0;
    result = (fBits >>> 21) & 0xff;
  }
  return result | (sign >>> 24);
}

/** c10 round_to_nearest_even (float -> bfloat16 bits). */
export function c10BF16(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  const b = bitsOf(x);
  return ((b + (((b >>> 16) & 1) + 0x7fff)) >>> 16) & 0xffff;
}

/** float32 with the given bits. */
export const f32FromBits = fromBits;
/** bits of the float32 nearest to x. */
export const f32Bits = bitsOf;
