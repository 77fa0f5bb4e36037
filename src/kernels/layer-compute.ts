/**
 * @module
 * The compute of one DeepSeek-V3 transformer layer on one GPU, kernel by kernel, from the compute
 * model: MLA (projections in FP8, core attention in BF16), the norms and residuals as streaming
 * kernels, then either the dense FFN or the MoE block (gate, shared expert, the local routed experts as
 * m-grouped GEMMs). Communication (dispatch, combine) is not part of it.
 */
import { fail } from '../errors.js';
import type { HardwareProfile } from '../hardware/profile.js';
import { checkArray, checkInt, checkLike, checkObject, checkOneOf } from '../validate.js';
import { type ComputeFormat, type ComputeTimeOptions, type ComputeModelParams, checkFormat, checkTimeArgs, gemmTimeUs, groupedGemmTimeUs, kernelTimeUs } from './compute-model.js';
import { DEEPSEEK_V3_MLA, type MlaDims, mlaDecodeAttentionUs, mlaPrefillAttentionUs } from './mla-attention.js';

/** Model dimensions a layer is built from (DeepSeek-V3: deepseek-v3-workloads.md §1). */
export interface LayerDims {
  hidden: number;
  mla: MlaDims;
  /** Intermediate size of the dense FFN (first layers). */
  denseIntermediate: number;
  /** Intermediate size of one expert. */
  moeIntermediate: number;
  /** Routed experts in the model (the gate's outputs). */
  routedExperts: number;
  /** Experts each token is routed to. */
  topK: number;
  /** Shared experts run on every token. */
  sharedExperts: number;
}

/** DeepSeek-V3: hidden 7168, dense FFN 18432, 256 routed experts of 2048, top-8, 1 shared expert. */
export const DEEPSEEK_V3_LAYER: LayerDims = Object.freeze({
  hidden: 7168, mla: DEEPSEEK_V3_MLA, denseIntermediate: 18432, moeIntermediate: 2048, routedExperts: 256, topK: 8, sharedExperts: 1,
});

/** What a kernel of the layer is, for breakdowns. */
export type LayerKernelKind = 'gemm' | 'grouped-gemm' | 'attention' | 'norm' | 'elementwise' | 'gate';

/** One kernel of a layer and its virtual time. */
export interface LayerKernel {
  name: string;
  kind: LayerKernelKind;
  us: number;
}

/** What to compute one layer for. */
export interface LayerComputeOptions {
  /** `'prefill'`: prompts processed whole (causal attention); `'decode'`: one new token per request. */
  phase: 'prefill' | 'decode';
  /** Tokens on this GPU (decode: requests). */
  tokens: number;
  /** Prefill: prompt length the tokens are split into (default: `tokens`). Decode: cached tokens per request (required). */
  contextLen?: number;
  /** SMs the compute kernels get (default: all; e.g. 112 when 20 run communication). */
  sms?: number;
  /** `'moe'` (default) or `'dense'` (DeepSeek-V3's first 3 layers). */
  layer?: 'moe' | 'dense';
  /**
   * Tokens of each routed expert on this GPU (the load routing gave it). Default: 8 local experts with
   * `tokens` each, i.e. the balanced load of EP32 (256 experts / 32 GPUs, top-8).
   */
  expertTokens?: readonly number[];
  /** Format of the projection and expert GEMMs (default `'fp8'`, as DeepSeek-V3). */
  format?: ComputeFormat;
  dims?: LayerDims;
  params?: ComputeModelParams;
}

/** Per-kernel breakdown of one layer. */
export interface LayerCompute {
  kernels: LayerKernel[];
  /** Sum of the kernels' times (they run one after another on the compute stream), us. */
  totalUs: number;
  /** Time per kernel kind, us. */
  byKind: Record<LayerKernelKind, number>;
}

/**
 * Per-kernel virtual times of one MoE or dense layer of DeepSeek-V3 on one GPU. Zero tokens cost nothing.
 * @example layerComputeUs(H800, { phase: 'prefill', tokens: 4096, contextLen: 4096, sms: 112 }).totalUs
 * @throws ExpertmeshError `E_ARGUMENT` naming a bad option.
 */
