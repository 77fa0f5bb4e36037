/**
 * @module
 * The result of `runScenario` and how it is computed from the phases of a run: per phase virtual
 * time, bytes and bandwidth per link type, loads, tokens, and the routing of every step.
 */
import { PATH_IB, PATH_LOCAL, PATH_NVLINK, OP_PUT } from '../transport/protocol.js';
import { TIMELINE_FIELDS, TIMELINE_STRIDE } from '../sim/timeline.js';
import { PHASES, type PhaseName, type PhaseRun } from './moe-steps.js';
import type { MoePlan } from './plan.js';
import type { EpConfig } from '../ep/normal/ep-config.js';
import { slotGpuOf } from '../balancer/layout.js';
import { benchmarkRowBytes } from '../ep/records.js';
import type { ScheduleFigures } from '../schedule/figures.js';
import { checkArray, checkInt, checkMade } from '../validate.js';
import { PLAN } from './plan.js';
import { PHASE } from './moe-steps.js';

/** Bytes or GB/s per link type. */
export interface PerLink {
  local: number;
  nvlink: number;
  ib: number;
}

/**
 * Bandwidth of a kernel as DeepEP's test (`test_internode.py`, `test_intranode.py`) and
 * `expertmesh bench deepep` count it, for rank 0: RDMA = (token, destination node) pairs the rank
 * sends (its `num_tokens_per_rdma_rank`, own node included) x row bytes over the rank's kernel time;
 * NVL = tokens the rank receives x row bytes over the same time. Row bytes: hidden x (1 + 4/128) for
 * FP8 (scales included), hidden x 2 for BF16 (combine is always BF16). Summed over steps.
 */
export interface DeepepBandwidth {
  /** RDMA GB/s; null on one node. */
  rdmaGBps: number | null;
  /** NVL GB/s. */
  nvlGBps: number;
  /** The rank the figures are of (0, as DeepEP prints). */
  rank: number;
  /** That rank's kernel time, us (sum over steps). */
  kernelUs: number;
}

/** One phase, summed over steps. */
export interface PhaseSummary {
  /** Virtual time, us (sum over steps). */
  timeUs: number;
  /** Payload bytes moved per link type (puts only). */
  bytes: PerLink;
  /**
   * Per-GPU average bandwidth per link type: bytes over ranks over the phase time, GB/s. Not the
   * figure DeepEP prints (see {@link deepep}): an average over every GPU and the whole phase.
   */
  bandwidthGBps: PerLink;
  /** Transfers (puts and signals), local copies included. */
  transfers: number;
  /** Transfers that cross NVLink or IB (local copies excluded): the trace's `otherData.transfers` counts these. */
  linkTransfers: number;
  /** Dispatch and combine: bandwidth as DeepEP's benchmark counts it; null for notify and experts. */
  deepep: DeepepBandwidth | null;
}

/** Max, mean and their ratio. */
export interface LoadStats {
  max: number;
  mean: number;
  maxOverMean: number;
}

/** Smallest and largest entry of the gate's bias. */
export interface BiasRange {
  min: number;
  max: number;
}

/** The routing of one simulated step. */
export interface StepRouting {
  /** The simulated step, counted from 1 as in progress, traces and the CLI (warm-up steps not counted). */
  step: number;
  load: {
    /** (token, k) pairs per logical expert. */
    expert: LoadStats;
    /** (token, k) pairs each GPU computes. */
    gpu: LoadStats;
  };
  /** `[src node][dst node]`: distinct tokens a node sends to each node (the diagonal stays on NVLink). */
  nodeTokens: number[][];
  /** Range of the bias the step was routed with; null without a bias. */
  bias: BiasRange | null;
}

/** How the run routed: bias balancing, the routing-only warm-up, and every simulated step. */
export interface RoutingFigures {
  mode: 'gate' | 'synthetic';
  /** γ of the bias update after each step (gate mode); 0 = no bias. */
  biasUpdateRate: number;
  warmup: {
    /** Routing-only steps run before the simulated ones. */
    steps: number;
    /** Load of the last warm-up step (GPU: on the contiguous placement); null with no warm-up. */
    load: { expert: LoadStats; gpu: LoadStats } | null;
    /** Range of the bias the warm-up left; null without a bias. */
    bias: BiasRange | null;
  };
  steps: StepRouting[];
}

