/**
 * @module
 * Auxiliary-loss-free load balancing (DeepSeek-V3 report §2.1.2): after each step, each expert's
 * bias moves down by γ when it was overloaded and up by γ when underloaded, relative to the mean
 * load. The bias only changes which experts are chosen, never the weights.
 */
import { fail, showValue } from '../errors.js';
import { checkAlloc, checkArray, checkFinite, checkFunction, checkInt, checkLength, checkNumber, checkObject, checkTypedArray, checkWork } from '../validate.js';
import { type NumericArray } from './check.js';
import { validateGateConfig, type GateConfig } from './config.js';
import { gateFromLogits } from './gate.js';
import { createRng } from './rng.js';

/**
 * One bias update: `bias[e] + gamma * sign(mean - load[e])`. Returns a new array; an expert exactly at
 * the mean keeps its bias. Throws `E_ARGUMENT` on mismatched lengths or negative gamma, `E_NUMERIC` on
 * non-finite input.
 * @example
 * updateBias(new Float64Array(3), [5, 1, 3], 0.001); // [-0.001, 0.001, 0]
 * @public
 */
export function updateBias(bias: NumericArray, expertLoad: ArrayLike<number>, gamma: number): Float64Array {
  checkNumber(gamma, 'gamma', true);
  checkFinite(bias, 'bias');
  checkLength(expertLoad, bias.length, 'expertLoad', `bias length ${bias.length}`);
  checkFinite(bias, 'bias');
  checkFinite(expertLoad, 'expertLoad');
  let mean = 0;
  for (let e = 0; e < expertLoad.length; e++) mean += expertLoad[e]!;
  mean /= Math.max(1, expertLoad.length);
  const out = new Float64Array(bias.length);
  for (let e = 0; e < bias.length; e++) out[e] = bias[e]! + gamma * Math.sign(mean - expertLoad[e]!);
  return out;
}

/**
 * Tokens routed to each expert: counts of `topkIdx` entries per expert (`-1` ignored).
 * @example
 * expertLoad(new Int32Array([0, 2, 2, -1]), 3); // [1, 0, 2]
 * @public
 */
export function expertLoad(topkIdx: Int32Array, numExperts: number): Int32Array {
  checkArray(topkIdx, 'topkIdx', true);
  checkInt(numExperts, 'numExperts', 1);
  checkAlloc('expertLoad', 'the load', numExperts * 4, 'numExperts');
  const load = new Int32Array(numExperts);
  for (let i = 0; i < topkIdx.length; i++) {
    const e = topkIdx[i]!;
    if (e >= 0 && e < numExperts) load[e]!++;
  }
  return load;
}

/** {@link expertLoad} summed over the parts of a batch (e.g. one top-k array per rank). @internal */
export function batchExpertLoad(parts: readonly Int32Array[], numExperts: number): Int32Array {
  const load = new Int32Array(numExperts);
  for (const part of parts) for (let i = 0; i < part.length; i++) {
    const e = part[i]!;
    if (e >= 0 && e < numExperts) load[e]!++;
  }
  return load;
}

/** Max over mean of a load vector (1 = perfectly balanced). @public */
export function maxOverMean(load: ArrayLike<number>): number {
  checkFinite(load, 'load');
  let max = 0;
  let sum = 0;
  for (let e = 0; e < load.length; e++) {
    max = Math.max(max, load[e]!);
    sum += load[e]!;
  }
  return sum === 0 ? 1 : (max * load.length) / sum;
}

/**
 * One training step of auxiliary-loss-free balancing, as DeepSeek-V3 trains: `route` routes the
 * step's whole batch with the current bias (selection only) and returns its top-k (one array per
 * part of the batch, e.g. per rank); the load is counted over the whole batch and the bias updated
 * by {@link updateBias} for the next step. `bias` is not modified.
 * @example
 * let bias = new Float64Array(4);
 * const r = biasBalancingStep(bias, 0.01, 4, (b) => [gateFromLogits(logits, b, tokens, config).topkIdx]);
 * bias = r.bias; // for the next step; r.load is this step's load
 * @public
 */
