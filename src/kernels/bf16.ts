/**
 * @module
 * BF16 conversions bit-identical to PyTorch's `bfloat16` cast (c10 `round_to_nearest_even`): the input is
 * rounded to float32, then to the upper 16 bits with ties to even; overflow goes to +-Inf; every NaN
 * becomes the canonical `0x7fc0`.
 */
import { checkNumeric, checkTypedArray } from '../validate.js';

const SCRATCH = new ArrayBuffer(4);
const F32 = new Float32Array(SCRATCH);
const U32 = new Uint32Array(SCRATCH);

/** Round float32 bits (uint32) to BF16 bits, as c10 does. @internal */
export function bf16FromF32Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((u + (((u >>> 16) & 1) + 0x7fff)) >>> 16) & 0xffff;
}

/** BF16 bits (uint16) of `x`. @example toBF16Bits(1) === 0x3f80; toBF16Bits(NaN) === 0x7fc0 */
export function toBF16Bits(x: number): number {
  F32[0] = checkNumeric(x, 'toBF16Bits: x');
  return bf16FromF32Bits(U32[0]!);
}

/** The value of BF16 bits (only the low 16 bits are used). @example fromBF16Bits(0x3f80) === 1 */
export function fromBF16Bits(bits: number): number {
  U32[0] = (checkNumeric(bits, 'fromBF16Bits: bits') & 0xffff) << 16;
  return F32[0]!;
}

/** `x` rounded to the nearest BF16 value (ties to even), as a number. @example roundBF16(1.00390625) === 1 */
export function roundBF16(x: number): number {
  return fromBF16Bits(toBF16Bits(x));
}

/** BF16 bits of every element of a Float32Array (into `out` if given). @example toBF16Array(new Float32Array([1])) */
export function toBF16Array(x: Float32Array, out?: Uint16Array): Uint16Array {
  checkTypedArray(x, 'x', Float32Array);
  const dst = out === undefined ? new Uint16Array(x.length) : checkTypedArray(out, 'out', Uint16Array, x.length);
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < bits.length; i++) dst[i] = bf16FromF32Bits(bits[i]!);
  return dst;
}

/** Float32 values of BF16 bits (into `out` if given). @example fromBF16Array(new Uint16Array([0x3f80])) */
export function fromBF16Array(bits: Uint16Array, out?: Float32Array): Float32Array {
  checkTypedArray(bits, 'bits', Uint16Array);
  const dst = out === undefined ? new Float32Array(bits.length) : checkTypedArray(out, 'out', Float32Array, bits.length);
  const d32 = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < bits.length; i++) d32[i] = bits[i]! << 16;
  return dst;
}

/** Round every element of a Float32Array to BF16 in place (returns it). @example roundBF16Array(new Float32Array([1.00390625])) */
export function roundBF16Array(x: Float32Array): Float32Array {
  checkTypedArray(x, 'x', Float32Array);
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < u.length; i++) u[i] = bf16FromF32Bits(u[i]!) << 16;
  return x;
}
