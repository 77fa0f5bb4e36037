/**
 * @module
 * DeepSeek's fine-grained FP8 (E4M3) quantization, in float32 arithmetic exactly as DeepGEMM's reference
 * (`per_token_cast_to_fp8` / `per_block_cast_to_fp8`): `amax = max(|x| over the group, 1e-4)`,
 * `q = e4m3(x * (448 / amax))`, `scale = amax / 448`, every step rounded to float32. With `ue8m0` the
 * scale is `amax / 448` rounded *up* to a power of two and `q = e4m3(x * (1 / scale))`, so quantized
 * values stay within +-448. Conversions saturate. Dequantized value: `decodeE4M3(q) * scale`.
 */
import { e4m3SlowBits, e4m3Table } from './e4m3-fast.js';
import { E4M3_VALUES } from './fp8-format.js';
import { checkInt, checkTypedArray } from '../validate.js';
import { checkMultiple, checkScales, failNonFinite } from './validate.js';

// Module-local aliases of the imports used in hot loops: some loaders (tsx, for the bench and the tests)
// compile imported bindings to getter calls, one per access. The table's E4M3_AMBIGUOUS marker is
// written as the literal 0xff in the loops, so it folds into the comparisons.
const slowE4M3 = e4m3SlowBits;
const DECODE = E4M3_VALUES;

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
// Float32 scratch read back through an int32 view: storing a product rounds it to float32 (Math.fround)
// and the view gives its bit pattern without a conversion. Slot QUANT_GROUP carries single values.
// Int32 (not Uint32) view: V8 keeps int32 values unboxed, uint32 values >= 2^31 become doubles.
const SCRATCH = new Float32Array(QUANT_GROUP + 1);
const SCRATCH_BITS = new Int32Array(SCRATCH.buffer);
const ONE = QUANT_GROUP;

/** Scale and multiplier for a group whose max |x| is `amax` (already floored). @internal */
export function scaleFor(amax: number, ue8m0: boolean): { scale: number; factor: number } {
  if (!ue8m0) return { scale: Math.fround(amax / MAX), factor: Math.fround(MAX / amax) };
  const scale = ceilPow2(Math.fround(amax / MAX));
  return { scale, factor: 1 / scale };
}

/** Smallest power of two >= the positive normal float32 `v` (exact, from the bits). @internal */
export function ceilPow2(v: number): number {
  SCRATCH[ONE] = v;
  const bits = SCRATCH_BITS[ONE]!;
  const exp = ((bits >>> 23) & 0xff) - 127;
  return (bits & 0x7fffff) === 0 ? 2 ** exp : 2 ** (exp + 1);
}

/** The float32 value of the bit pattern `b`. */
function f32Of(b: number): number {
  SCRATCH_BITS[ONE] = b;
  return SCRATCH[ONE]!;
}

/**
 * Encode `len` (<= 128) contiguous elements `src[off + i] * factor` (float32 products) to saturating
 * E4M3 at `dst[dOff + i]`: the products go through the float32 scratch, their bit patterns through the
 * table of `e4m3-fast.ts` (exact fallback for the ambiguous buckets).
 */
function encodeRun(src: Float32Array, off: number, len: number, factor: number, dst: Uint8Array, dOff: number): void {
  const f = SCRATCH, fb = SCRATCH_BITS, tab = e4m3Table();
  for (let i = 0; i < len; i++) f[i] = src[off + i]! * factor;
  for (let i = 0; i < len; i++) {
    const b = fb[i]!;
    const c = tab[b >>> 16]!;
    dst[dOff + i] = c === 0xff ? slowE4M3(b) : c;
  }
}

/**
 * max(|x|) bit pattern over `len` contiguous elements from `off`: the max of the int32 patterns with the
 * sign cleared (same order as the magnitudes). At or above 0x7f800000 means an Inf or NaN was seen.
 */
function maxAbsBits(bits: Int32Array, off: number, len: number): number {
  let m0 = 0, m1 = 0, m2 = 0, m3 = 0;
  const end4 = off + (len & ~3), end = off + len;
  let i = off;
  for (; i < end4; i += 4) {
    m0 = Math.max(m0, bits[i]! & 0x7fffffff);
    m1 = Math.max(m1, bits[i + 1]! & 0x7fffffff);
    m2 = Math.max(m2, bits[i + 2]! & 0x7fffffff);
    m3 = Math.max(m3, bits[i + 3]! & 0x7fffffff);
  }
  for (; i < end; i++) m0 = Math.max(m0, bits[i]! & 0x7fffffff);
  return Math.max(Math.max(m0, m1), Math.max(m2, m3));
}

function int32View(x: Float32Array): Int32Array {
  return new Int32Array(x.buffer, x.byteOffset, x.length);
}

/** Encode the scratch's 128 float32 patterns to `q[off..]`, one byte store each. */
function encodeScratch(tab: Uint8Array, q: Uint8Array, off: number): void {
  const fb = SCRATCH_BITS;
  for (let i = 0; i < QUANT_GROUP; i++) {
    const b = fb[i]!;
    const c = tab[b >>> 16]!;
    q[off + i] = c === 0xff ? slowE4M3(b) : c;
  }
}

