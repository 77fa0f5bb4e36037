/**
 * @module
 * Compute-time model: the virtual time a kernel costs on a {@link HardwareProfile}, from its shape.
 *
 * A GEMM is cut into output tiles (`bm x bn`) that run on the SMs it is given, one tile per SM at a
 * time, in waves: `waves = ceil(tiles / sms)`, and a partial last wave costs a whole tile time (the
 * wave step). A tile runs a k-loop whose iterations cost the larger of the tensor-core time of the
 * tile's `bm x bn x bk` MMA (`peakTflops / smCount` per SM at `computeEfficiency`) and the time the SM
 * needs to load the stage's operands (`smLoadGBps` per SM), plus a pipeline fill and an epilogue that
 * stores the tile. The whole kernel is also bounded by its unique HBM traffic at the HBM rate
 * (`hbmGBps * hbmEfficiency`). Like cuBLAS / CUTLASS heuristics, the kernel is the fastest of a few
 * tile configurations (`bm` 64 or 128, `bn` 128 or 256, BF16 also split-K 2 or 4 with a reduction).
 *
 * An m-grouped GEMM (DeepGEMM's contiguous layout: every local expert with its own `m`, one launch)
 * schedules the tiles of all groups together over the SMs. Every number used is either a sourced
 * hardware fact of the profile or one of the fitted parameters of {@link DEFAULT_COMPUTE_MODEL},
 * documented with the data it was fitted to in docs/compute-model.md.
 */
import { fail, showValue } from '../errors.js';
import type { HardwareProfile } from '../hardware/profile.js';
import { checkInt, checkLike, checkNumber, checkObject } from '../validate.js';
import { validateHardwareProfile } from '../hardware/profile.js';

/** Number formats of the compute model. */
export type ComputeFormat = 'fp8' | 'bf16' | 'fp32';

/** One tile configuration a GEMM kernel may be built with. */
export interface GemmTileConfig {
  /** Output rows per tile. */
  bm: number;
  /** Output columns per tile. */
  bn: number;
  /** Ways `k` is split (partial sums in FP32, reduced by a second pass); 1 = no split. */
  splitK: number;
}

/** Calibration of the compute model (see docs/compute-model.md for what each was fitted to). */
export interface ComputeModelParams {
  /** Fraction of the per-SM tensor peak reached inside a tile's k-loop (fitted on the H200 plateau). */
  computeEfficiency: Readonly<Record<ComputeFormat, number>>;
  /** Fraction of `hbmGBps` a streaming kernel reaches (from the H200 device-copy rows, not fitted to GEMMs). */
  hbmEfficiency: Readonly<Record<ComputeFormat, number>>;
  /** Rate at which one SM loads operands / stores results, GB/s (fitted on the small-m H200 rows). */
  smLoadGBps: Readonly<Record<ComputeFormat, number>>;
  /** Pipeline fill of a tile's k-loop (first stages in flight before the first MMA), us (fitted). */
  pipelineFillUs: number;
  /** Fixed cost of the split-K reduction pass on top of its traffic, us (fitted). */
  splitKReduceUs: number;
  /** Tile configurations the kernel library chooses from, per format (the fastest one is used). */
  tileConfigs: Readonly<Record<ComputeFormat, readonly GemmTileConfig[]>>;
  /** Depth of one k-loop stage, in bytes of one operand row (128: 64 BF16 or 128 FP8 values). */
  stageBytesK: number;
  /**
   * Host-side overhead of one PyTorch op in the H200 measurements, on top of the event-timed trivial
   * kernel (fitted; not charged in simulated time, where kernels are launched back to back).
   */
  measuredOpOverheadUs: Readonly<Record<ComputeFormat, number>>;
  /** Event-timed launch of a trivial kernel in the H200 measurements, us (measured: 14.3). */
  measuredLaunchUs: number;
}

