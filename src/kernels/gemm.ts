/**
 * @module
 * `C = A · Bᵀ` GEMMs with DeepSeek's FP8 accumulation scheme.
 *
 * Both GEMMs share one blocked core: `k` is cut into promotion intervals (default 128 = one scale block);
 * within an interval each output's partial sum is exact-ish (float64 registers: a tensor core with an
 * ideal accumulator), scaled by `aScale * bScale` per 128-wide scale block, rounded to float32 and added
 * to the float32 accumulator ("promotion"). `fp8Gemm` decodes its E4M3 operands to float32 once, so it
 * runs the same inner loop as {@link f32Gemm}.
 *
 * With `emulateAccumulator`, the tensor core's limited accumulator is emulated instead: each scaled
 * product is added to a running partial sum that is rounded to `accumulatorBits` (default 14)
 * significant bits after every addition (nearest); every `promotionInterval` elements the partial sum
 * is added to the float32 accumulator and reset. `promotionInterval: Infinity` means never promote.
 */
import { fail } from '../errors.js';
import { E4M3_VALUES } from './fp8-format.js';
import { QUANT_GROUP } from './quantize.js';
import { checkInt, checkTypedArray } from '../validate.js';
import { checkInterval, checkMultiple, checkScales } from './validate.js';

/** Options of {@link fp8Gemm} and {@link f32Gemm}. */
export interface GemmOptions {
  /** Elements of `k` accumulated before promotion to the float32 accumulator. Default 128; `Infinity` = never. */
  promotionInterval?: number;
  /** Emulate the tensor core's limited accumulator (slow; for accuracy studies). Default false. */
  emulateAccumulator?: boolean;
  /** Significant bits kept by the emulated accumulator. Default 14. */
  accumulatorBits?: number;
}

/** Rows of A and of B handled together by the micro-kernel, and B rows per cache block. */
const NB = 32;

/** Per-(row, scale-block) scales of A and per-(row-block, scale-block) scales of B, or none. */
interface Scales {
  a: Float32Array;
  b: Float32Array;
  kBlocks: number;
}

/**
 * The blocked core: `out[i*n+j] += promote(sum over k)`, see the module comment. A is m x k, B is n x k,
 * both row-major; `out` must be zero-filled.
 */
function blockedGemm(A: Float32Array, B: Float32Array, m: number, n: number, k: number, interval: number, sc: Scales | null, out: Float32Array): void {
  const step = Math.min(interval, k);
  for (let k0 = 0; k0 < k; k0 += step) {
    const k1 = Math.min(k, k0 + step);
    for (let j0 = 0; j0 < n; j0 += NB) {
      const jEnd = Math.min(n, j0 + NB);
      for (let i = 0; i < m; i += 2) {
        // Odd edges recompute the last row/column and drop the duplicate store.
        const i1 = Math.min(i + 1, m - 1);
        for (let j = j0; j < jEnd; j += 2) {
          const j1 = Math.min(j + 1, n - 1);
          let p00 = 0, p01 = 0, p10 = 0, p11 = 0;
          for (let kb = k0; kb < k1; ) {
            const kbEnd = Math.min(k1, (Math.floor(kb / QUANT_GROUP) + 1) * QUANT_GROUP);
            let d00 = 0, d01 = 0, d10 = 0, d11 = 0;
            const a0 = i * k, a1 = i1 * k, b0 = j * k, b1 = j1 * k;
            for (let t = kb; t < kbEnd; t++) {
              const x0 = A[a0 + t]!, x1 = A[a1 + t]!, y0 = B[b0 + t]!, y1 = B[b1 + t]!;
              d00 += x0 * y0;
              d01 += x0 * y1;
              d10 += x1 * y0;
              d11 += x1 * y1;
            }
            if (sc === null) {
              p00 += d00; p01 += d01; p10 += d10; p11 += d11;
            } else {
              const blk = (kb / QUANT_GROUP) | 0;
              const sa0 = sc.a[i * sc.kBlocks + blk]!, sa1 = sc.a[i1 * sc.kBlocks + blk]!;
              const sb0 = sc.b[((j / QUANT_GROUP) | 0) * sc.kBlocks + blk]!, sb1 = sc.b[((j1 / QUANT_GROUP) | 0) * sc.kBlocks + blk]!;
              p00 += d00 * Math.fround(sa0 * sb0);
              p01 += d01 * Math.fround(sa0 * sb1);
              p10 += d10 * Math.fround(sa1 * sb0);
              p11 += d11 * Math.fround(sa1 * sb1);
            }
            kb = kbEnd;
          }
          // Storing into the Float32Array rounds the float32 sum: a float32 addition.
          out[i * n + j] = out[i * n + j]! + Math.fround(p00);
          if (j1 !== j) out[i * n + j1] = out[i * n + j1]! + Math.fround(p01);
          if (i1 !== i) {
            out[i1 * n + j] = out[i1 * n + j]! + Math.fround(p10);
            if (j1 !== j) out[i1 * n + j1] = out[i1 * n + j1]! + Math.fround(p11);
          }
        }
      }
    }
  }
}

