/**
 * @module
 * SwiGLU expert FFN: `y = down(silu(x · gateᵀ) * (x · upᵀ))`, in FP32, BF16 (operands and the
 * intermediate activation rounded to BF16, FP32 accumulation, BF16 output) or FP8 (weights 128x128
 * block-quantized, activations 1x128 tile-quantized, {@link fp8Gemm} with promotion, BF16 output).
 */
import { roundBF16Array } from './bf16.js';
import { f32Gemm, fp8Gemm, type GemmOptions } from './gemm.js';
import { quantizePerBlock, quantizePerTile, QUANT_GROUP, type Quantized, type QuantizeOptions } from './quantize.js';
import { checkInt, checkObject, checkTypedArray } from '../validate.js';
import { checkMultiple } from './validate.js';

/** Weights of one SwiGLU expert, float32, row-major. */
export interface ExpertWeights {
  /** Model hidden size H. */
  hidden: number;
  /** Expert intermediate size I. */
  intermediate: number;
  /** Gate projection, I x H. */
  gate: Float32Array;
  /** Up projection, I x H. */
  up: Float32Array;
  /** Down projection, H x I. */
  down: Float32Array;
}

/** Weights of one expert block-quantized to E4M3 (scales `[ceil(rows/128)][ceil(cols/128)]`). */
export interface QuantizedExpertWeights {
  hidden: number;
  intermediate: number;
  gate: Quantized;
  up: Quantized;
  down: Quantized;
}

/** Options of {@link expertFfn}. */
export interface ExpertFfnOptions {
  /** `'fp32'` (default) or `'bf16'`. */
  format?: 'fp32' | 'bf16';
}

function checkWeights(w: ExpertWeights | QuantizedExpertWeights): { h: number; i: number } {
  checkObject(w, 'weights');
  return { h: checkInt(w.hidden, 'weights.hidden', 1), i: checkInt(w.intermediate, 'weights.intermediate', 1) };
}

/**
 * `silu(g) * u` element-wise in float32 (`silu(g) = g / (1 + exp(-g))`), written into `g`.
 * @example swigluInPlace(new Float32Array([1]), new Float32Array([2])) // [1.4621...]
 */
export function swigluInPlace(g: Float32Array, u: Float32Array): Float32Array {
  checkTypedArray(g, 'g', Float32Array);
  checkTypedArray(u, 'u', Float32Array, g.length);
  for (let j = 0; j < g.length; j++) {
    const x = g[j]!;
    g[j] = Math.fround(Math.fround(x / Math.fround(1 + Math.fround(Math.exp(-x)))) * u[j]!);
  }
  return g;
}

/**
 * Run one SwiGLU expert on `tokens` rows of `x` (tokens x H) in FP32 or BF16.
 * @returns tokens x H (BF16-exact values in `'bf16'` format).
 * @example const y = expertFfn(x, 4, { hidden: 128, intermediate: 256, gate, up, down }, { format: 'bf16' });
 */
export function expertFfn(x: Float32Array, tokens: number, w: ExpertWeights, opts?: ExpertFfnOptions): Float32Array {
  const { h, i } = checkWeights(w);
  checkInt(tokens, 'tokens', 1);
  checkTypedArray(x, 'x', Float32Array, tokens * h);
  checkTypedArray(w.gate, 'weights.gate', Float32Array, i * h);
  checkTypedArray(w.up, 'weights.up', Float32Array, i * h);
  checkTypedArray(w.down, 'weights.down', Float32Array, h * i);
  const bf16 = opts?.format === 'bf16';
  const r = (a: Float32Array) => (bf16 ? roundBF16Array(a.slice()) : a);
  const xs = r(x);
  const act = swigluInPlace(f32Gemm(xs, r(w.gate), tokens, i, h), f32Gemm(xs, r(w.up), tokens, i, h));
  const y = f32Gemm(bf16 ? roundBF16Array(act) : act, r(w.down), tokens, h, i);
  return bf16 ? roundBF16Array(y) : y;
}

/**
 * Block-quantize an expert's three projections (128x128 E4M3 blocks).
 * @example const qw = quantizeExpertWeights(weights);
 */
export function quantizeExpertWeights(w: ExpertWeights, opts?: QuantizeOptions): QuantizedExpertWeights {
  const { h, i } = checkWeights(w);
  return {
    hidden: h,
    intermediate: i,
    gate: quantizePerBlock(w.gate, i, h, opts),
    up: quantizePerBlock(w.up, i, h, opts),
    down: quantizePerBlock(w.down, h, i, opts),
  };
}

/**
 * Run one SwiGLU expert in FP8: `x` (tokens x H float32, or already tile-quantized as dispatched) is
 * tile-quantized, the GEMMs are {@link fp8Gemm}, the intermediate activation is re-quantized per tile.
 * H and I must be multiples of 128.
 * @returns tokens x H, BF16-exact values.
 * @example const y = expertFfnFp8(x, 4, quantizeExpertWeights(weights));
 */
export function expertFfnFp8(x: Float32Array | Quantized, tokens: number, w: QuantizedExpertWeights, opts?: GemmOptions & QuantizeOptions): Float32Array {
  const { h, i } = checkWeights(w);
  checkInt(tokens, 'tokens', 1);
  checkMultiple('weights.hidden', h, QUANT_GROUP);
  checkMultiple('weights.intermediate', i, QUANT_GROUP);
  for (const k of ['gate', 'up', 'down'] as const) checkObject(w[k], `weights.${k}`);
  const xq = x instanceof Float32Array ? quantizePerTile(x, tokens, h, opts) : (checkObject(x, 'x (a Float32Array or a quantized { q, scales })') as unknown as Quantized);
  const g = fp8Gemm(xq.q, xq.scales, w.gate.q, w.gate.scales, tokens, i, h, opts);
  const u = fp8Gemm(xq.q, xq.scales, w.up.q, w.up.scales, tokens, i, h, opts);
  const aq = quantizePerTile(swigluInPlace(g, u), tokens, i, opts);
  return roundBF16Array(fp8Gemm(aq.q, aq.scales, w.down.q, w.down.scales, tokens, h, i, opts));
}