/** The figures of one run. */
export interface RunFigures {
  scenario: string;
  payload: 'real' | 'sizes-only';
  cluster: { nodes: number; gpusPerNode: number; ranks: number; hardware: string; workers: number };
  /** The kernel configs run, each with its `source` ('deepep', 'nearest' or 'given'). */
  configs: { dispatch: EpConfig; combine: EpConfig };
  steps: number;
  /** Virtual time of all steps, us. */
  virtualTimeUs: number;
  /** Per kernel phase; scheduled runs add `schedule` (the whole scheduled step). */
  phases: PhaseSummaries;
  load: {
    /** (token, k) pairs per logical expert, per step. */
    expert: LoadStats;
    /** (token, k) pairs each GPU computes, per step. */
    gpu: LoadStats;
    /** Distinct tokens each GPU receives, per step. */
    gpuTokens: LoadStats;
  };
  tokens: { dispatched: number; received: number; conserved: boolean };
  /** The routing of the run: the warm-up and every simulated step's load, node-pair traffic and bias. */
  routing: RoutingFigures;
  /** SHA-256 hex over all ranks' outputs in rank order (sizes-only: received counts and layouts). */
  outputDigest: string;
  /** SHA-256 hex over the canonical timeline (see `MoeStepsResult.timeline`). */
  timelineDigest: string;
  /** Outputs matched the dense reference; null when not checked. */
  verified: boolean | null;
  /** When `verified` is false: the first difference from the dense reference. */
  mismatch?: string;
  /** Wall-clock time of this run alone, ms (for the main run: without the check run and the cluster's start). */
  wallMs: number;
  /** Peak resident memory of the process so far (every thread), bytes: host memory actually used. */
  peakRssBytes?: number;
  /**
   * Simulated HBM on the busiest rank, bytes: what DeepEP would allocate for the layer's buffers and
   * tensors on the run's counts (the same with or without payload), against `hbmCapacityBytes`.
   */
  simulatedHbmBytes?: number;
  /** The profile's HBM per rank, bytes. */
  hbmCapacityBytes?: number;
  /** Scheduled runs: one step of the whole model (scaled from `layersSimulated` MoE layers), us. */
  stepUs?: number;
  /** Scheduled runs: all communication kernel time per step (mean rank), us. */
  commUs?: number;
  /** Scheduled runs: the communication no compute overlaps, per step (mean rank), us. */
  exposedCommUs?: number;
  /** Scheduled runs: MoE layers simulated to scale a step from. */
  layersSimulated?: number;
  /** Scheduled runs: input tokens per second per node (reference §3 assumptions: cache hits count). */
  throughputPerNode?: ScheduleFigures['throughputPerNode'];
  /** Scheduled runs: the schedule's figures in full. */
  schedule?: ScheduleFigures;
}

/** Per-phase summaries: every kernel phase, plus `schedule` for scheduled runs. */
export type PhaseSummaries = Record<(typeof PHASES)[number], PhaseSummary> & { schedule?: PhaseSummary };

/** What `runScenario` returns. */
export interface ScenarioResult extends RunFigures {
  schemaVersion: 1;
  /** Wall-clock time of the whole call, ms: cluster start, main run, check run, trace. */
  totalWallMs: number;
  /** The reduced real-payload check run, when the scenario has `check`. */
  check: RunFigures | null;
  trace: { path: string; events: number; transfersDrawn: number; transfersNotDrawn: number } | null;
}

export function loadStats(v: ArrayLike<number>): LoadStats {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    max = Math.max(max, v[i]!);
    sum += v[i]!;
  }
  const mean = v.length ? sum / v.length : 0;
  return { max, mean, maxOverMean: mean > 0 ? max / mean : 0 };
}