/** The emulated limited-accumulator GEMM (one output at a time; accuracy, not speed). */
function emulatedGemm(A: Float32Array, B: Float32Array, m: number, n: number, k: number, interval: number, bits: number, sc: Scales | null, out: Float32Array): void {
  // Veltkamp splitting rounds a double to `bits` significant bits (to nearest) without a logarithm.
  const split = 2 ** (53 - bits) + 1;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let acc = 0;
      let part = 0;
      for (let t = 0; t < k; t++) {
        const blk = (t / QUANT_GROUP) | 0;
        const s = sc === null ? 1 : Math.fround(sc.a[i * sc.kBlocks + blk]! * sc.b[((j / QUANT_GROUP) | 0) * sc.kBlocks + blk]!);
        const sum = part + A[i * k + t]! * B[j * k + t]! * s;
        const c = split * sum;
        part = c - (c - sum);
        if ((t + 1) % interval === 0) {
          acc = Math.fround(acc + part);
          part = 0;
        }
      }
      out[i * n + j] = Math.fround(acc + part);
    }
}

function run(A: Float32Array, B: Float32Array, m: number, n: number, k: number, sc: Scales | null, opts?: GemmOptions): Float32Array {
  const interval = checkInterval('promotionInterval', opts?.promotionInterval ?? QUANT_GROUP);
  const out = new Float32Array(m * n);
  if (opts?.emulateAccumulator === true) {
    const bits = checkInt(opts.accumulatorBits ?? 14, 'accumulatorBits', 1);
    if (bits > 52) fail('E_ARGUMENT', `accumulatorBits must be at most 52, got ${bits}`, { argument: 'accumulatorBits', value: bits });
    emulatedGemm(A, B, m, n, k, interval, bits, sc, out);
  } else blockedGemm(A, B, m, n, k, interval, sc, out);
  return out;
}

/**
 * FP8 GEMM `C = A · Bᵀ`: A tile-quantized (m x k E4M3, scales `[m][k/128]`), B block-quantized
 * (n x k E4M3, scales `[ceil(n/128)][k/128]`); `k` must be a multiple of 128.
 * @returns C, m x n float32.
 * @throws ExpertmeshError `E_ARGUMENT` for bad shapes/options, `E_NUMERIC` for NaN or non-positive scales.
 * @example
 * const a = quantizePerTile(x, m, k), b = quantizePerBlock(w, n, k);
 * const c = fp8Gemm(a.q, a.scales, b.q, b.scales, m, n, k);
 */
export function fp8Gemm(aQ: Uint8Array, aScales: Float32Array, bQ: Uint8Array, bScales: Float32Array, m: number, n: number, k: number, opts?: GemmOptions): Float32Array {
  checkInt(m, 'm', 1);
  checkInt(n, 'n', 1);
  checkInt(k, 'k', 1);
  checkMultiple('k', k, QUANT_GROUP);
  const kBlocks = k / QUANT_GROUP;
  checkTypedArray(aQ, 'aQ', Uint8Array, m * k);
  checkTypedArray(aScales, 'aScales', Float32Array, m * kBlocks);
  checkTypedArray(bQ, 'bQ', Uint8Array, n * k);
  checkTypedArray(bScales, 'bScales', Float32Array, Math.ceil(n / QUANT_GROUP) * kBlocks);
  checkScales('aScales', aScales);
  checkScales('bScales', bScales);
  return run(decode('aQ', aQ), decode('bQ', bQ), m, n, k, { a: aScales, b: bScales, kBlocks }, opts);
}

/**
 * Float32 GEMM `C = A · Bᵀ` (A m x k, B n x k) with the same blocking and promotion as {@link fp8Gemm}.
 * @example f32Gemm(new Float32Array([1, 2]), new Float32Array([3, 4]), 1, 1, 2) // Float32Array [11]
 */
export function f32Gemm(a: Float32Array, b: Float32Array, m: number, n: number, k: number, opts?: GemmOptions): Float32Array {
  checkInt(m, 'm', 1);
  checkInt(n, 'n', 1);
  checkInt(k, 'k', 1);
  checkTypedArray(a, 'a', Float32Array, m * k);
  checkTypedArray(b, 'b', Float32Array, n * k);
  return run(a, b, m, n, k, null, opts);
}

/** Decode E4M3 operands once; the NaN codes (0x7f, 0xff) are rejected. */
function decode(name: string, q: Uint8Array): Float32Array {
  const x = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const c = q[i]!;
    if ((c & 0x7f) === 0x7f) fail('E_NUMERIC', `${name}[${i}] is an E4M3 NaN code (0x${c.toString(16)})`, { argument: name, index: i, value: c });
    x[i] = E4M3_VALUES[c]!;
  }
  return x;
}
