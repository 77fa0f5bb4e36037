/**
 * @module
 * What a scheduled run reports: step time, communication time, the part of it no compute overlaps
 * (exposed), SM busy share per stream, and, scaled from the simulated layers to a DeepSeek-V3
 * step, the input throughput of a node. Pure functions over the kernels' spans.
 */
import type { ScheduledKernelRun } from './run-schedule.js';
import { COMM_KINDS, type Schedule, checkSchedule } from './schedule.js';
import { checkAlloc, checkArray, checkInt, checkNumber, checkObject } from '../validate.js';

/** Total length of the union of intervals. */
function unionUs(iv: Array<[number, number]>): number {
  const s = iv.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0, lo = -Infinity, hi = -Infinity;
  for (const [a, b] of s) {
    if (a > hi) {
      if (hi > lo) total += hi - lo;
      lo = a;
      hi = b;
    } else if (b > hi) hi = b;
  }
  if (hi > lo) total += hi - lo;
  return total;
}

/** Length of `a`'s union not covered by `b`'s union. */
function uncoveredUs(a: Array<[number, number]>, b: Array<[number, number]>): number {
  const both: Array<[number, number]> = [];
  // |A \ B| = |A ∪ B| - |B|
  both.push(...a, ...b);
  return unionUs(both) - unionUs(b);
}

/** Figures of the simulated layers, per rank averaged over the ranks. */
export interface SimulatedFigures {
  /** Layers simulated. */
  layers: number;
  /** From the first kernel's start to the last kernel's end on any rank, us. */
  makespanUs: number;
  /** Mean time between the starts of consecutive layers in steady state, us. */
  layerUs: number;
  /** Communication kernel time per rank (union of its comm kernels), mean over ranks, us. */
  commUs: number;
  /** The part of it no compute kernel of the same rank overlaps, mean over ranks, us. */
  exposedCommUs: number;
  /** Exposed communication per micro-batch (the rank's comm time of that micro-batch no compute overlaps), us. */
  exposedCommUsPerMb: number[];
  /** Per stream, its kernels' busy time over the makespan, mean over ranks. */
  smBusyShare: Record<string, number>;
}

/** Figures of the simulated layers of one scheduled run. */
export function simulatedFigures(schedule: Schedule, kernels: readonly ScheduledKernelRun[], numRanks: number, startUs: number, endUs: number): SimulatedFigures {
  checkSchedule(schedule);
  checkInt(numRanks, 'numRanks', 1);
  checkNumber(startUs, 'startUs');
  checkNumber(endUs, 'endUs');
  checkAlloc('simulatedFigures', 'the per-rank kernel lists', numRanks * 64, 'numRanks', true);
  checkArray(kernels, 'kernels');
  for (let i = 0; i < kernels.length; i++) {
    const k = checkObject(kernels[i], `kernels[${i}]`);
    checkInt(k['rank'], `kernels[${i}].rank`, 0, numRanks - 1);
    checkInt(k['stream'], `kernels[${i}].stream`, 0, schedule.streams.length - 1);
    checkInt(k['mb'], `kernels[${i}].mb`, 0, schedule.microBatches - 1);
    checkNumber(k['startUs'], `kernels[${i}].startUs`);
    checkNumber(k['endUs'], `kernels[${i}].endUs`);
  }
  const perRank = Array.from({ length: numRanks }, () => [] as ScheduledKernelRun[]);
  for (const k of kernels) perRank[k.rank]!.push(k);
  let comm = 0, exposed = 0;
  const exposedMb = new Array<number>(schedule.microBatches).fill(0);
  const busy = new Array<number>(schedule.streams.length).fill(0);
  const makespan = endUs - startUs;
  const first = schedule.kernels[0]!.kind;
  const firstMb = schedule.kernels[0]!.mb;
  const layerStart = new Array<number>(schedule.layers).fill(-Infinity);
  for (const ks of perRank) {
    const iv = (f: (k: ScheduledKernelRun) => boolean) => ks.filter(f).map((k): [number, number] => [k.startUs, k.endUs]);
    const compute = iv((k) => !COMM_KINDS.has(k.kind));
    comm += unionUs(iv((k) => COMM_KINDS.has(k.kind)));
    exposed += uncoveredUs(iv((k) => COMM_KINDS.has(k.kind)), compute);
    for (let m = 0; m < schedule.microBatches; m++) exposedMb[m]! += uncoveredUs(iv((k) => COMM_KINDS.has(k.kind) && k.mb === m), compute);
    schedule.streams.forEach((_, s) => (busy[s]! += unionUs(iv((k) => k.stream === s))));
    for (const k of ks) if (k.kind === first && k.mb === firstMb) layerStart[k.layer] = Math.max(layerStart[k.layer]!, k.startUs);
  }
  const L = schedule.layers;
  // Steady state: the spacing of layer starts after the first layer (its start has no pipeline to wait for).
  const layerUs = L >= 3 ? (layerStart[L - 1]! - layerStart[1]!) / (L - 2) : L === 2 ? layerStart[1]! - layerStart[0]! : makespan;
  const n = numRanks;
  return {
    layers: L,
    makespanUs: makespan,
    layerUs,
    commUs: comm / n,
    exposedCommUs: exposed / n,
    exposedCommUsPerMb: exposedMb.map((x) => x / n),
    smBusyShare: Object.fromEntries(schedule.streams.map((s, i) => [s.name, makespan > 0 ? busy[i]! / n / makespan : 0])),
  };
}