/** Sum the phases of a run into per-phase summaries. */
export function summarizePhases(phases: readonly PhaseRun[], numRanks: number): PhaseSummaries {
  const empty = (): PhaseSummary => ({ timeUs: 0, bytes: { local: 0, nvlink: 0, ib: 0 }, bandwidthGBps: { local: 0, nvlink: 0, ib: 0 }, transfers: 0, linkTransfers: 0, deepep: null });
  const out = Object.fromEntries(PHASES.map((p) => [p, empty()])) as Record<PhaseName, PhaseSummary>;
  if (phases.some((p) => p.phase === 'schedule')) out.schedule = empty();
  const key = { [PATH_LOCAL]: 'local', [PATH_NVLINK]: 'nvlink', [PATH_IB]: 'ib' } as Record<number, keyof PerLink>;
  const [OP, PATH, BYTES] = (['op', 'path', 'bytes'] as const).map((f) => TIMELINE_FIELDS.indexOf(f));
  for (const p of phases) {
    const s = out[p.phase];
    s.timeUs += p.endUs - p.startUs;
    const tl = p.timeline;
    if (tl) {
      // Read the flat records: a full-size phase has about a million of them.
      s.transfers += tl.length / TIMELINE_STRIDE;
      for (let i = 0; i < tl.length; i += TIMELINE_STRIDE) {
        if (tl[i + PATH!] !== PATH_LOCAL) s.linkTransfers++;
        if (tl[i + OP!] === OP_PUT) s.bytes[key[tl[i + PATH!]!]!] += tl[i + BYTES!]!;
      }
    } else {
      s.transfers += p.records.length;
      for (const r of p.records) {
        if (r.path !== PATH_LOCAL) s.linkTransfers++;
        if (r.op === OP_PUT) s.bytes[key[r.path]!] += r.bytes;
      }
    }
  }
  for (const s of Object.values(out))
    for (const k of ['local', 'nvlink', 'ib'] as const) s.bandwidthGBps[k] = s.timeUs > 0 ? s.bytes[k] / numRanks / s.timeUs / 1e3 : 0;
  return out as PhaseSummaries;
}

/**
 * DeepEP's bandwidth figures of dispatch and combine for `rank` (see {@link DeepepBandwidth}), from
 * the plan's routing and the phases' per-rank kernel times. Null for a kernel without those times.
 */
export function deepepBandwidth(plan: MoePlan, phases: readonly PhaseRun[], rank = 0): { dispatch: DeepepBandwidth | null; combine: DeepepBandwidth | null } {
  checkMade(plan, 'plan', PLAN, 'planScenario()');
  checkArray(phases, 'phases');
  for (let i = 0; i < phases.length; i++) checkMade(phases[i], `phases[${i}]`, PHASE, 'runMoeSteps() or runScenario()');
  checkInt(rank, 'rank', 0, plan.numRanks - 1);
  const R = plan.numRanks;
  const K = plan.scenario.model.topk;
  const gpn = plan.gpusPerNode;
  const multiNode = plan.numNodes > 1;
  let rdmaTokens = 0;
  let recvTokens = 0;
  const nodeSeen = new Int32Array(plan.numNodes);
  for (const st of plan.steps) {
    for (let src = 0; src < R; src++) recvTokens += st.sendTokens[src * R + rank]!;
    const row = st.slots[rank]!;
    nodeSeen.fill(-1);
    for (let i = 0; i < row.length; i++) {
      const p = row[i]!;
      if (p < 0) continue;
      const node = Math.floor(slotGpuOf(plan.layout, p) / gpn);
      const t = (i / K) | 0;
      if (nodeSeen[node] !== t) {
        nodeSeen[node] = t;
        rdmaTokens++;
      }
    }
  }
  const fig = (phase: 'dispatch' | 'combine', rowBytes: number): DeepepBandwidth | null => {
    let us = 0;
    for (const p of phases) {
      if (p.phase !== phase) continue;
      if (!p.kernelRankUs) return null;
      us += p.kernelRankUs[rank]!;
    }
    if (!(us > 0)) return null;
    return { rdmaGBps: multiNode ? (rdmaTokens * rowBytes) / us / 1e3 : null, nvlGBps: (recvTokens * rowBytes) / us / 1e3, rank, kernelUs: us };
  };
  const h = plan.scenario.model.hidden;
  return { dispatch: fig('dispatch', benchmarkRowBytes(h, plan.scenario.model.dispatchFormat)), combine: fig('combine', benchmarkRowBytes(h, 'bf16')) };
}