/** Whether four bytes can be stored as one little-endian int32 (code i in the low byte). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The hot loop of {@link quantizePerTile}, kept apart so V8 optimizes it whole (no allocation, no throw,
 * no calls except the rare exact fallback). Per tile: the float32 products `x * factor` go into the
 * scratch (unrolled by 8) while the same loop takes the amax of the *next* tile on the int32 bit patterns
 * (sign cleared: same order as the magnitudes); then the products' patterns are encoded through the
 * table, four codes per int32 store when `q` is 4-byte aligned.
 * @returns the first tile holding an Inf or NaN (nothing written from it on), or -1.
 */
function tileKernel(x: Float32Array, bits: Int32Array, tiles: number, ue8m0: boolean, q: Uint8Array, scales: Float32Array, tab: Uint8Array): number {
  const f = SCRATCH, fb = SCRATCH_BITS;
  const q32 = LITTLE_ENDIAN && q.byteOffset % 4 === 0 ? new Int32Array(q.buffer, q.byteOffset, q.length >> 2) : null;
  let m0 = 0, m1 = 0, m2 = 0, m3 = 0;
  for (let i = 0; i < QUANT_GROUP; i += 4) {
    m0 = Math.max(m0, bits[i]! & 0x7fffffff);
    m1 = Math.max(m1, bits[i + 1]! & 0x7fffffff);
    m2 = Math.max(m2, bits[i + 2]! & 0x7fffffff);
    m3 = Math.max(m3, bits[i + 3]! & 0x7fffffff);
  }
  for (let t = 0, off = 0; t < tiles; t++, off += QUANT_GROUP) {
    const mb = Math.max(Math.max(m0, m1), Math.max(m2, m3));
    if (mb >= 0x7f800000) return t;
    fb[ONE] = mb;
    const amax = Math.max(f[ONE]!, AMAX_FLOOR);
    let factor: number;
    if (ue8m0) {
      const scale = ceilPow2(Math.fround(amax / MAX));
      scales[t] = scale;
      factor = 1 / scale;
    } else {
      scales[t] = amax / MAX;
      factor = Math.fround(MAX / amax);
    }
    // The last tile has no next one: it takes its own amax again (unused).
    const next = t + 1 < tiles ? off + QUANT_GROUP : off;
    m0 = 0; m1 = 0; m2 = 0; m3 = 0;
    for (let i = 0; i < QUANT_GROUP; i += 8) {
      const s = off + i, k = next + i;
      f[i] = x[s]! * factor;
      f[i + 1] = x[s + 1]! * factor;
      f[i + 2] = x[s + 2]! * factor;
      f[i + 3] = x[s + 3]! * factor;
      f[i + 4] = x[s + 4]! * factor;
      f[i + 5] = x[s + 5]! * factor;
      f[i + 6] = x[s + 6]! * factor;
      f[i + 7] = x[s + 7]! * factor;
      m0 = Math.max(m0, bits[k]! & 0x7fffffff, bits[k + 4]! & 0x7fffffff);
      m1 = Math.max(m1, bits[k + 1]! & 0x7fffffff, bits[k + 5]! & 0x7fffffff);
      m2 = Math.max(m2, bits[k + 2]! & 0x7fffffff, bits[k + 6]! & 0x7fffffff);
      m3 = Math.max(m3, bits[k + 3]! & 0x7fffffff, bits[k + 7]! & 0x7fffffff);
    }
    if (q32 !== null) {
      for (let i = 0, w = off >> 2; i < QUANT_GROUP; i += 4, w++) {
        const b0 = fb[i]!, b1 = fb[i + 1]!, b2 = fb[i + 2]!, b3 = fb[i + 3]!;
        let c0 = tab[b0 >>> 16]!, c1 = tab[b1 >>> 16]!, c2 = tab[b2 >>> 16]!, c3 = tab[b3 >>> 16]!;
        if (c0 === 0xff) c0 = slowE4M3(b0);
        if (c1 === 0xff) c1 = slowE4M3(b1);
        if (c2 === 0xff) c2 = slowE4M3(b2);
        if (c3 === 0xff) c3 = slowE4M3(b3);
        q32[w] = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
      }
    } else encodeScratch(tab, q, off);
  }
  return -1;
}

/**
 * Quantize activations per 1x128 tile (one row, 128 columns). `n` must be a multiple of 128.
 * `opts.out` reuses preallocated outputs (fresh memory costs page faults on every call).
 * @returns `q` (m x n E4M3) and `scales` laid out `[m][n / 128]`.
 * @throws ExpertmeshError `E_ARGUMENT` for bad shapes, `E_NUMERIC` for NaN or infinite inputs.
 * @example const { q, scales } = quantizePerTile(new Float32Array(256).fill(1), 1, 256); // scales = [1/448, 1/448]
 */