/** DeepSeek-V3's layers per step (§1): 61, the first 3 dense. */
export const V3_LAYERS = 61;
export const V3_DENSE_LAYERS = 3;
/**
 * Share of input tokens that hit the on-disk KV cache in DeepSeek's 24-hour production figures
 * (342B of 608B, deepseek-v3-workloads.md §3): they cost no prefill compute but count as input.
 */
export const CACHE_HIT_SHARE = 342 / 608;

/** A prefill step scaled from the simulated layers to a whole model. */
export interface StepFigures {
  /** One forward step of every layer, us. */
  stepUs: number;
  /** Communication kernel time per step (mean rank), us. */
  commUs: number;
  /** Communication no compute overlaps, per step (mean rank), us. */
  exposedCommUs: number;
  /** 1 - exposed / comm. */
  hiddenShare: number;
  layersSimulated: number;
  layersPerStep: number;
  throughputPerNode: {
    /** Input tokens per second a node takes in, cache hits included (reference §3 assumptions). */
    inputTokensPerSec: number;
    /** Tokens per second the node computes (no cache hits). */
    computedTokensPerSec: number;
    /** The cache-hit share assumed. */
    cacheHitShare: number;
  };
}

/**
 * Scale simulated MoE layers to a DeepSeek-V3 step: `V3_LAYERS - V3_DENSE_LAYERS` MoE layers of
 * the steady layer time plus the dense layers' compute (`denseLayerUs` each, no communication);
 * communication and exposure per MoE layer are the simulated totals over the simulated layers.
 */
export function stepFigures(sim: SimulatedFigures, denseLayerUs: number, tokensPerRank: number, gpusPerNode: number): StepFigures {
  checkObject(sim, 'sim');
  checkInt(sim.layers, 'sim.layers', 1);
  for (const k of ['layerUs', 'commUs', 'exposedCommUs'] as const) checkNumber(sim[k], `sim.${k}`, true);
  checkNumber(denseLayerUs, 'denseLayerUs', true);
  checkNumber(tokensPerRank, 'tokensPerRank', true);
  checkInt(gpusPerNode, 'gpusPerNode', 1);
  const moe = V3_LAYERS - V3_DENSE_LAYERS;
  const stepUs = moe * sim.layerUs + V3_DENSE_LAYERS * denseLayerUs;
  const commUs = (sim.commUs / sim.layers) * moe;
  const exposedCommUs = (sim.exposedCommUs / sim.layers) * moe;
  const computed = (tokensPerRank * gpusPerNode) / (stepUs * 1e-6);
  return {
    stepUs, commUs, exposedCommUs, // Exposed time is part of the communication time; their sums may differ by a rounding ulp.
    hiddenShare: commUs > 0 ? Math.max(0, 1 - exposedCommUs / commUs) : 0,
    layersSimulated: sim.layers, layersPerStep: V3_LAYERS,
    throughputPerNode: { inputTokensPerSec: computed / (1 - CACHE_HIT_SHARE), computedTokensPerSec: computed, cacheHitShare: CACHE_HIT_SHARE },
  };
}

/** What a scheduled scenario reports. */
export interface ScheduleFigures extends StepFigures {
  kind: string;
  commSms: number;
  /** The notify step of every micro-batch, before each simulated schedule (not in `stepUs`), us. */
  notifyUs: number;
  /** Dense-layer compute of a step's 3 dense layers, each, us. */
  denseLayerUs: number;
  simulated: SimulatedFigures;
}
