/**
 * @module
 * The routing plan of a scenario, computed on the main thread before anything is simulated: which
 * physical expert slot every (token, k) of every rank goes to, per step, and the counts that follow
 * (tokens per source/destination pair and node pair, pairs per slot). In gate mode the gate's bias
 * is balanced across steps, after an optional routing-only warm-up (`route-steps.ts`). Pure and
 * deterministic in the seed.
 */
import { createHash } from 'node:crypto';
import { fail } from '../errors.js';
import type { HardwareProfile } from '../hardware/profile.js';
import { loadHardwareProfile } from '../hardware/profile-file.js';
import type { EpConfig } from '../ep/normal/ep-config.js';
import { scenarioEpConfigs } from './moe-steps.js';
import { rebalanceExperts } from '../balancer/eplb.js';
import { layerLayout, layoutFromPhy2log, slotGpuOf, type ReplicaLayout } from '../balancer/layout.js';
import { routeToReplicas } from '../balancer/replica-routing.js';
import { zipfPopularity } from '../balancer/zipf.js';
import { createStepRouter, type RoutedStep } from './route-steps.js';
import type { Scenario } from './schema.js';
import { parseScenario } from './load.js';
import { estimateScenarioRun } from './estimate.js';
import { checkEstimate } from '../cluster/host-limits.js';
import { stamp } from '../validate.js';

/** What {@link checkMade} calls a plan. */
export const PLAN = 'a plan';

/** The routed work of one step. */
export interface MoeStepPlan {
  /** Per source rank: physical slot of every (token, k), `[tokensPerRank][topk]` row-major. */
  slots: Int32Array[];
  /** Tokens rank `src` sends to rank `dst` (a token counts once per destination): index `src * numRanks + dst`. */
  sendTokens: Int32Array;
  /** (token, k) pairs each physical slot computes. */
  slotLoad: Int32Array;
  /** (token, k) pairs per logical expert. */
  expertLoad: Int32Array;
  /** Distinct tokens node `src` sends to node `dst` (once per destination node, as RDMA carries them): `src * numNodes + dst`. */
  nodeTokens: Int32Array;
  /** The gate bias the step was routed with (gate mode with a bias), else null. */
  bias: Float64Array | null;
}

/** What the routing-only warm-up did. */
export interface WarmupPlan {
  steps: number;
  /** The last warm-up step (routed with the bias before its update): pairs per logical expert, and per GPU on the contiguous placement. Null with no warm-up. */
  last: { expertLoad: Int32Array; gpuLoad: Int32Array } | null;
  /** The bias the warm-up left (the first simulated step's), or null without a bias. */
  bias: Float64Array | null;
}

/** Everything the MoE layer needs to run a scenario. */
export interface MoePlan {
  scenario: Scenario;
  hardware: HardwareProfile;
  numRanks: number;
  gpusPerNode: number;
  numNodes: number;
  /** Physical slots on the GPUs (identity when EPLB is off). */
  layout: ReplicaLayout;
  /** The routing-only steps run before `steps`. */
  warmup: WarmupPlan;
  /** The dispatch and combine configs (DeepEP's defaults for the rank count unless given), with their `source`. */
  epConfigs: { dispatch: EpConfig; combine: EpConfig };
  steps: MoeStepPlan[];
}

/** Count what a step's slots imply. */
function countStep(slots: Int32Array[], layout: ReplicaLayout, K: number, E: number, numNodes: number, bias: Float64Array | null): MoeStepPlan {
  const R = layout.numGpus;
  const gpn = R / numNodes;
  const sendTokens = new Int32Array(R * R);
  const nodeTokens = new Int32Array(numNodes * numNodes);
  const slotLoad = new Int32Array(layout.phy2log.length);
  const expertLoad = new Int32Array(E);
  const seen = new Int32Array(R).fill(-1);
  const seenNode = new Int32Array(numNodes).fill(-1);
  slots.forEach((row, src) => {
    seen.fill(-1);
    seenNode.fill(-1);
    const srcNode = Math.floor(src / gpn);
    for (let i = 0; i < row.length; i++) {
      const p = row[i]!;
      if (p < 0) continue;
      slotLoad[p]!++;
      expertLoad[layout.phy2log[p]!]!++;
      const g = slotGpuOf(layout, p);
      const t = (i / K) | 0;
      if (seen[g] !== t) {
        seen[g] = t;
        sendTokens[src * R + g]!++;
      }
      const n = Math.floor(g / gpn);
      if (seenNode[n] !== t) {
        seenNode[n] = t;
        nodeTokens[srcNode * numNodes + n]!++;
      }
    }
  });
  return { slots, sendTokens, slotLoad, expertLoad, nodeTokens, bias };
}

/** Pairs per GPU when `numRanks` GPUs hold the experts contiguously (the warm-up's view: no replicas yet). */
function contiguousGpuLoad(expertLoad: Int32Array, numRanks: number): Int32Array {
  const per = expertLoad.length / numRanks;
  const out = new Int32Array(numRanks);
  for (let e = 0; e < expertLoad.length; e++) out[Math.floor(e / per)]! += expertLoad[e]!;
  return out;
}

/** Where {@link planSteps} pauses: after each routed step, warm-up or simulated. */
interface RoutedMark {
  warmup: boolean;
  /** Steps of that kind routed so far. */
  done: number;
}