export function quantizePerTile(x: Float32Array, m: number, n: number, opts?: QuantizeOptions & { out?: Quantized }): Quantized {
  checkInt(m, 'm', 1);
  checkInt(n, 'n', 1);
  checkMultiple('n', n, QUANT_GROUP);
  checkTypedArray(x, 'x', Float32Array, m * n);
  const ue8m0 = opts?.ue8m0 === true;
  const tiles = (m * n) / QUANT_GROUP;
  const q = opts?.out ? checkTypedArray(opts.out.q, 'out.q', Uint8Array, m * n) : new Uint8Array(m * n);
  const scales = opts?.out ? checkTypedArray(opts.out.scales, 'out.scales', Float32Array, tiles) : new Float32Array(tiles);
  const bad = tileKernel(x, int32View(x), tiles, ue8m0, q, scales, e4m3Table());
  if (bad >= 0) failNonFinite('x', x, bad * QUANT_GROUP, (bad + 1) * QUANT_GROUP);
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
  checkInt(m, 'm', 1);
  checkInt(n, 'n', 1);
  checkTypedArray(w, 'w', Float32Array, m * n);
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
      let mb = 0;
      for (let r = r0; r < r1; r++) {
        const rb = maxAbsBits(bits, r * n + c0, len);
        if (rb >= 0x7f800000) failNonFinite('w', w, r * n + c0, r * n + c0 + len);
        mb = Math.max(mb, rb);
      }
      const { scale, factor } = scaleFor(Math.max(f32Of(mb), AMAX_FLOOR), ue8m0);
      scales[bi * bn + bj] = scale;
      for (let r = r0; r < r1; r++) encodeRun(w, r * n + c0, len, factor, q, r * n + c0);
    }
  }
  return { q, scales };
}

/**
 * Dequantize 1x128 tiles: `x[i][j] = decodeE4M3(q[i][j]) * scales[i][j / 128]` in float32.
 * @example dequantizePerTile(quantizePerTile(x, m, n).q, quantizePerTile(x, m, n).scales, m, n)
 */
export function dequantizePerTile(q: Uint8Array, scales: Float32Array, m: number, n: number): Float32Array {
  checkInt(m, 'm', 1);
  checkInt(n, 'n', 1);
  checkMultiple('n', n, QUANT_GROUP);
  checkTypedArray(q, 'q', Uint8Array, m * n);
  checkTypedArray(scales, 'scales', Float32Array, (m * n) / QUANT_GROUP);
  checkScales('scales', scales);
  const x = new Float32Array(m * n);
  for (let t = 0, off = 0; off < x.length; t++, off += QUANT_GROUP) {
    const s = scales[t]!;
    for (let i = off; i < off + QUANT_GROUP; i++) x[i] = DECODE[q[i]!]! * s;
  }
  return x;
}

/**
 * Dequantize 128x128 blocks: `w[i][j] = decodeE4M3(q[i][j]) * scales[i / 128][j / 128]` in float32.
 * @example const b = quantizePerBlock(w, m, n); dequantizePerBlock(b.q, b.scales, m, n)
 */
export function dequantizePerBlock(q: Uint8Array, scales: Float32Array, m: number, n: number): Float32Array {
  checkInt(m, 'm', 1);
  checkInt(n, 'n', 1);
  const bn = Math.ceil(n / QUANT_GROUP);
  checkTypedArray(q, 'q', Uint8Array, m * n);
  checkTypedArray(scales, 'scales', Float32Array, Math.ceil(m / QUANT_GROUP) * bn);
  checkScales('scales', scales);
  const w = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const srow = ((i / QUANT_GROUP) | 0) * bn;
    for (let j = 0; j < n; j++) w[i * n + j] = DECODE[q[i * n + j]!]! * scales[srow + ((j / QUANT_GROUP) | 0)]!;
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
  const colMax = new Int32Array(n);
  const factors = new Float32Array(n);
  const row = new Float32Array(n);
  const rowBits = new Int32Array(row.buffer);
  const tab = e4m3Table();
  for (let g = 0; g < groups; g++) {
    const r0 = g * QUANT_GROUP;
    const r1 = Math.min(m, r0 + QUANT_GROUP);
    // Column maxima of |x| over the row group, sweeping rows (contiguous) rather than columns.
    colMax.fill(0);
    for (let r = r0; r < r1; r++)
      for (let j = 0, o = r * n; j < n; j++, o++) colMax[j] = Math.max(colMax[j]!, bits[o]! & 0x7fffffff);
    for (let j = 0; j < n; j++) {
      if (colMax[j]! >= 0x7f800000) failNonFinite('q', x, r0 * n, r1 * n);
      const { scale, factor } = scaleFor(Math.max(f32Of(colMax[j]!), AMAX_FLOOR), ue8m0);
      outScales[g * n + j] = scale;
      factors[j] = factor;
    }
    // Encode row by row (contiguous) with each column's factor.
    for (let r = r0; r < r1; r++) {
      const o = r * n;
      for (let j = 0; j < n; j++) row[j] = x[o + j]! * factors[j]!;
      for (let j = 0; j < n; j++) {
        const b = rowBits[j]!;
        const c = tab[b >>> 16]!;
        outQ[o + j] = c === 0xff ? slowE4M3(b) : c;
      }
    }
  }
  return { q: outQ, scales: outScales };
}
