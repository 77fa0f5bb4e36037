/**
 * @module
 * A scenario's routing, step after step. In gate mode the gate keeps its bias across steps, as
 * DeepSeek-V3 trains: each step routes every rank's tokens with the current bias, and the
 * auxiliary-loss-free update (`biasBalancingStep`, γ = `routing.biasUpdateRate`) moves the bias for
 * the next step. Warm-up steps and simulated steps are the same stream: warm-up step `w` is stream
 * step `w`, simulated step `s` is stream step `warmupSteps + s`, so a warm-up leaves exactly the state
 * that as many full steps would.
 */
import { sampleTopk } from '../balancer/zipf.js';
import { batchExpertLoad, biasBalancingStep } from '../routing/balance.js';
import type { GateConfig } from '../routing/config.js';
import { gateFromLogits } from '../routing/gate.js';
import type { RouteLimit } from '../routing/limits.js';
import { contiguousPlacement } from '../routing/placement.js';
import { createRng } from '../routing/rng.js';
import type { Scenario } from './schema.js';

/** One routed step. */
export interface RoutedStep {
  /** Stream step (warm-up steps come first). */
  index: number;
  /** Per source rank: logical expert of every (token, k), `[tokensPerRank][topk]` row-major. */
  topk: Int32Array[];
  /** (token, k) pairs per logical expert, over all ranks. */
  expertLoad: Int32Array;
  /** The bias the step was routed with (gate mode with a bias), else null. */
  bias: Float64Array | null;
}

/** Routes stream steps in order; `bias` is the state the next step will be routed with. */
export interface StepRouter {
  next(): RoutedStep;
  readonly bias: Float64Array | null;
}

export function gateConfig(s: Scenario): GateConfig {
  const m = s.model;
  return { scoreFunc: m.scoreFunc, numExperts: m.numExperts, topk: m.topk, numGroups: m.numGroups, topkGroups: m.topkGroups, routeScale: m.routeScale };
}

/** Seed of (step, rank): distinct, stable streams. */
const streamSeed = (seed: number, step: number, rank: number) => (Math.imul(seed ^ 0x9e3779b9, 2654435761) + step * 100_003 + rank * 7919) >>> 0;

/** Whether a scenario's gate carries a bias: gate mode with a non-zero update rate (0 = a gate without one). */
export const hasBias = (s: Scenario): boolean => s.routing.mode === 'gate' && s.routing.biasUpdateRate > 0;

/**
 * The node limit of a scenario on DeepEP's contiguous placement, or undefined when there is none or
 * when the group limit already implies it: if every expert group lies within one node and at most
 * `maxNodesPerToken` groups are kept, the surviving experts span at most that many nodes, so the
 * limit would keep them all (V3 training: 8 groups on 8 nodes, 4 of each). Skipping it saves about a
 * third of the routing time and changes no choice.
 */
export function nodeLimit(s: Scenario, numRanks: number): RouteLimit | undefined {
  const M = s.routing.maxNodesPerToken;
  if (M === undefined) return undefined;
  const { numExperts: E, numGroups: G, topkGroups } = s.model;
  const perNode = E / s.cluster.nodes;
  if (G > 1 && topkGroups <= M && Number.isInteger(perNode) && perNode % (E / G) === 0) return undefined;
  return { placement: contiguousPlacement(E, numRanks, s.cluster.gpusPerNode), maxNodes: M };
}

/**
 * The router of a scenario, at stream step 0 with a zero bias. `popularity` is the Zipf popularity of
 * the experts (in gate mode its logarithm skews each expert's logit).
 */
export function createStepRouter(s: Scenario, numRanks: number, popularity: readonly number[]): StepRouter {
  const { tokensPerRank: T, topk: K, numExperts: E } = s.model;
  let index = 0;
  if (s.routing.mode === 'synthetic') {
    return {
      bias: null,
      next() {
        const step = index++;
        const topk = Array.from({ length: numRanks }, (_, r) => {
          const rows = sampleTopk(popularity, T, K, streamSeed(s.routing.seed, step, r));
          const out = new Int32Array(T * K);
          rows.forEach((row, t) => out.set(row, t * K));
          return out;
        });
        return { index: step, topk, expertLoad: batchExpertLoad(topk, E), bias: null };
      },
    };
  }
  // Gate mode: seeded unit-normal logits plus each expert's log-popularity, through DeepSeek's gate.
  const config = gateConfig(s);
  const skew = Float64Array.from(popularity, (p) => Math.log(p * E));
  const limit = nodeLimit(s, numRanks);
  const logits = new Float64Array(T * E);
  const routeAll = (bias: Float64Array | null, step: number): Int32Array[] =>
    Array.from({ length: numRanks }, (_, r) => {
      createRng(streamSeed(s.routing.seed, step, r)).fillNormal(logits);
      for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) logits[t * E + e]! += skew[e]!;
      return gateFromLogits(logits, bias, T, config, limit).topkIdx;
    });
  let bias: Float64Array | null = hasBias(s) ? new Float64Array(E) : null;
  return {
    get bias() {
      return bias;
    },
    next() {
      const step = index++;
      if (bias === null) {
        const topk = routeAll(null, step);
        return { index: step, topk, expertLoad: batchExpertLoad(topk, E), bias: null };
      }
      const used: Float64Array = bias;
      const r = biasBalancingStep(used, s.routing.biasUpdateRate, E, (b) => routeAll(b, step));
      bias = r.bias;
      return { index: step, topk: [...r.topkIdx], expertLoad: r.load, bias: used };
    },
  };
}