/** Loads and token counts of a plan, per step (stats over all steps' values). */
export function planFigures(plan: MoePlan): Pick<RunFigures, 'load'> & { dispatched: number } {
  const R = plan.numRanks;
  const perGpu = plan.layout.slotsPerGpu;
  const expert: number[] = [];
  const gpu: number[] = [];
  const gpuTokens: number[] = [];
  let dispatched = 0;
  for (const st of plan.steps) {
    expert.push(...st.expertLoad);
    for (let g = 0; g < R; g++) {
      let pairs = 0;
      for (let j = 0; j < perGpu; j++) pairs += st.slotLoad[g * perGpu + j]!;
      gpu.push(pairs);
      let toks = 0;
      for (let src = 0; src < R; src++) toks += st.sendTokens[src * R + g]!;
      gpuTokens.push(toks);
      dispatched += toks;
    }
  }
  return { load: { expert: loadStats(expert), gpu: loadStats(gpu), gpuTokens: loadStats(gpuTokens) }, dispatched };
}

function biasRange(b: Float64Array | null): BiasRange | null {
  if (b === null) return null;
  let min = Infinity;
  let max = -Infinity;
  for (const v of b) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { min, max };
}

/** Pairs per GPU of one step (physical slots summed per GPU). */
function gpuPairs(plan: MoePlan, slotLoad: Int32Array): Int32Array {
  const perGpu = plan.layout.slotsPerGpu;
  const out = new Int32Array(plan.numRanks);
  for (let g = 0; g < plan.numRanks; g++) for (let j = 0; j < perGpu; j++) out[g]! += slotLoad[g * perGpu + j]!;
  return out;
}

/**
 * The routing figures of a plan, as `runScenario` reports them in `routing`: the warm-up, then each
 * simulated step's load, tokens per node pair and bias range.
 * @example
 * const f = routingFigures(planScenario(loadScenario('examples/training-ep64.json')));
 * console.log(f.warmup.load?.gpu.maxOverMean, f.steps[0]?.bias);
 */
export function routingFigures(plan: MoePlan): RoutingFigures {
  checkMade(plan, 'plan', PLAN, 'planScenario()');
  const s = plan.scenario;
  const N = plan.numNodes;
  const w = plan.warmup;
  return {
    mode: s.routing.mode,
    biasUpdateRate: s.routing.mode === 'gate' ? s.routing.biasUpdateRate : 0,
    warmup: {
      steps: w.steps,
      load: w.last && { expert: loadStats(w.last.expertLoad), gpu: loadStats(w.last.gpuLoad) },
      bias: biasRange(w.bias),
    },
    steps: plan.steps.map((st, i) => ({
      step: i + 1,
      load: { expert: loadStats(st.expertLoad), gpu: loadStats(gpuPairs(plan, st.slotLoad)) },
      nodeTokens: Array.from({ length: N }, (_, src) => Array.from(st.nodeTokens.subarray(src * N, src * N + N))),
      bias: biasRange(st.bias),
    })),
  };
}

/**
 * Per-step loads for plots: (token, k) pairs per logical expert, and per GPU before EPLB (each GPU
 * holding its contiguous block of experts) and after it (the replica layout the run used; null when
 * EPLB is off, as the two would be the same).
 */
export interface RunLoads {
  /** `experts[step][expert]`. */
  experts: number[][];
  /** `gpuBefore[step][gpu]`: the contiguous layout, experts E/R per GPU. */
  gpuBefore: number[][];
  /** `gpuAfter[step][gpu]`: with EPLB's replicas; null without EPLB. */
  gpuAfter: number[][] | null;
}

export function planLoads(plan: MoePlan): RunLoads {
  checkMade(plan, 'plan', PLAN, 'planScenario()');
  const R = plan.numRanks;
  const eplb = plan.scenario.balancing.enableEplb;
  const experts = plan.steps.map((st) => Array.from(st.expertLoad));
  const gpuBefore = experts.map((load) => {
    const per = load.length / R;
    return Array.from({ length: R }, (_, g) => load.slice(Math.floor(g * per), Math.floor((g + 1) * per)).reduce((a, b) => a + b, 0));
  });
  const gpuAfter = eplb
    ? plan.steps.map((st) => Array.from(gpuPairs(plan, st.slotLoad)))
    : null;
  return { experts, gpuBefore, gpuAfter };
}
