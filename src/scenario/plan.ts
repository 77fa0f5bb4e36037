/**
 * @module
 * The routing plan of a scenario, computed on the main thread before anything is simulated: which
 * physical expert slot every (token, k) of every rank goes to, per step, and the counts that follow
 * (tokens per source/destination pair, pairs per slot). Pure and deterministic in the seed.
 */
import { createHash } from 'node:crypto';
import { getHardwareProfile, type HardwareProfile } from '../hardware/profile.js';
import { gateFromLogits } from '../routing/gate.js';
import { contiguousPlacement } from '../routing/placement.js';
import type { GateConfig } from '../routing/config.js';
import { createRng } from '../routing/rng.js';
import { rebalanceExperts } from '../balancer/eplb.js';
import { layerLayout, layoutFromPhy2log, slotGpu, type ReplicaLayout } from '../balancer/layout.js';
import { routeToReplicas } from '../balancer/replica-routing.js';
import { sampleTopk, zipfPopularity } from '../balancer/zipf.js';
import type { Scenario } from './schema.js';

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
  steps: MoeStepPlan[];
}

function gateConfig(s: Scenario): GateConfig {
  const m = s.model;
  return { scoreFunc: m.scoreFunc, numExperts: m.numExperts, topk: m.topk, numGroups: m.numGroups, topkGroups: m.topkGroups, routeScale: m.routeScale };
}

/** Seed of (step, rank): distinct, stable streams. */
const streamSeed = (seed: number, step: number, rank: number) => (Math.imul(seed ^ 0x9e3779b9, 2654435761) + step * 100_003 + rank * 7919) >>> 0;

/** Logical top-k of one rank's tokens in one step. */
export function routeRank(s: Scenario, step: number, rank: number, popularity: readonly number[], numRanks: number): Int32Array {
  const { tokensPerRank: T, topk: K, numExperts: E } = s.model;
  const seed = streamSeed(s.routing.seed, step, rank);
  if (s.routing.mode === 'synthetic') {
    const rows = sampleTopk(popularity, T, K, seed);
    const out = new Int32Array(T * K);
    rows.forEach((row, t) => out.set(row, t * K));
    return out;
  }
  // Gate mode: seeded logits, skewed by log-popularity, through DeepSeek's gate.
  const rng = createRng(seed);
  const logits = new Float64Array(T * E);
  const skew = popularity.map((p) => Math.log(p * E));
  for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) logits[t * E + e] = rng.normal() + skew[e]!;
  const limit = s.routing.maxNodesPerToken === undefined ? undefined
    : { placement: contiguousPlacement(E, numRanks, s.cluster.gpusPerNode), maxNodes: s.routing.maxNodesPerToken };
  return gateFromLogits(logits, null, T, gateConfig(s), limit).topkIdx;
}

/** Count what a step's slots imply. */
function countStep(slots: Int32Array[], layout: ReplicaLayout, K: number, E: number): MoeStepPlan {
  const R = layout.numGpus;
  const sendTokens = new Int32Array(R * R);
  const slotLoad = new Int32Array(layout.phy2log.length);
  const expertLoad = new Int32Array(E);
  const seen = new Int32Array(R).fill(-1);
  slots.forEach((row, src) => {
    seen.fill(-1);
    for (let i = 0; i < row.length; i++) {
      const p = row[i]!;
      if (p < 0) continue;
      slotLoad[p]!++;
      expertLoad[layout.phy2log[p]!]!++;
      const g = slotGpu(layout, p);
      const t = (i / K) | 0;
      if (seen[g] !== t) {
        seen[g] = t;
        sendTokens[src * R + g]!++;
      }
    }
  });
  return { slots, sendTokens, slotLoad, expertLoad };
}

/**
 * Route every step of a scenario. With `balancing.enableEplb`, EPLB plans the replicas from the
 * expert loads of step 0 and every step is then routed onto the replicas.
 */
export function planScenario(s: Scenario): MoePlan {
  const hardware = getHardwareProfile(s.cluster.hardware);
  const { nodes, gpusPerNode } = s.cluster;
  const R = nodes * gpusPerNode;
  const { numExperts: E, topk: K, tokensPerRank: T } = s.model;
  const popularity = zipfPopularity(1, E, s.routing.zipf, s.routing.seed)[0]!;
  const logical = Array.from({ length: s.steps }, (_, step) => Array.from({ length: R }, (_, r) => routeRank(s, step, r, popularity, R)));
  let layout = layoutFromPhy2log(Array.from({ length: E }, (_, p) => p), E, R, nodes);
  if (s.balancing.enableEplb) {
    const load = new Array<number>(E).fill(0);
    for (const row of logical[0]!) for (const e of row) if (e >= 0) load[e]!++;
    const numSlots = E + s.balancing.numRedundantExperts;
    layout = layerLayout(rebalanceExperts([load], numSlots, s.model.numGroups, nodes, R), 0, R, nodes);
  }
  const steps = logical.map((ranks) => {
    const slots = s.balancing.enableEplb
      ? ranks.map((idx) => {
          const rows = Array.from({ length: T }, (_, t) => Array.from(idx.subarray(t * K, t * K + K)));
          const routed = routeToReplicas(rows, layout, { policy: s.balancing.replicaPolicy, tokenNodes: 'any' });
          return Int32Array.from(routed.slots.flat());
        })
      : ranks;
    return countStep(slots, layout, K, E);
  });
  return { scenario: s, hardware, numRanks: R, gpusPerNode, numNodes: nodes, layout, steps };
}

/** Bytes of one dispatched token: FP8 with per-128 float32 scales, or BF16, plus top-k ids (int64) and weights (float32). */
export function dispatchBytesPerToken(s: Scenario): number {
  const h = s.model.hidden;
  const x = s.model.dispatchFormat === 'fp8' ? h + Math.ceil(h / 128) * 4 : 2 * h;
  return x + s.model.topk * 12;
}

/** Bytes of one combined token (BF16 hidden). */
export function combineBytesPerToken(s: Scenario): number {
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
