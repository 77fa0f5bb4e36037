/**
 * @module
 * Bit-exact FP8 conversions: E4M3 (`float8_e4m3fn`: bias 7, max 448, no infinities, NaN = S.1111.111) and
 * E5M2 (`float8_e5m2`: bias 15, max 57344, IEEE-style infinities and NaNs).
 *
 * Encoding first rounds its input to float32 (as PyTorch does when a float64 is cast to an FP8 dtype),
 * then rounds to nearest, ties to even, on the FP8 grid: subnormals and signed zero included. This is
 * the algorithm of c10's `fp8e4m3fn_from_fp32_value` / `fp8e5m2_from_fp32_value`, so every input gives
 * the same byte as PyTorch's cast. Only out-of-range inputs (and +-Inf) differ by option:
 * `'saturate'` (default, as the quantization kernels' saturating conversions) gives the largest finite
 * value with the input's sign; `'pytorch'` gives NaN for E4M3 and Inf for E5M2. NaN stays NaN.
 */
import { checkNumeric, checkObject, checkOneOf, checkTypedArray } from '../validate.js';

/** What an FP8 encoder does with finite values beyond the format's range and with +-Inf. */
export type Fp8Overflow = 'saturate' | 'pytorch';

/** Options of the FP8 encoders. */
export interface Fp8EncodeOptions {
  /** `'saturate'` (default): clamp to +-max finite; `'pytorch'`: E4M3 -> NaN, E5M2 -> +-Inf. */
  overflow?: Fp8Overflow;
}

/** Static description of one FP8 format. */
export interface Fp8Format {
  /** `'e4m3'` or `'e5m2'`. */
  readonly name: 'e4m3' | 'e5m2';
  /** Mantissa bits. */
  readonly mantissaBits: number;
  /** Exponent bias. */
  readonly bias: number;
  /** Largest finite value. */
  readonly max: number;
  /** Code (sign bit clear) of the largest finite value. */
  readonly maxCode: number;
  /** Code (sign bit clear) produced for NaN. */
  readonly nanCode: number;
  /** Code (sign bit clear) produced on overflow in `'pytorch'` mode. */
  readonly pytorchOverflowCode: number;
}

/** The E4M3 (`float8_e4m3fn`) format. */
export const E4M3: Fp8Format = Object.freeze({ name: 'e4m3', mantissaBits: 3, bias: 7, max: 448, maxCode: 0x7e, nanCode: 0x7f, pytorchOverflowCode: 0x7f });
/** The E5M2 (`float8_e5m2`) format. */
export const E5M2: Fp8Format = Object.freeze({ name: 'e5m2', mantissaBits: 2, bias: 15, max: 57344, maxCode: 0x7b, nanCode: 0x7f, pytorchOverflowCode: 0x7c });

function decodeTable(fmt: Fp8Format): Float32Array {
  const t = new Float32Array(256);
  const M = fmt.mantissaBits;
  const expMax = (1 << (7 - M)) - 1;
  for (let c = 0; c < 256; c++) {
    const sign = c & 0x80 ? -1 : 1;
    const e = (c >> M) & expMax;
    const m = c & ((1 << M) - 1);
    let v: number;
    if (fmt.name === 'e4m3' && (c & 0x7f) === 0x7f) v = NaN;
    else if (fmt.name === 'e5m2' && e === expMax) v = m === 0 ? Infinity : NaN;
    else if (e === 0) v = m * 2 ** (1 - fmt.bias - M);
    else v = (1 + m / (1 << M)) * 2 ** (e - fmt.bias);
    t[c] = sign * v;
  }
  return t;
}

/** Decoded value of every E4M3 code (index = byte). Exact in float32. */
export const E4M3_VALUES: Float32Array = decodeTable(E4M3);
/** Decoded value of every E5M2 code (index = byte). Exact in float32. */
export const E5M2_VALUES: Float32Array = decodeTable(E5M2);

/**
 * Encode the float32 bit pattern `bits` (a uint32) to an FP8 byte. The core of every encoder.
 * @internal
 */
export function encodeFp8Bits(bits: number, fmt: Fp8Format, saturate: boolean): number {
  const sign = (bits >>> 24) & 0x80;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | fmt.nanCode;
  const M = fmt.mantissaBits;
  const shift = 23 - M;
  let code: number;
  if (abs < (128 - fmt.bias) << 23) {
    // Below the smallest normal: round |x| / 2^(1 - bias - M) to an integer, ties to even. The scaling
    // by a power of two and the float64 arithmetic are exact for float32 inputs.
    U32[0] = abs;
    const y = F32[0]! * 2 ** (fmt.bias - 1 + M);
    const r = Math.floor(y);
    const d = y - r;
    code = d > 0.5 || (d === 0.5 && (r & 1) === 1) ? r + 1 : r;
  } else {
    // Re-bias the exponent and round the mantissa to nearest even in one integer addition (c10's trick).
    const odd = (abs >>> shift) & 1;
    code = (abs + ((fmt.bias - 127) << 23) + ((1 << (shift - 1)) - 1) + odd) >>> shift;
  }
  if (code > fmt.maxCode) return sign | (saturate ? fmt.maxCode : fmt.pytorchOverflowCode);
  return sign | code;
}