export function biasBalancingStep(
  bias: Float64Array,
  gamma: number,
  numExperts: number,
  route: (bias: Float64Array) => readonly Int32Array[],
): BiasBalancingStep {
  checkTypedArray(bias, 'bias', Float64Array);
  checkNumber(gamma, 'gamma', true);
  checkLength(bias, checkInt(numExperts, 'numExperts', 1), 'bias', `numExperts ${numExperts}`);
  checkFunction(route, 'route');
  const topkIdx = route(bias);
  if (!Array.isArray(topkIdx)) fail('E_ARGUMENT', `biasBalancingStep: route must return an array of Int32Arrays, got ${showValue(topkIdx)}`, { argument: 'route' });
  topkIdx.forEach((t, i) => checkTypedArray(t, `route(bias)[${i}]`, Int32Array));
  const load = batchExpertLoad(topkIdx, numExperts);
  return { topkIdx, load, bias: updateBias(bias, load, gamma) };
}

/**
 * Result of {@link biasBalancingStep}.
 * @public
 */
export interface BiasBalancingStep {
  /** The step's routing, as `route` returned it. */
  readonly topkIdx: readonly Int32Array[];
  /** `[numExperts]`: (token, k) pairs per expert over the whole batch, routed with the bias before the update. */
  readonly load: Int32Array;
  /** The bias after this step's update (for the next step). */
  readonly bias: Float64Array;
}

/**
 * Options of {@link simulateBiasBalancing}.
 * @public
 */
export interface BiasBalancingOptions {
  /** Gate to balance (default: DeepSeek-V3's gate shape scaled to 64 experts, 8 groups, top-4 groups, top-8). */
  readonly config?: GateConfig;
  /** Steps to run (default 100). */
  readonly steps?: number;
  /** Tokens per step (default 512). */
  readonly tokensPerStep?: number;
  /** Bias step γ (default 0.01; DeepSeek used 0.001 over far more steps). */
  readonly gamma?: number;
  /** Skew: standard deviation of each expert's fixed logit offset (default 1). */
  readonly skew?: number;
  /** PRNG seed (default 1). */
  readonly seed?: number;
}

/**
 * Result of {@link simulateBiasBalancing}.
 * @public
 */
export interface BiasBalancingResult {
  /** `[steps]`: max/mean expert load of each step, measured before that step's bias update. */
  readonly maxOverMean: Float64Array;
  /** The bias after the last step. */
  readonly bias: Float64Array;
}

/**
 * Run auxiliary-loss-free balancing on a skewed token stream: token logits are a fixed per-expert
 * offset (popular experts) plus unit noise; each step routes the batch with the current bias, then
 * applies {@link updateBias} (through {@link biasBalancingStep}). Deterministic for a given seed.
 * @example
 * const { maxOverMean } = simulateBiasBalancing({ steps: 50 });
 * console.log(maxOverMean[0], maxOverMean[49]); // falls
 * @public
 */
export function simulateBiasBalancing(options: BiasBalancingOptions = {}): BiasBalancingResult {
  checkObject(options, 'options');
  const config = validateGateConfig(
    options.config ?? { scoreFunc: 'sigmoid', numExperts: 64, topk: 8, numGroups: 8, topkGroups: 4, routeScale: 2.5 },
  );
  const steps = checkInt(options.steps ?? 100, 'options.steps', 1);
  const tokens = checkInt(options.tokensPerStep ?? 512, 'options.tokensPerStep', 1);
  const gamma = checkNumber(options.gamma ?? 0.01, 'options.gamma', true);
  const skew = checkNumber(options.skew ?? 1, 'options.skew', true);
  const rng = createRng(checkInt(options.seed ?? 1, 'options.seed', 0, 2 ** 32 - 1));
  const E = config.numExperts;
  checkWork('simulateBiasBalancing', steps * tokens * E, 'options.steps, options.tokensPerStep or config.numExperts');
  checkAlloc('simulateBiasBalancing', 'the logits', tokens * E * 8, 'options.tokensPerStep or config.numExperts');
  const popularity = Float64Array.from({ length: E }, () => skew * rng.normal());
  const logits = new Float64Array(tokens * E);
  let bias: Float64Array = new Float64Array(E);
  const history = new Float64Array(steps);
  for (let step = 0; step < steps; step++) {
    const r = biasBalancingStep(bias, gamma, E, (b) => {
      for (let i = 0; i < logits.length; i++) logits[i] = popularity[i % E]! + rng.normal();
      return [gateFromLogits(logits, b, tokens, config).topkIdx];
    });
    history[step] = maxOverMean(r.load);
    bias = r.bias;
  }
  return { maxOverMean: history, bias };
}
