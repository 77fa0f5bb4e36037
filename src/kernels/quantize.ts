/**
 * @module
 * DeepSeek's fine-grained FP8 (E4M3) quantization, in float32 arithmetic exactly as DeepGEMM's reference
 * (`per_token_cast_to_fp8` / `per_block_cast_to_fp8`): `amax = max(|x| over the group, 1e-4)`,
 * `q = e4m3(x * (448 / amax))`, `scale = amax / 448`, every step rounded to float32. With `ue8m0` the
 * scale is `amax / 448` rounded *up* to a power of two and `q = e4m3(x * (1 / scale))`, so quantized
 * values stay within +-448. Conversions saturate. Dequantized value: `decodeE4M3(q) * scale`.
 */
import { E4M3, E4M3_VALUES, encodeFp8Bits } from './fp8-format.js';
import { checkArray, checkDim, checkMultiple, checkScales, failNonFinite } from './validate.js';

/** Width of a tile and side of a block. */
export const QUANT_GROUP = 128;

/** Options of the quantization kernels. */
export interface QuantizeOptions {
  /** Power-of-two scales (UE8M0: exponent only), rounded up so values stay in range. Default false. */
  ue8m0?: boolean;
}

/** FP8 bytes and their float32 scales. */
export interface Quantized {
  /** E4M3 codes, row-major, same shape as the input. */
  q: Uint8Array;
  /** One scale per group; layout given by the producing function. */
  scales: Float32Array;
}

const AMAX_FLOOR = Math.fround(1e-4);
const MAX = 448;
const SCRATCH = new Float32Array(QUANT_GROUP);
// Int32 (not Uint32) view: V8 keeps int32 values unboxed, uint32 values >= 2^31 become doubles.
const SCRATCH_BITS = new Int32Array(SCRATCH.buffer);

/** Scale and multiplier for a group whose max |x| is `amax` (already floored). @internal */
export function scaleFor(amax: number, ue8m0: boolean): { scale: number; factor: number } {
  if (!ue8m0) return { scale: Math.fround(amax / MAX), factor: Math.fround(MAX / amax) };
  const scale = ceilPow2(Math.fround(amax / MAX));
  return { scale, factor: 1 / scale };
}

/** Smallest power of two >= the positive normal float32 `v` (exact, from the bits). @internal */
export function ceilPow2(v: number): number {
  SCRATCH[0] = v;
  const bits = SCRATCH_BITS[0]!;
  const exp = ((bits >>> 23) & 0xff) - 127;
  return (bits & 0x7fffff) === 0 ? 2 ** exp : 2 ** (exp + 1);
}

/** Saturating E4M3 code of float32 bits: c10's integer rounding inline for the normal range. */
function e4m3(b: number): number {
  const abs = b & 0x7fffffff;
  return abs >= 0x3c800000 && abs < 0x43e80000
    ? ((b >> 24) & 0x80) | ((abs - 0x3c000000 + 0x7ffff + ((abs >> 20) & 1)) >> 20)
    : encodeFp8Bits(b >>> 0, E4M3, true);
}

/**
 * Encode `len` elements `src[off + i*stride] * factor` (float32 products) to saturating E4M3 at
 * `dst[dOff + i]`. The products go through a float32 scratch so their bits are read without a
 * conversion; full contiguous tiles take an unrolled path (the hot loop of per-tile quantization).
 */
function encodeRun(src: Float32Array, off: number, stride: number, len: number, factor: number, dst: Uint8Array, dOff: number): void {
  if (stride === 1 && len === QUANT_GROUP) {
    for (let i = 0; i < QUANT_GROUP; i += 8) {
      const s = off + i, d = dOff + i;
      SCRATCH[0] = src[s]! * factor; SCRATCH[1] = src[s + 1]! * factor; SCRATCH[2] = src[s + 2]! * factor; SCRATCH[3] = src[s + 3]! * factor;
      SCRATCH[4] = src[s + 4]! * factor; SCRATCH[5] = src[s + 5]! * factor; SCRATCH[6] = src[s + 6]! * factor; SCRATCH[7] = src[s + 7]! * factor;
      dst[d] = e4m3(SCRATCH_BITS[0]!); dst[d + 1] = e4m3(SCRATCH_BITS[1]!); dst[d + 2] = e4m3(SCRATCH_BITS[2]!); dst[d + 3] = e4m3(SCRATCH_BITS[3]!);
      dst[d + 4] = e4m3(SCRATCH_BITS[4]!); dst[d + 5] = e4m3(SCRATCH_BITS[5]!); dst[d + 6] = e4m3(SCRATCH_BITS[6]!); dst[d + 7] = e4m3(SCRATCH_BITS[7]!);
    }
    return;
  }
  for (let i = 0; i < len; i++) {
    SCRATCH[0] = src[off + i * stride]! * factor;
    dst[dOff + i] = e4m3(SCRATCH_BITS[0]!);
  }
}