const SCRATCH = new ArrayBuffer(4);
const F32 = new Float32Array(SCRATCH);
const U32 = new Uint32Array(SCRATCH);

/** Whether `opts` asks for saturation (the default); checks the options. */
function saturates(opts: Fp8EncodeOptions | undefined): boolean {
  if (opts === undefined) return true;
  checkObject(opts, 'opts');
  return checkOneOf(opts.overflow ?? 'saturate', 'opts.overflow', ['saturate', 'pytorch'] as const) === 'saturate';
}

function scalarEncode(x: number, fmt: Fp8Format, opts?: Fp8EncodeOptions): number {
  F32[0] = checkNumeric(x, fmt === E4M3 ? 'encodeE4M3: x' : 'encodeE5M2: x');
  return encodeFp8Bits(U32[0]!, fmt, saturates(opts));
}

/**
 * Encode a number to an E4M3 byte (round to float32, then nearest-even on the E4M3 grid).
 * @example encodeE4M3(1.0) === 0x38; encodeE4M3(1000) === 0x7e; encodeE4M3(1000, { overflow: 'pytorch' }) === 0x7f
 */
export function encodeE4M3(x: number, opts?: Fp8EncodeOptions): number {
  return scalarEncode(x, E4M3, opts);
}

/** Decode an E4M3 byte (only the low 8 bits are used). @example decodeE4M3(0x38) === 1 */
export function decodeE4M3(byte: number): number {
  return E4M3_VALUES[checkNumeric(byte, 'decodeE4M3: byte') & 0xff]!;
}

/**
 * Encode a number to an E5M2 byte (round to float32, then nearest-even on the E5M2 grid).
 * @example encodeE5M2(1.0) === 0x3c; encodeE5M2(Infinity) === 0x7b; encodeE5M2(Infinity, { overflow: 'pytorch' }) === 0x7c
 */
export function encodeE5M2(x: number, opts?: Fp8EncodeOptions): number {
  return scalarEncode(x, E5M2, opts);
}

/** Decode an E5M2 byte (only the low 8 bits are used). @example decodeE5M2(0x3c) === 1 */
export function decodeE5M2(byte: number): number {
  return E5M2_VALUES[checkNumeric(byte, 'decodeE5M2: byte') & 0xff]!;
}

function arrayEncode(name: string, x: Float32Array, fmt: Fp8Format, out: Uint8Array | undefined, opts?: Fp8EncodeOptions): Uint8Array {
  checkTypedArray(x, name, Float32Array);
  const dst = out === undefined ? new Uint8Array(x.length) : checkTypedArray(out, 'out', Uint8Array, x.length);
  // Read the float32 bit patterns directly: keeps NaN signs and avoids a float conversion per element.
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const sat = saturates(opts);
  for (let i = 0; i < bits.length; i++) dst[i] = encodeFp8Bits(bits[i]!, fmt, sat);
  return dst;
}

function arrayDecode(name: string, q: Uint8Array, table: Float32Array, out?: Float32Array): Float32Array {
  checkTypedArray(q, name, Uint8Array);
  const dst = out === undefined ? new Float32Array(q.length) : checkTypedArray(out, 'out', Float32Array, q.length);
  for (let i = 0; i < q.length; i++) dst[i] = table[q[i]!]!;
  return dst;
}

/** Encode a whole Float32Array to E4M3 bytes (into `out` if given). @example encodeE4M3Array(new Float32Array([1, -2])) */
export function encodeE4M3Array(x: Float32Array, opts?: Fp8EncodeOptions & { out?: Uint8Array }): Uint8Array {
  return arrayEncode('x', x, E4M3, opts === undefined ? undefined : checkObject(opts, 'opts')['out'] as Uint8Array | undefined, opts);
}

/** Decode E4M3 bytes to a Float32Array (into `out` if given). @example decodeE4M3Array(new Uint8Array([0x38])) */
export function decodeE4M3Array(q: Uint8Array, out?: Float32Array): Float32Array {
  return arrayDecode('q', q, E4M3_VALUES, out);
}

/** Encode a whole Float32Array to E5M2 bytes (into `out` if given). @example encodeE5M2Array(new Float32Array([1, -2])) */
export function encodeE5M2Array(x: Float32Array, opts?: Fp8EncodeOptions & { out?: Uint8Array }): Uint8Array {
  return arrayEncode('x', x, E5M2, opts === undefined ? undefined : checkObject(opts, 'opts')['out'] as Uint8Array | undefined, opts);
}

/** Decode E5M2 bytes to a Float32Array (into `out` if given). @example decodeE5M2Array(new Uint8Array([0x3c])) */
export function decodeE5M2Array(q: Uint8Array, out?: Float32Array): Float32Array {
  return arrayDecode('q', q, E5M2_VALUES, out);
}