const tiles = (splits: number[]): GemmTileConfig[] =>
  [64, 128].flatMap((bm) => [128, 256].flatMap((bn) => splits.map((splitK) => Object.freeze({ bm, bn, splitK }))));

/**
 * Fitted on h200-compute.md (BF16 via `a @ w.T`, FP8 via `torch._scaled_mm` with row/column scales);
 * fp32 reuses bf16's (not calibrated). See docs/compute-model.md for each parameter's data.
 */
export const DEFAULT_COMPUTE_MODEL: ComputeModelParams = Object.freeze({
  computeEfficiency: Object.freeze({ fp8: 0.78, bf16: 0.86, fp32: 0.86 }),
  hbmEfficiency: Object.freeze({ fp8: 0.884, bf16: 0.884, fp32: 0.884 }),
  smLoadGBps: Object.freeze({ fp8: 75, bf16: 107, fp32: 107 }),
  pipelineFillUs: 1.5,
  splitKReduceUs: 8.5,
  tileConfigs: Object.freeze({
    fp8: Object.freeze(tiles([1])),
    bf16: Object.freeze(tiles([1, 2, 4])),
    fp32: Object.freeze(tiles([1, 2, 4])),
  }),
  stageBytesK: 128,
  measuredOpOverheadUs: Object.freeze({ fp8: 7.3, bf16: 1.6, fp32: 1.6 }),
  measuredLaunchUs: 14.3,
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

export function checkFormat(fmt: unknown): ComputeFormat {
  if (typeof fmt !== 'string' || !(fmt in FORMAT_BYTES)) fail('E_ARGUMENT', `format must be fp8, bf16 or fp32, got ${showValue(fmt)}`, { argument: 'format', value: fmt });
  return fmt as ComputeFormat;
}

/**
 * Check the arguments every compute-time function shares: the profile, the options and their
 * compute-model parameters; returns the parameters in force. @internal
 */
export function checkTimeArgs(profile: HardwareProfile, opts: ComputeTimeOptions | undefined, shape: unknown, shapeName = 'shape'): ComputeModelParams {
  validateHardwareProfile(profile, 'profile');
  checkObject(shape, shapeName);
  if (opts === undefined) return DEFAULT_COMPUTE_MODEL;
  checkObject(opts, 'opts');
  return opts.params === undefined || opts.params === DEFAULT_COMPUTE_MODEL ? DEFAULT_COMPUTE_MODEL : checkLike(opts.params, DEFAULT_COMPUTE_MODEL, 'opts.params');
}

export function checkSms(profile: HardwareProfile, sms: number | undefined): number {
  const s = checkInt(sms ?? profile.smCount, 'sms', 1);
  if (s > profile.smCount) fail('E_ARGUMENT', `sms must be at most ${profile.smCount} on ${profile.name}, got ${s}`, { argument: 'sms', value: s });
  return s;
}

/** HBM rate a kernel on `sms` SMs reaches, bytes/us: the streaming rate, or the SMs' own load rate if lower. */
export function streamBytesPerUs(profile: HardwareProfile, p: ComputeModelParams, fmt: ComputeFormat, sms: number): number {
  return Math.min(profile.hbmGBps * p.hbmEfficiency[fmt], sms * p.smLoadGBps[fmt]) * 1e3;
}

/**
 * Virtual time of a kernel given only its work (a bandwidth or elementwise kernel, or any kernel
 * without tiles), us: launch plus the larger of its flops at the SMs' share of the tensor peak and
 * its bytes at the HBM rate (or the given SMs' load rate if lower). Zero work costs the launch.
 * @example kernelTimeUs(H200, { flops: 2e12, bytes: 1e9, format: 'bf16' }) // ~2.4 ms
 */
export function kernelTimeUs(profile: HardwareProfile, cost: KernelCost, opts?: ComputeTimeOptions): number {
  const p = checkTimeArgs(profile, opts, cost, 'cost');
  const fmt = checkFormat(cost.format);
  checkNumber(cost.flops, 'cost.flops', true);
  checkNumber(cost.bytes, 'cost.bytes', true);
  const sms = checkSms(profile, opts?.sms);
  const computeUs = cost.flops / (profile.peakTflops[fmt] * p.computeEfficiency[fmt] * (sms / profile.smCount) * 1e6);
  const memoryUs = cost.bytes / streamBytesPerUs(profile, p, fmt, sms);
  return profile.kernelLaunchUs + Math.max(computeUs, memoryUs);
}

/** Shape of a GEMM `C[m][n] = A[m][k] · B[n][k]ᵀ` (B = weights, output in BF16). */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  format: ComputeFormat;
}

/**
 * Work of one GEMM: flops `2 m n k`, bytes = A + B in `format` plus the BF16 output (the unique HBM
 * traffic; the tile model adds the padding of partial tiles itself).
 * @example gemmCost({ m: 128, n: 4096, k: 7168, format: 'fp8' })
 */
export function gemmCost(shape: GemmShape, _params: ComputeModelParams = DEFAULT_COMPUTE_MODEL): KernelCost {
  checkObject(shape, 'shape');
  const m = checkInt(shape.m, 'm', 0), n = checkInt(shape.n, 'n', 1), k = checkInt(shape.k, 'k', 1);
  const b = FORMAT_BYTES[checkFormat(shape.format)];
  return { flops: 2 * m * n * k, bytes: (m * k + n * k) * b + m * n * 2, format: shape.format };
}

/** An m-grouped GEMM: one launch, every group with its own `m`, the same `n` and `k` (one weight matrix per group). */
export interface GroupedGemmShape {
  /** Rows of each group (e.g. tokens per local expert); zero rows are skipped. */
  ms: readonly number[];
  n: number;
  k: number;
  format: ComputeFormat;
}

/** How the chosen kernel ran: its configuration, tiles, waves and which bound set its time. */
export interface GemmPlan {
  config: GemmTileConfig;
  /** Tiles scheduled (split-K pieces counted). */
  tiles: number;
  waves: number;
  /** Time of the kernel without its launch, us. */
  bodyUs: number;
  /** `'tiles'` when the waves of tiles set the time, `'hbm'` when the unique HBM traffic did. */
  bound: 'tiles' | 'hbm';
}

/** Work of one k-loop tile: its iterations, the MMA flops and operand bytes of each, the bytes its epilogue stores. */
export interface LoopTile {
  iters: number;
  iterFlops: number;
  iterBytes: number;
  outBytes: number;
}

/**
 * Time of one tile on one SM, us: pipeline fill, then each iteration the larger of its MMA time
 * (per-SM tensor peak at `computeEfficiency`) and its operand loads (`smLoadGBps`), then the epilogue's stores.
 */
export function loopTileUs(profile: HardwareProfile, p: ComputeModelParams, fmt: ComputeFormat, t: LoopTile): number {
  const perSmFlopsPerUs = (profile.peakTflops[fmt] * 1e6 * p.computeEfficiency[fmt]) / profile.smCount;
  const smBytesPerUs = p.smLoadGBps[fmt] * 1e3;
  return p.pipelineFillUs + t.iters * Math.max(t.iterFlops / perSmFlopsPerUs, t.iterBytes / smBytesPerUs) + t.outBytes / smBytesPerUs;
}

/** Time of one GEMM tile with `rows` valid rows of `bm`, `cols` valid columns of `bn`, `kLen` of k, us. */
function tileUs(profile: HardwareProfile, p: ComputeModelParams, fmt: ComputeFormat, c: GemmTileConfig, rows: number, cols: number, kLen: number): number {
  const b = FORMAT_BYTES[fmt];
  const bk = p.stageBytesK / b;
  // The tensor cores compute the whole tile (padding included); only valid rows/columns are loaded.
  return loopTileUs(profile, p, fmt, {
    iters: Math.ceil(kLen / bk),
    iterFlops: 2 * c.bm * c.bn * bk,
    iterBytes: (rows + cols) * bk * b,
    outBytes: rows * cols * (c.splitK > 1 ? 4 : 2),
  });
}

/**
 * Sum of wave times when `tileTimes` run `sms` at a time, longest first: each wave lasts as long as
 * its longest tile. Sorting makes the total non-increasing in `sms` and non-decreasing in every tile.
 */
export function wavesUs(tileTimes: Array<[us: number, count: number]>, sms: number): { us: number; tiles: number; waves: number } {
  tileTimes.sort((a, b) => b[0] - a[0]);
  let us = 0, seen = 0, tilesTotal = 0;
  for (const [t, count] of tileTimes) {
    // waves starting inside this run of equal tiles: indices seen..seen+count-1 that are multiples of sms
    const starts = Math.ceil((seen + count) / sms) - Math.ceil(seen / sms);
    us += starts * t;
    seen += count;
    tilesTotal += count;
  }
  return { us, tiles: tilesTotal, waves: Math.ceil(tilesTotal / sms) };
}

function planConfig(profile: HardwareProfile, p: ComputeModelParams, shape: GroupedGemmShape, c: GemmTileConfig, sms: number): GemmPlan {
  const { n, k, format: fmt } = shape;
  const b = FORMAT_BYTES[fmt];
  const kLen = Math.ceil(k / c.splitK);
  const nFull = Math.floor(n / c.bn), nRest = n - nFull * c.bn;
  const runs: Array<[number, number]> = [];
  let rowsTotal = 0, groups = 0;
  for (const m of shape.ms) {
    if (m === 0) continue;
    groups++;
    rowsTotal += m;
    const mFull = Math.floor(m / c.bm), mRest = m - mFull * c.bm;
    for (const [rows, mCount] of [[c.bm, mFull], [mRest, mRest > 0 ? 1 : 0]] as const)
      for (const [cols, nCount] of [[c.bn, nFull], [nRest, nRest > 0 ? 1 : 0]] as const)
        if (mCount * nCount > 0) runs.push([tileUs(profile, p, fmt, c, rows, cols, kLen), mCount * nCount * c.splitK]);
  }
  const w = wavesUs(runs, sms);
  const stream = streamBytesPerUs(profile, p, fmt, sms);
  const partials = c.splitK > 1 ? rowsTotal * n * 4 * c.splitK : 0;
  const uniqueBytes = (rowsTotal * k + groups * n * k) * b + (partials > 0 ? partials : rowsTotal * n * 2);
  let bodyUs = Math.max(w.us, uniqueBytes / stream);
  const bound = w.us >= uniqueBytes / stream ? 'tiles' : 'hbm';
  // split-K: a second pass reads the FP32 partials and writes the BF16 output.
  if (c.splitK > 1) bodyUs += p.splitKReduceUs + (partials + rowsTotal * n * 2) / stream;
  return { config: c, tiles: w.tiles, waves: w.waves, bodyUs, bound };
}

/**
 * The kernel an m-grouped GEMM runs as: the fastest tile configuration for the SMs given, with its
 * tiles, waves and time (without launch). `null` when every group is empty.
 * @example planGroupedGemm(H800, { ms: [300, 0, 41], n: 4096, k: 7168, format: 'fp8' }, { sms: 112 })
 */
export function planGroupedGemm(profile: HardwareProfile, shape: GroupedGemmShape, opts?: ComputeTimeOptions): GemmPlan | null {
  const p = checkTimeArgs(profile, opts, shape);
  const fmt = checkFormat(shape.format);
  if (!Array.isArray(shape.ms)) fail('E_ARGUMENT', `ms must be an array of group sizes, got ${showValue(shape.ms)}`, { argument: 'ms', value: shape.ms });
  shape.ms.forEach((m, i) => checkInt(m, `ms[${i}]`, 0));
  checkInt(shape.n, 'n', 1);
  checkInt(shape.k, 'k', 1);
  const sms = checkSms(profile, opts?.sms);
  if (!shape.ms.some((m) => m > 0)) return null;
  let best: GemmPlan | null = null;
  for (const c of p.tileConfigs[fmt]) {
    const plan = planConfig(profile, p, { ...shape, format: fmt }, c, sms);
    if (!best || plan.bodyUs < best.bodyUs) best = plan;
  }
  return best;
}

/**
 * Virtual time of one m-grouped GEMM launch over all groups (e.g. a rank's local experts, each with
 * the tokens routing gave it), us. All groups empty costs nothing.
 * @example groupedGemmTimeUs(H800, { ms: [512, 130, 7], n: 4096, k: 7168, format: 'fp8' })
 */
export function groupedGemmTimeUs(profile: HardwareProfile, shape: GroupedGemmShape, opts?: ComputeTimeOptions): number {
  const plan = planGroupedGemm(profile, shape, opts);
  return plan ? profile.kernelLaunchUs + plan.bodyUs : 0;
}

/**
 * Virtual time of one GEMM, us (zero rows cost nothing).
 * @example gemmTimeUs(H200, { m: 4096, n: 4096, k: 7168, format: 'fp8' }) // ~174 us
 */
export function gemmTimeUs(profile: HardwareProfile, shape: GemmShape, opts?: ComputeTimeOptions): number {
  checkTimeArgs(profile, opts, shape);
  return groupedGemmTimeUs(profile, { ms: [checkInt(shape.m, 'm', 0)], n: shape.n, k: shape.k, format: shape.format }, opts);
}

/**
 * What the H200 measurement of `h200-compute.md` would read for a GEMM the model predicts: the
 * kernel body plus the event-timed trivial launch and PyTorch's per-op overhead. Used to compare the
 * model with the table; simulated time uses {@link gemmTimeUs}.
 */
export function measuredGemmUs(profile: HardwareProfile, shape: GemmShape, opts?: ComputeTimeOptions): number {
  const p = checkTimeArgs(profile, opts, shape);
  const plan = planGroupedGemm(profile, { ms: [checkInt(shape.m, 'm', 0)], n: shape.n, k: shape.k, format: shape.format }, opts);
  return p.measuredLaunchUs + p.measuredOpOverheadUs[shape.format] + (plan?.bodyUs ?? 0);
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
  checkTimeArgs(profile, opts, shape);
  const t = checkInt(shape.tokens, 'tokens', 0);
  if (t === 0) return 0;
  return groupedExpertsTimeUs(profile, { tokensPerExpert: [t], hidden: shape.hidden, intermediate: shape.intermediate, format: shape.format }, opts);
}

/** Shape of a rank's local experts run as m-grouped GEMMs. */
export interface GroupedExpertsShape {
  /** Tokens routed to each local expert. */
  tokensPerExpert: readonly number[];
  hidden: number;
  intermediate: number;
  format: ComputeFormat;
}

/**
 * Virtual time of a rank's local SwiGLU experts as two m-grouped launches (up/gate over all experts,
 * then down over all experts), each expert with its own tokens. Zero tokens everywhere cost nothing.
 * @example groupedExpertsTimeUs(H800, { tokensPerExpert: [700, 12, 0, 300], hidden: 7168, intermediate: 2048, format: 'fp8' })
 */
export function groupedExpertsTimeUs(profile: HardwareProfile, shape: GroupedExpertsShape, opts?: ComputeTimeOptions): number {
  checkTimeArgs(profile, opts, shape);
  const h = checkInt(shape.hidden, 'hidden', 1), i = checkInt(shape.intermediate, 'intermediate', 1);
  const ms = shape.tokensPerExpert;
  return groupedGemmTimeUs(profile, { ms, n: 2 * i, k: h, format: shape.format }, opts) + groupedGemmTimeUs(profile, { ms, n: h, k: i, format: shape.format }, opts);
}