/**
 * max(|x|) over `len` elements from `off` with `stride`, at least `current`; fails on NaN/Inf. The max
 * is taken on the int32 bit patterns with the sign cleared (same order as the magnitudes); anything at
 * or above 0x7f800000 is Inf or NaN.
 */
function amaxRun(name: string, x: Float32Array, bits: Int32Array, off: number, stride: number, len: number, current: number): number {
  let mb = 0;
  for (let i = 0; i < len; i++) {
    const b = bits[off + i * stride]! & 0x7fffffff;
    if (b > mb) mb = b;
  }
  if (mb >= 0x7f800000) failNonFinite(name, x, off, off + (len - 1) * stride + 1);
  SCRATCH_BITS[0] = mb;
  return Math.max(SCRATCH[0]!, current);
}

function int32View(x: Float32Array): Int32Array {
  return new Int32Array(x.buffer, x.byteOffset, x.length);
}

/**
 * Quantize activations per 1x128 tile (one row, 128 columns). `n` must be a multiple of 128.
 * `opts.out` reuses preallocated outputs (fresh memory costs page faults on every call).
 * @returns `q` (m x n E4M3) and `scales` laid out `[m][n / 128]`.
 * @throws ExpertmeshError `E_ARGUMENT` for bad shapes, `E_NUMERIC` for NaN or infinite inputs.
 * @example const { q, scales } = quantizePerTile(new Float32Array(256).fill(1), 1, 256); // scales = [1/448, 1/448]
 */
export function quantizePerTile(x: Float32Array, m: number, n: number, opts?: QuantizeOptions & { out?: Quantized }): Quantized {
  checkDim('m', m);
  checkDim('n', n);
  checkMultiple('n', n, QUANT_GROUP);
  checkArray('x', x, Float32Array, m * n);
  const ue8m0 = opts?.ue8m0 === true;
  const tiles = (m * n) / QUANT_GROUP;
  const q = opts?.out ? checkArray('out.q', opts.out.q, Uint8Array, m * n) : new Uint8Array(m * n);
  const scales = opts?.out ? checkArray('out.scales', opts.out.scales, Float32Array, tiles) : new Float32Array(tiles);
  const bits = int32View(x);
  for (let t = 0; t < tiles; t++) {
    const off = t * QUANT_GROUP;
    const amax = amaxRun('x', x, bits, off, 1, QUANT_GROUP, AMAX_FLOOR);
    let factor: number;
    if (ue8m0) {
      const scale = ceilPow2(Math.fround(amax / MAX));
      scales[t] = scale;
      factor = 1 / scale;
    } else {
      scales[t] = amax / MAX;
      factor = Math.fround(MAX / amax);
    }
    encodeRun(x, off, 1, QUANT_GROUP, factor, q, off);
  }
  return { q, scales };
}

/**
 * Quantize weights per 128x128 block. Shapes need not be multiples of 128: the ragged edge blocks are
 * treated as zero-padded (which only affects their amax floor).
 * @returns `q` (m x n E4M3) and `scales` laid out `[ceil(m / 128)][ceil(n / 128)]`.
 * @throws ExpertmeshError `E_ARGUMENT` for bad shapes, `E_NUMERIC` for NaN or infinite inputs.
 * @example const { scales } = quantizePerBlock(new Float32Array(200 * 300).fill(2), 200, 300); // 2 x 3 scales
 */
