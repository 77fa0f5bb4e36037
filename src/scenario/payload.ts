/**
 * @module
 * The real payload of a scenario and its dense reference. Inputs, gate weights and expert weights
 * are drawn from the scenario's seed (mulberry32 streams), so a run is reproducible; expert weights
 * are generated when an expert runs and dropped afterwards (256 experts of hidden 512 would
 * otherwise hold hundreds of MB).
 *
 * Verification: every output element `y` of every rank is compared with a dense, single-threaded
 * float64 reference `ref = sum_k w_k * expert_k(x) + sum_shared shared(x)` (experts in float32,
 * on the input as dispatched: BF16, or FP8 dequantized). The distributed path rounds to BF16 up
 * to three times: each rank's weighted partial sum (the combine input), each node's reduced partial
 * (internode combine: the NVLink forwarder sends BF16 over RDMA, as DeepEP's does), and the output.
 * Each rounding is at most u = 2^-8 (BF16's unit roundoff) of what it rounds, and everything it
 * rounds is bounded by `mag = sum_k |w_k * expert_k(x)| + sum |shared(x)|`, so the error is at most
 * about 3u * mag (FP32 accumulation adds far less). The check allows 4u:
 * `|y - ref| <= 2^-6 * mag + 1e-6` ({@link BF16_REL_TOL}, {@link ABS_TOL}).
 */
import { fail } from '../errors.js';
import { fromBF16Array, toBF16Array } from '../kernels/bf16.js';
import { expertFfn, type ExpertWeights } from '../kernels/ffn.js';
import { dequantizePerTile, quantizePerTile } from '../kernels/quantize.js';
import type { DispatchX } from '../ep/ep-records-io.js';
import { createRng } from '../routing/rng.js';
import type { MoePlan } from './plan.js';

/** Relative tolerance of the reference check, on the sum of the terms' magnitudes (2^-6 = 4 BF16 roundings). */
export const BF16_REL_TOL = 2 ** -6;
/** Absolute floor of the reference check. */
export const ABS_TOL = 1e-6;

const seedOf = (seed: number, kind: number, a: number, b: number) =>
  (Math.imul((seed ^ 0x85ebca6b) >>> 0, 0x9e3779b1) + kind * 0x632be5ab + a * 0x2545f491 + b * 0x68e31da4) >>> 0;

function uniform(n: number, scale: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * scale;
  return out;
}

/**
 * SwiGLU weights of logical expert `e` (`e < 0`: shared expert `-1 - e`), uniform with unit-variance
 * outputs (gate/up `U(-sqrt(3/H), sqrt(3/H))`, down `U(-sqrt(3/I), sqrt(3/I))`).
 */
export function expertWeights(plan: MoePlan, e: number): ExpertWeights {
  const { hidden: H, moeIntermediateSize: I } = plan.scenario.model;
  const seed = plan.scenario.routing.seed;
  const k = e + 1000;
  return {
    hidden: H, intermediate: I,
    gate: uniform(I * H, Math.sqrt(3 / H), seedOf(seed, 1, k, 0)),
    up: uniform(I * H, Math.sqrt(3 / H), seedOf(seed, 1, k, 1)),
    down: uniform(H * I, Math.sqrt(3 / I), seedOf(seed, 1, k, 2)),
  };
}

/** One rank's inputs in one step. */
export interface RankInput {
  /** The payload as dispatched (BF16 bits, or FP8 with per-128 scales). */
  x: DispatchX;
  /** What the experts see: the payload decoded to float32, [tokens][hidden]. */
  xf: Float32Array;
  /** [tokens][topk] weights (0 where the slot is -1), summing to 1 per token. */
  weights: Float32Array;
}

/** Seeded inputs of rank `rank` in step `step`: x uniform in [-1, 1) rounded to BF16. */
export function rankInput(plan: MoePlan, step: number, rank: number): RankInput {
  const s = plan.scenario;
  const { tokensPerRank: T, hidden: H, topk: K } = s.model;
  const xb = toBF16Array(uniform(T * H, 1, seedOf(s.routing.seed, 2, step, rank)));
  const slots = plan.steps[step]!.slots[rank]!;
  const rng = createRng(seedOf(s.routing.seed, 3, step, rank));
  const weights = new Float32Array(T * K);
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let j = 0; j < K; j++) {
      const w = slots[t * K + j]! < 0 ? 0 : 0.1 + rng.uniform();
      weights[t * K + j] = w;
      sum += w;
    }
    for (let j = 0; j < K; j++) weights[t * K + j] = sum > 0 ? Math.fround(weights[t * K + j]! / sum) : 0;
  }
  if (s.model.dispatchFormat === 'fp8') {
    const q = quantizePerTile(fromBF16Array(xb), T, H);
    return { x: q, xf: dequantizePerTile(q.q, q.scales, T, H), weights };
  }
  return { x: xb, xf: fromBF16Array(xb), weights };
}