export function layerComputeUs(profile: HardwareProfile, o: LayerComputeOptions): LayerCompute {
  checkObject(o, 'options');
  checkTimeArgs(profile, o.params === undefined ? undefined : { params: o.params }, o, 'options');
  checkOneOf(o.phase, 'phase', ['prefill', 'decode'] as const);
  const layer = checkOneOf(o.layer ?? 'moe', 'layer', ['moe', 'dense'] as const);
  const T = checkInt(o.tokens, 'tokens', 0);
  if (o.phase === 'decode' && o.contextLen === undefined) fail('E_ARGUMENT', 'contextLen is required in decode (cached tokens per request)', { argument: 'contextLen' });
  const ctx = checkInt(o.contextLen ?? Math.max(T, 1), 'contextLen', 1);
  const d = o.dims === undefined ? DEEPSEEK_V3_LAYER : checkLike(o.dims, DEEPSEEK_V3_LAYER, 'dims');
  const a = d.mla;
  const fmt = checkFormat(o.format ?? 'fp8');
  const opts: ComputeTimeOptions = { ...(o.sms !== undefined && { sms: o.sms }), ...(o.params && { params: o.params }) };
  const expertTokens = o.expertTokens ?? Array.from({ length: 8 }, () => T);
  const et = checkArray(expertTokens, 'expertTokens');
  for (let i = 0; i < et.length; i++) checkInt(et[i], `expertTokens[${i}]`, 0);

  const kernels: LayerKernel[] = [];
  const add = (name: string, kind: LayerKernelKind, us: number) => kernels.push({ name, kind, us });
  const gemm = (name: string, m: number, n: number, k: number, f: ComputeFormat = fmt) => add(name, 'gemm', gemmTimeUs(profile, { m, n, k, format: f }, opts));
  // Streaming kernels move BF16 rows: `readCols` in, `writeCols` out per token.
  const stream = (name: string, kind: LayerKernelKind, rows: number, readCols: number, writeCols: number) =>
    add(name, kind, rows === 0 ? 0 : kernelTimeUs(profile, { flops: 0, bytes: rows * (readCols + writeCols) * 2, format: 'bf16' }, opts));
  const qk = a.qkNopeDim + a.qkRopeDim;

  // Attention block.
  stream('attn_norm', 'norm', T, d.hidden, d.hidden);
  gemm('q_a+kv_a proj', T, a.qLoraRank + a.kvLoraRank + a.qkRopeDim, d.hidden);
  stream('q_a+kv_a norm', 'norm', T, a.qLoraRank + a.kvLoraRank, a.qLoraRank + a.kvLoraRank);
  gemm('q_b proj', T, a.heads * qk, a.qLoraRank);
  if (o.phase === 'prefill') {
    gemm('kv_b proj', T, a.heads * (a.qkNopeDim + a.vDim), a.kvLoraRank);
    add('core attention (prefill)', 'attention', mlaPrefillAttentionUs(profile, { tokens: T, promptLen: ctx, dims: a }, opts));
  } else {
    const heads = Array.from({ length: a.heads }, () => T);
    add('q absorb (W_UK)', 'grouped-gemm', groupedGemmTimeUs(profile, { ms: heads, n: a.kvLoraRank, k: a.qkNopeDim, format: 'bf16' }, opts));
    add('core attention (decode)', 'attention', mlaDecodeAttentionUs(profile, { tokens: T, contextLen: ctx, dims: a }, opts));
    add('v absorb (W_UV)', 'grouped-gemm', groupedGemmTimeUs(profile, { ms: heads, n: a.vDim, k: a.kvLoraRank, format: 'bf16' }, opts));
  }
  gemm('o proj', T, d.hidden, a.heads * a.vDim);
  stream('attn residual', 'elementwise', T, 2 * d.hidden, d.hidden);

  // FFN block.
  stream('ffn_norm', 'norm', T, d.hidden, d.hidden);
  if (layer === 'dense') {
    gemm('dense up/gate', T, 2 * d.denseIntermediate, d.hidden);
    stream('dense SwiGLU', 'elementwise', T, 2 * d.denseIntermediate, d.denseIntermediate);
    gemm('dense down', T, d.hidden, d.denseIntermediate);
  } else {
    const gate = T === 0 ? 0 : kernelTimeUs(profile, {
      flops: 2 * T * d.routedExperts * d.hidden,
      bytes: (T * d.hidden + d.routedExperts * d.hidden) * 2 + T * d.routedExperts * 4,
      format: 'bf16',
    }, opts);
    add('gate', 'gate', gate);
    const shared = T * d.sharedExperts;
    gemm('shared up/gate', shared, 2 * d.moeIntermediate, d.hidden);
    stream('shared SwiGLU', 'elementwise', shared, 2 * d.moeIntermediate, d.moeIntermediate);
    gemm('shared down', shared, d.hidden, d.moeIntermediate);
    const routed = expertTokens.reduce((s, m) => s + m, 0);
    add('experts up/gate', 'grouped-gemm', groupedGemmTimeUs(profile, { ms: expertTokens, n: 2 * d.moeIntermediate, k: d.hidden, format: fmt }, opts));
    stream('experts SwiGLU', 'elementwise', routed, 2 * d.moeIntermediate, d.moeIntermediate);
    add('experts down', 'grouped-gemm', groupedGemmTimeUs(profile, { ms: expertTokens, n: d.hidden, k: d.moeIntermediate, format: fmt }, opts));
  }
  stream('ffn residual', 'elementwise', T, 2 * d.hidden, d.hidden);

  const byKind: Record<LayerKernelKind, number> = { gemm: 0, 'grouped-gemm': 0, attention: 0, norm: 0, elementwise: 0, gate: 0 };
  let totalUs = 0;
  for (const k of kernels) {
    byKind[k.kind] += k.us;
    totalUs += k.us;
  }
  return { kernels, totalUs, byKind };
}