/** The plan, built step by step: yields after each routed step so that a caller may pause there. */
function* planSteps(input: Scenario, where: string): Generator<RoutedMark, MoePlan> {
  // Validated again (cheap, idempotent): a hand-built object gets the same one-line errors as a file.
  const s = parseScenario(input, where);
  // The plan alone holds steps x ranks x tokens x topk ids: refuse before allocating them.
  checkEstimate(estimateScenarioRun(s, 'none'));
  const hardware = loadHardwareProfile(s.cluster.hardware, 'cluster.hardware');
  const { nodes, gpusPerNode } = s.cluster;
  const R = nodes * gpusPerNode;
  const { numExperts: E, topk: K, tokensPerRank: T } = s.model;
  const popularity = zipfPopularity(1, E, s.routing.zipf, s.routing.seed)[0]!;
  const router = createStepRouter(s, R, popularity);
  let last: RoutedStep | null = null;
  for (let w = 0; w < s.routing.warmupSteps; w++) {
    last = router.next();
    yield { warmup: true, done: w + 1 };
  }
  const warmup: WarmupPlan = {
    steps: s.routing.warmupSteps,
    last: last && { expertLoad: last.expertLoad, gpuLoad: contiguousGpuLoad(last.expertLoad, R) },
    bias: router.bias,
  };
  const logical: RoutedStep[] = [];
  for (let i = 0; i < s.steps; i++) {
    logical.push(router.next());
    yield { warmup: false, done: i + 1 };
  }
  let layout = layoutFromPhy2log(Array.from({ length: E }, (_, p) => p), E, R, nodes);
  if (s.balancing.enableEplb) {
    const numSlots = E + s.balancing.numRedundantExperts;
    layout = layerLayout(rebalanceExperts([Array.from(logical[0]!.expertLoad)], numSlots, s.model.numGroups, nodes, R), 0, R, nodes);
  }
  const steps = logical.map(({ topk, bias }) => {
    const slots = s.balancing.enableEplb
      ? topk.map((idx) => {
          const rows = Array.from({ length: T }, (_, t) => Array.from(idx.subarray(t * K, t * K + K)));
          const routed = routeToReplicas(rows, layout, { policy: s.balancing.replicaPolicy, tokenNodes: 'any' });
          return Int32Array.from(routed.slots.flat());
        })
      : topk;
    return countStep(slots, layout, K, E, nodes, bias);
  });
  return stamp({ scenario: s, hardware, numRanks: R, gpusPerNode, numNodes: nodes, layout, warmup, epConfigs: scenarioEpConfigs(s), steps }, PLAN);
}

/**
 * Route every step of a scenario: first `routing.warmupSteps` routing-only steps (gate and bias
 * update, no kernels), then the simulated steps, the gate's bias carried across all of them. With
 * `balancing.enableEplb`, EPLB plans the replicas from the expert loads of the first simulated step
 * and every step is then routed onto the replicas.
 */
export function planScenario(s: Scenario): MoePlan {
  const it = planSteps(s, 'planScenario');
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/**
 * {@link planScenario}, returning to the event loop after each routed step (a training step's routing
 * takes seconds of CPU) so that `signal` can abort it there.
 * @throws ExpertmeshError `E_ABORTED` when `signal` aborts.
 */
export async function planScenarioAsync(s: Scenario, signal?: AbortSignal): Promise<MoePlan> {
  const it = planSteps(s, 'planScenario');
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted) {
      const what = r.value.warmup ? `warm-up step ${r.value.done} of ${s.routing.warmupSteps}` : `routing step ${r.value.done} of ${s.steps}`;
      fail('E_ABORTED', `run aborted while routing, after ${what}`, { warmup: r.value.warmup, done: r.value.done });
    }
  }
}

/** Bytes of one dispatched token: FP8 with per-128 float32 scales, or BF16, plus top-k ids (int64) and weights (float32). */
export function dispatchBytesPerToken(s: Scenario): number {
  s = parseScenario(s, 'dispatchBytesPerToken');
  const h = s.model.hidden;
  const x = s.model.dispatchFormat === 'fp8' ? h + Math.ceil(h / 128) * 4 : 2 * h;
  return x + s.model.topk * 12;
}

/** Bytes of one combined token (BF16 hidden). */
export function combineBytesPerToken(s: Scenario): number {
  s = parseScenario(s, 'combineBytesPerToken');
  return 2 * s.model.hidden;
}

/**
 * SHA-256 hex over what every rank receives, ranks in order: per step, per destination rank, the
 * tokens from each source and the pairs of each of its slots (int32 little-endian). The sizes-only
 * output digest.
 */
export function layoutDigest(plan: MoePlan): string {
  const h = createHash('sha256');
  const R = plan.numRanks;
  const perGpu = plan.layout.slotsPerGpu;
  for (const st of plan.steps) {
    for (let dst = 0; dst < R; dst++) {
      const row = new Int32Array(R + perGpu);
      for (let src = 0; src < R; src++) row[src] = st.sendTokens[src * R + dst]!;
      row.set(st.slotLoad.subarray(dst * perGpu, dst * perGpu + perGpu), R);
      h.update(new Uint8Array(row.buffer));
    }
  }
  return h.digest('hex');
}