/** Sum of the shared experts on `T` rows (float32), or null when the model has none. */
export function sharedOutput(plan: MoePlan, xf: Float32Array, T: number, shared: readonly ExpertWeights[]): Float32Array | null {
  if (shared.length === 0) return null;
  const out = new Float32Array(T * plan.scenario.model.hidden);
  for (const w of shared) {
    const y = expertFfn(xf, T, w);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]! + y[i]!);
  }
  return out;
}

/** Result of {@link checkAgainstReference}. */
export interface ReferenceCheck {
  ok: boolean;
  /** Elements outside the tolerance. */
  mismatches: number;
  /** Largest |y - ref| / (mag + 1e-30) seen. */
  maxRelErr: number;
  /** The first mismatch, for the message. */
  first?: { rank: number; token: number; col: number; got: number; want: number; tol: number };
}

/**
 * Compare every rank's output `y` (BF16 bits) of one step with the dense reference (module comment).
 * Experts run once per logical expert on all the rows that chose it, whichever replica served them.
 */
export function checkAgainstReference(
  plan: MoePlan, step: number, inputs: readonly RankInput[], y: readonly Uint16Array[], shared: readonly ExpertWeights[], signal?: AbortSignal,
): ReferenceCheck {
  const { tokensPerRank: T, hidden: H, topk: K, numExperts: E } = plan.scenario.model;
  const R = plan.numRanks;
  const { phy2log } = plan.layout;
  const ref = Array.from({ length: R }, () => new Float64Array(T * H));
  const mag = Array.from({ length: R }, () => new Float64Array(T * H));
  const add = (r: number, row: number, out: Float32Array, o: number, w: number) => {
    const a = ref[r]!, m = mag[r]!;
    for (let h = 0; h < H; h++) {
      const v = w * out[o + h]!;
      a[row * H + h]! += v;
      m[row * H + h]! += Math.abs(v);
    }
  };
  // Rows per logical expert: (rank, token, weight).
  const rows: number[][] = Array.from({ length: E }, () => []);
  for (let r = 0; r < R; r++) {
    const slots = plan.steps[step]!.slots[r]!;
    for (let i = 0; i < T * K; i++) {
      const p = slots[i]!;
      if (p >= 0) rows[phy2log[p]!]!.push(r, (i / K) | 0, i);
    }
  }
  for (let e = 0; e < E; e++) {
    if (signal?.aborted) fail('E_ABORTED', `run aborted while checking step ${step} against the reference`, { step });
    const list = rows[e]!;
    const n = list.length / 3;
    if (n === 0) continue;
    const xin = new Float32Array(n * H);
    for (let k = 0; k < n; k++) xin.set(inputs[list[3 * k]!]!.xf.subarray(list[3 * k + 1]! * H, (list[3 * k + 1]! + 1) * H), k * H);
    const out = expertFfn(xin, n, expertWeights(plan, e));
    for (let k = 0; k < n; k++) add(list[3 * k]!, list[3 * k + 1]!, out, k * H, inputs[list[3 * k]!]!.weights[list[3 * k + 2]!]!);
  }
  for (let r = 0; r < R; r++)
    for (const w of shared) {
      const out = expertFfn(inputs[r]!.xf, T, w);
      for (let t = 0; t < T; t++) add(r, t, out, t * H, 1);
    }
  const res: ReferenceCheck = { ok: true, mismatches: 0, maxRelErr: 0 };
  for (let r = 0; r < R; r++) {
    const got = fromBF16Array(y[r]!);
    if (got.length !== T * H) {
      res.ok = false;
      res.mismatches += T * H;
      continue;
    }
    for (let i = 0; i < T * H; i++) {
      const err = Math.abs(got[i]! - ref[r]![i]!);
      const tol = BF16_REL_TOL * mag[r]![i]! + ABS_TOL;
      res.maxRelErr = Math.max(res.maxRelErr, err / (mag[r]![i]! + 1e-30));
      if (!(err <= tol)) {
        if (res.ok) res.first = { rank: r, token: (i / H) | 0, col: i % H, got: got[i]!, want: ref[r]![i]!, tol };
        res.ok = false;
        res.mismatches++;
      }
    }
  }
  return res;
}
