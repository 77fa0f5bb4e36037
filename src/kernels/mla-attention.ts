/**
 * @module
 * Core attention of DeepSeek-V3's MLA (multi-head latent attention) on the compute model.
 *
 * Prefill runs MLA as ordinary multi-head attention (keys and values up-projected from the latent):
 * per head a 192-dim query/key (128 "nope" + 64 rotary) and a 128-dim value, causal within each
 * prompt, BF16, FlashAttention-style: one tile per (prompt, head, block of 128 queries) whose k-loop
 * walks the key blocks up to the diagonal, so the tiles of late query blocks are long and the waves
 * are scheduled longest first. Softmax is not charged: it overlaps the MMAs (FlashAttention-3's
 * ping-pong), and its exponentials need about a third of the MMA time (docs/compute-model.md).
 *
 * Decode runs MLA "absorbed" (as FlashMLA does): every query head attends to the compressed KV cache
 * directly (576 values per token: 512 latent + 64 rotary key; the value is the 512-dim latent), so a
 * request reads its cache once for all 128 heads. That makes decode attention a streaming kernel:
 * its bytes are the cache, its flops `2 x heads x (576 + 512)` per cached token; memory-bound on
 * H800/H200 (242 flops per byte against a ridge near 290).
 */
import type { HardwareProfile } from '../hardware/profile.js';
import { checkInt, checkLike } from '../validate.js';
import { type ComputeTimeOptions, checkSms, checkTimeArgs, kernelTimeUs, loopTileUs, streamBytesPerUs, wavesUs } from './compute-model.js';

/** MLA dimensions (DeepSeek-V3: deepseek-v3-workloads.md §1). */
export interface MlaDims {
  /** Attention heads. */
  heads: number;
  /** Per-head query/key dims without rotary ("nope"). */
  qkNopeDim: number;
  /** Per-head rotary query/key dims. */
  qkRopeDim: number;
  /** Per-head value dims. */
  vDim: number;
  /** Compressed KV (latent) dims. */
  kvLoraRank: number;
  /** Compressed query dims. */
  qLoraRank: number;
}

/** DeepSeek-V3's MLA: 128 heads, 128 + 64 query/key dims, 128 value dims, KV rank 512, query rank 1536. */
export const DEEPSEEK_V3_MLA: MlaDims = Object.freeze({ heads: 128, qkNopeDim: 128, qkRopeDim: 64, vDim: 128, kvLoraRank: 512, qLoraRank: 1536 });

/** Query and key blocks of the prefill attention kernel (FlashAttention-3's 128 x 128 for head dim >= 128). */
const ATTN_BLOCK = 128;

/** Prompt lengths `tokens` split into prompts of `promptLen` (the last one shorter). */
function prompts(tokens: number, promptLen: number): Array<[len: number, count: number]> {
  const full = Math.floor(tokens / promptLen), rest = tokens - full * promptLen;
  const out: Array<[number, number]> = [];
  if (full > 0) out.push([promptLen, full]);
  if (rest > 0) out.push([rest, 1]);
  return out;
}

/**
 * Virtual time of MLA core attention in prefill, us: `tokens` split into causal prompts of
 * `promptLen` tokens, all heads, BF16. Zero tokens cost nothing.
 * @example mlaPrefillAttentionUs(H800, { tokens: 4096, promptLen: 4096 })
 */
export function mlaPrefillAttentionUs(profile: HardwareProfile, shape: { tokens: number; promptLen: number; dims?: MlaDims }, opts?: ComputeTimeOptions): number {
  const p = checkTimeArgs(profile, opts, shape);
  const tokens = checkInt(shape.tokens, 'tokens', 0);
  const promptLen = checkInt(shape.promptLen, 'promptLen', 1);
  const d = shape.dims === undefined ? DEEPSEEK_V3_MLA : checkLike(shape.dims, DEEPSEEK_V3_MLA, 'shape.dims');
  const sms = checkSms(profile, opts?.sms);
  if (tokens === 0) return 0;
  const qk = d.qkNopeDim + d.qkRopeDim;
  const runs: Array<[number, number]> = [];
  for (const [len, count] of prompts(tokens, promptLen)) {
    const blocks = Math.ceil(len / ATTN_BLOCK);
    for (let i = 0; i < blocks; i++) {
      const rows = Math.min(ATTN_BLOCK, len - i * ATTN_BLOCK);
      // S = Q Kᵀ (qk dims) and O += P V (v dims) per key block; loads K and V of the block.
      const t = loopTileUs(profile, p, 'bf16', { iters: i + 1, iterFlops: 2 * ATTN_BLOCK * ATTN_BLOCK * (qk + d.vDim), iterBytes: ATTN_BLOCK * (qk + d.vDim) * 2, outBytes: rows * d.vDim * 2 });
      runs.push([t, count * d.heads]);
    }
  }
  const tilesUs = wavesUs(runs, sms).us;
  const bytes = tokens * d.heads * (2 * qk + 2 * d.vDim) * 2; // Q, K, V in, O out
  return profile.kernelLaunchUs + Math.max(tilesUs, bytes / streamBytesPerUs(profile, p, 'bf16', sms));
}

/**
 * Virtual time of MLA core attention in decode, us: `tokens` requests (one new token each) reading a
 * compressed KV cache of `contextLen` tokens each (BF16, 576 values per token), all heads. Linear in
 * `contextLen`; zero tokens cost nothing.
 * @example mlaDecodeAttentionUs(H800, { tokens: 128, contextLen: 4989 })
 */
export function mlaDecodeAttentionUs(profile: HardwareProfile, shape: { tokens: number; contextLen: number; dims?: MlaDims }, opts?: ComputeTimeOptions): number {
  checkTimeArgs(profile, opts, shape);
  const tokens = checkInt(shape.tokens, 'tokens', 0);
  const ctx = checkInt(shape.contextLen, 'contextLen', 1);
  const d = shape.dims === undefined ? DEEPSEEK_V3_MLA : checkLike(shape.dims, DEEPSEEK_V3_MLA, 'shape.dims');
  if (tokens === 0) return 0;
  const cacheDim = d.kvLoraRank + d.qkRopeDim;
  const flops = tokens * ctx * 2 * d.heads * (cacheDim + d.kvLoraRank);
  const bytes = tokens * (ctx * cacheDim * 2 + d.heads * (cacheDim + d.kvLoraRank) * 2);
  return kernelTimeUs(profile, { flops, bytes, format: 'bf16' }, opts);
}
