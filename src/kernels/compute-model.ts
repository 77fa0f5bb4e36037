/**
 * @module
 * Compute-time model: the virtual time a kernel costs on a {@link HardwareProfile}. A roofline per
 * number format plus a fixed per-kernel overhead:
 *
 * `t = overheadUs + max(flops / (peak[fmt] * computeEff[fmt] * smShare), bytes / (hbm * hbmEff[fmt] * bwShare))`
 *
 * where `smShare = sms / smCount` (the SMs the kernel is given, e.g. 112 of 132 when 20 serve
 * communication) and `bwShare = min(1, sms / (smCount / 2))` (half the SMs are assumed to saturate
 * HBM). GEMMs pad `m` to the 64-row tile of the tensor-core kernels. The efficiencies and the extra
 * overhead were fitted on the H200 measurements in `h200-compute.md` (see docs/fp8.md for the
 * per-shape table); the overhead is `profile.kernelLaunchUs + extraOverheadUs[fmt]`.
 */
import { fail } from '../errors.js';
import type { HardwareProfile } from '../hardware/profile.js';
import { checkDim } from './validate.js';

/** Number formats of the compute model. */
export type ComputeFormat = 'fp8' | 'bf16' | 'fp32';

/** Per-format calibration of the compute model. */
export interface ComputeModelParams {
  /** Fraction of `peakTflops[fmt]` reached by large GEMMs. */
  computeEfficiency: Readonly<Record<ComputeFormat, number>>;
  /** Fraction of `hbmGBps` reached by the memory-bound (small-m) GEMMs. */
  hbmEfficiency: Readonly<Record<ComputeFormat, number>>;
  /** Overhead per kernel on top of `profile.kernelLaunchUs`, us. */
  extraOverheadUs: Readonly<Record<ComputeFormat, number>>;
  /** Rows of the GEMM tile `m` is padded to. */
  mTile: number;
}

/** Fitted on h200-compute.md (BF16 via `a @ w.T`, FP8 via `torch._scaled_mm`); fp32 reuses bf16's. */
export const DEFAULT_COMPUTE_MODEL: ComputeModelParams = Object.freeze({
  computeEfficiency: Object.freeze({ fp8: 0.67, bf16: 0.8, fp32: 0.8 }),
  hbmEfficiency: Object.freeze({ fp8: 0.3, bf16: 0.8, fp32: 0.8 }),
  extraOverheadUs: Object.freeze({ fp8: 14, bf16: 14, fp32: 14 }),
  mTile: 64,
});

/** Bytes per element of each format as stored in HBM. */
export const FORMAT_BYTES: Readonly<Record<ComputeFormat, number>> = Object.freeze({ fp8: 1, bf16: 2, fp32: 4 });

/** A kernel described by its work. */
export interface KernelCost {
  /** Floating-point operations. */
  flops: number;
  /** HBM bytes read plus written. */
  bytes: number;
  /** Number format of the math. */
  format: ComputeFormat;
}

/** Options of the time functions. */
export interface ComputeTimeOptions {
  /** SMs the kernel runs on (default: all of the profile's). */
  sms?: number;
  /** Calibration (default {@link DEFAULT_COMPUTE_MODEL}). */
  params?: ComputeModelParams;
}

/**
 * Virtual time of a kernel, us.
 * @example kernelTimeUs(H200, { flops: 2e12, bytes: 1e9, format: 'bf16' }) // ~2.5 ms
 */
export function kernelTimeUs(profile: HardwareProfile, cost: KernelCost, opts?: ComputeTimeOptions): number {
  const p = opts?.params ?? DEFAULT_COMPUTE_MODEL;
  const fmt = cost.format;
  if (!(fmt in FORMAT_BYTES)) fail('E_ARGUMENT', `format must be fp8, bf16 or fp32, got ${String(fmt)}`, { argument: 'format', value: fmt });
  for (const [name, v] of [['flops', cost.flops], ['bytes', cost.bytes]] as const)
    if (!(v >= 0 && v < Infinity)) fail('E_ARGUMENT', `${name} must be a finite non-negative number, got ${v}`, { argument: name, value: v });
  const sms = opts?.sms ?? profile.smCount;
  checkDim('sms', sms);
  if (sms > profile.smCount) fail('E_ARGUMENT', `sms must be at most ${profile.smCount} on ${profile.name}, got ${sms}`, { argument: 'sms', value: sms });
  const smShare = sms / profile.smCount;
  const bwShare = Math.min(1, sms / (profile.smCount / 2));
  const computeUs = cost.flops / (profile.peakTflops[fmt] * p.computeEfficiency[fmt] * smShare * 1e6);
  const memoryUs = cost.bytes / (profile.hbmGBps * p.hbmEfficiency[fmt] * bwShare * 1e3);
  return profile.kernelLaunchUs + p.extraOverheadUs[fmt] + Math.max(computeUs, memoryUs);
}

/** Shape of a GEMM `C[m][n] = A[m][k] · B[n][k]ᵀ` (B = weights, output in BF16). */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  format: ComputeFormat;
}

/**
 * Work of one GEMM: flops on `m` padded to the tile, bytes = A + B in `format` plus the BF16 output.
 * @example gemmCost({ m: 128, n: 4096, k: 7168, format: 'fp8' })
 */
export function gemmCost(shape: GemmShape, params: ComputeModelParams = DEFAULT_COMPUTE_MODEL): KernelCost {
  const m = checkDim('m', shape.m, true), n = checkDim('n', shape.n), k = checkDim('k', shape.k);
  const b = FORMAT_BYTES[shape.format] ?? fail('E_ARGUMENT', `format must be fp8, bf16 or fp32, got ${String(shape.format)}`, { argument: 'format', value: shape.format });
  const mPad = Math.ceil(m / params.mTile) * params.mTile;
  return { flops: 2 * mPad * n * k, bytes: (m * k + n * k) * b + m * n * 2, format: shape.format };
}

/**
 * Virtual time of one GEMM, us.
 * @example gemmTimeUs(H200, { m: 4096, n: 4096, k: 7168, format: 'fp8' }) // ~200 us
 */
export function gemmTimeUs(profile: HardwareProfile, shape: GemmShape, opts?: ComputeTimeOptions): number {
  return kernelTimeUs(profile, gemmCost(shape, opts?.params), opts);
}

/** Shape of one SwiGLU expert run. */
export interface ExpertShape {
  /** Tokens routed to the expert. */
  tokens: number;
  /** Model hidden size (7168 in DeepSeek-V3). */
  hidden: number;
  /** Expert intermediate size (2048 in DeepSeek-V3). */
  intermediate: number;
  format: ComputeFormat;
}

/**
 * Virtual time of a SwiGLU expert: the fused up/gate GEMM (n = 2 x intermediate) plus the down GEMM
 * (the activation is fused into their epilogues). Zero tokens cost nothing.
 * @example expertTimeUs(H800, { tokens: 256, hidden: 7168, intermediate: 2048, format: 'fp8' }, { sms: 112 })
 */
export function expertTimeUs(profile: HardwareProfile, shape: ExpertShape, opts?: ComputeTimeOptions): number {
  const t = checkDim('tokens', shape.tokens, true);
  if (t === 0) return 0;
  const h = checkDim('hidden', shape.hidden), i = checkDim('intermediate', shape.intermediate);
  return gemmTimeUs(profile, { m: t, n: 2 * i, k: h, format: shape.format }, opts) + gemmTimeUs(profile, { m: t, n: h, k: i, format: shape.format }, opts);
}