export function quantizePerBlock(w: Float32Array, m: number, n: number, opts?: QuantizeOptions): Quantized {
  checkDim('m', m);
  checkDim('n', n);
  checkArray('w', w, Float32Array, m * n);
  const ue8m0 = opts?.ue8m0 === true;
  const bm = Math.ceil(m / QUANT_GROUP);
  const bn = Math.ceil(n / QUANT_GROUP);
  const bits = int32View(w);
  const q = new Uint8Array(m * n);
  const scales = new Float32Array(bm * bn);
  for (let bi = 0; bi < bm; bi++) {
    const r0 = bi * QUANT_GROUP;
    const r1 = Math.min(m, r0 + QUANT_GROUP);
    for (let bj = 0; bj < bn; bj++) {
      const c0 = bj * QUANT_GROUP;
      const len = Math.min(n, c0 + QUANT_GROUP) - c0;
      let amax = AMAX_FLOOR;
      for (let r = r0; r < r1; r++) amax = amaxRun('w', w, bits, r * n + c0, 1, len, amax);
      const { scale, factor } = scaleFor(amax, ue8m0);
      scales[bi * bn + bj] = scale;
      for (let r = r0; r < r1; r++) encodeRun(w, r * n + c0, 1, len, factor, q, r * n + c0);
    }
  }
  return { q, scales };
}

/**
 * Dequantize 1x128 tiles: `x[i][j] = decodeE4M3(q[i][j]) * scales[i][j / 128]` in float32.
 * @example dequantizePerTile(quantizePerTile(x, m, n).q, quantizePerTile(x, m, n).scales, m, n)
 */
export function dequantizePerTile(q: Uint8Array, scales: Float32Array, m: number, n: number): Float32Array {
  checkDim('m', m);
  checkDim('n', n);
  checkMultiple('n', n, QUANT_GROUP);
  checkArray('q', q, Uint8Array, m * n);
  checkArray('scales', scales, Float32Array, (m * n) / QUANT_GROUP);
  checkScales('scales', scales);
  const x = new Float32Array(m * n);
  for (let i = 0; i < x.length; i++) x[i] = E4M3_VALUES[q[i]!]! * scales[(i / QUANT_GROUP) | 0]!;
  return x;
}

/**
 * Dequantize 128x128 blocks: `w[i][j] = decodeE4M3(q[i][j]) * scales[i / 128][j / 128]` in float32.
 * @example const b = quantizePerBlock(w, m, n); dequantizePerBlock(b.q, b.scales, m, n)
 */
export function dequantizePerBlock(q: Uint8Array, scales: Float32Array, m: number, n: number): Float32Array {
  checkDim('m', m);
  checkDim('n', n);
  const bn = Math.ceil(n / QUANT_GROUP);
  checkArray('q', q, Uint8Array, m * n);
  checkArray('scales', scales, Float32Array, Math.ceil(m / QUANT_GROUP) * bn);
  checkScales('scales', scales);
  const w = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const srow = ((i / QUANT_GROUP) | 0) * bn;
    for (let j = 0; j < n; j++) w[i * n + j] = E4M3_VALUES[q[i * n + j]!]! * scales[srow + ((j / QUANT_GROUP) | 0)]!;
  }
  return w;
}

/**
 * Convert 1x128 tile quantization to 128x1 (for the backward pass): dequantize, then re-quantize over
 * 128 rows of each column (the last row group may be shorter).
 * @returns `q` (m x n E4M3, row-major) and `scales` laid out `[ceil(m / 128)][n]`.
 * @example const t = quantizePerTile(x, m, n); const c = tileToColumnQuant(t.q, t.scales, m, n);
 */
export function tileToColumnQuant(q: Uint8Array, scales: Float32Array, m: number, n: number, opts?: QuantizeOptions): Quantized {
  const x = dequantizePerTile(q, scales, m, n);
  const bits = int32View(x);
  const ue8m0 = opts?.ue8m0 === true;
  const groups = Math.ceil(m / QUANT_GROUP);
  const outQ = new Uint8Array(m * n);
  const outScales = new Float32Array(groups * n);
  const factors = new Float32Array(n);
  const row = new Float32Array(QUANT_GROUP);
  for (let g = 0; g < groups; g++) {
    const r0 = g * QUANT_GROUP;
    const rows = Math.min(m, r0 + QUANT_GROUP) - r0;
    for (let j = 0; j < n; j++) {
      const { scale, factor } = scaleFor(amaxRun('q', x, bits, r0 * n + j, n, rows, AMAX_FLOOR), ue8m0);
      outScales[g * n + j] = scale;
      factors[j] = factor;
    }
    // Encode row by row (contiguous) with each column's factor.
    for (let r = r0; r < r0 + rows; r++)
      for (let c0 = 0; c0 < n; c0 += QUANT_GROUP) {
        for (let i = 0; i < QUANT_GROUP; i++) row[i] = x[r * n + c0 + i]! * factors[c0 + i]!;
        encodeRun(row, 0, 1, QUANT_GROUP, 1, outQ, r * n + c0);
      }
  }
  return { q: outQ, scales: outScales };
}
