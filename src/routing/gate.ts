/**
 * @module
 * The DeepSeek gate (`MoEGate` / `noaux_tc`): scores, group limit, optional node/device limit, top-k,
 * weights. Semantics follow DeepSeek-V3's inference `Gate.forward`:
 *
 * ```text
 * s = sigmoid(logits) | softmax(logits);  sel = s + bias (bias optional, selection only)
 * groups: score = top-2 sum of sel (max of sel when no bias); keep top topkGroups, mask the rest
 * [limits: node limit, then device limit, on the surviving experts]
 * idx = topk(sel, K) (descending, first index wins ties);  w = s[idx]
 * sigmoid: w /= sum(w);  w *= routeScale
 * ```
 */
import { fail } from '../errors.js';
import { checkFinite, checkInt, checkLength } from '../validate.js';
import { type NumericArray } from './check.js';
import { validateGateConfig, type GateConfig } from './config.js';
import { applyLimit, planLimits, type RouteLimit } from './limits.js';
import { gateLogits } from './logits.js';
import { topkInto } from './select.js';

/**
 * The gate's output: `[tokens][topk]` row-major, each row in descending order of selection score.
 * @public
 */
export interface Routing {
  /** Chosen expert ids. */
  readonly topkIdx: Int32Array;
  /** Their weights: unbiased scores (sigmoid: renormalised to sum 1), times `routeScale`. */
  readonly topkWeights: Float64Array;
}

/**
 * Route `tokens` tokens: `x` is `[tokens][hidden]`, `weight` is `[numExperts][hidden]`, `bias` is
 * `[numExperts]` (selection only) or `null`. `limit` adds node-limited (M nodes) and/or device-limited
 * (D ranks) routing on a placement. Computed in float64.
 *
 * Throws `E_ARGUMENT` (lengths, shapes), `E_ROUTING` (topk larger than the group/node/rank limits
 * allow), `E_NUMERIC` (NaN or infinite logits, scores or bias).
 * @example
 * const cfg = { ...DEEPSEEK_V3, numExperts: 16, numGroups: 4, topkGroups: 2, topk: 4 };
 * const { topkIdx, topkWeights } = gate(x, w, null, tokens, hidden, cfg);
 * @public
 */
export function gate(
  x: NumericArray,
  weight: NumericArray,
  bias: NumericArray | null,
  tokens: number,
  hidden: number,
  config: GateConfig,
  limit?: RouteLimit,
): Routing {
  validateGateConfig(config);
  checkLength(weight, config.numExperts * hidden, 'weight', `config.numExperts ${config.numExperts} x hidden ${hidden}`);
  return gateFromLogits(gateLogits(x, weight, tokens, hidden, config.numExperts), bias, tokens, config, limit);
}

/**
 * Everything the gate does after the product: from `logits` (`[tokens][numExperts]`) to the routing.
 * Same contract as {@link gate}.
 * @example
 * const r = gateFromLogits(new Float64Array([0.1, 2, -1, 0.5]), null, 1, { ...DEEPSEEK_V2_LITE, numExperts: 4, topk: 2 });
 * // r.topkIdx = [1, 3]
 * @public
 */
export function gateFromLogits(logits: NumericArray, bias: NumericArray | null, tokens: number, config: GateConfig, limit?: RouteLimit): Routing {
  validateGateConfig(config);
  const { numExperts: E, topk: K, numGroups: G, topkGroups: KG, routeScale } = config;
  checkInt(tokens, 'tokens');
  checkLength(logits, tokens * E, 'logits', `tokens ${tokens} x numExperts ${E}`);
  if (bias !== null) {
    checkLength(bias, E, 'bias', `numExperts ${E}`);
    checkFinite(bias, 'bias');
  }
  const gs = E / G;
  if (G > 1 && bias !== null && gs < 2) {
    fail('E_ROUTING', `config.numGroups ${G} leaves ${gs} expert per group; a biased group score needs its top 2`, { argument: 'config.numGroups', value: G });
  }
  const limits = planLimits(limit, E, K);
  const sigmoid = config.scoreFunc === 'sigmoid';
  const topkIdx = new Int32Array(tokens * K);
  const topkWeights = new Float64Array(tokens * K);
  const s = new Float64Array(E);
  const sel = new Float64Array(E);
  const groupScore = new Float64Array(G);
  const groupIdx = new Int32Array(KG);
  const groupKeep = new Uint8Array(G);
  const scratch = new Float64Array(Math.max(E, G));

  for (let t = 0; t < tokens; t++) {
    const lo = t * E;
    scoreRow(logits, lo, E, sigmoid, s, t);
    if (bias === null) sel.set(s);
    else for (let e = 0; e < E; e++) sel[e] = s[e]! + bias[e]!;

    if (G > 1) {
      for (let g = 0; g < G; g++) {
        const b = g * gs;
        let m1 = -Infinity;
        let m2 = -Infinity;
        for (let e = b; e < b + gs; e++) {
          const v = sel[e]!;
          if (v > m1) {
            m2 = m1;
            m1 = v;
          } else if (v > m2) m2 = v;
        }
        groupScore[g] = bias === null ? m1 : m1 + m2;
      }
      topkInto(groupScore, G, KG, groupIdx, 0, scratch);
      groupKeep.fill(0);
      for (let j = 0; j < KG; j++) groupKeep[groupIdx[j]!] = 1;
      for (let g = 0; g < G; g++) if (groupKeep[g] === 0) sel.fill(-Infinity, g * gs, g * gs + gs);
    }
    for (const u of limits) applyLimit(sel, E, u);

    const off = t * K;
    const found = topkInto(sel, E, K, topkIdx, off, scratch);
    if (found < K) {
      fail('E_ROUTING', `token ${t}: only ${found} experts remain after the group/node/rank limits, topk is ${K}`, { argument: 'config.topk', token: t, found, topk: K });
    }
    let sum = 0;
    for (let j = 0; j < K; j++) sum += topkWeights[off + j] = s[topkIdx[off + j]!]!;
    // DeepSeek's order of operations: divide by the sum, then scale (keeps results bit-identical).
    if (sigmoid && !(sum > 0)) fail('E_NUMERIC', `token ${t}: the chosen sigmoid scores sum to ${sum}; cannot normalise`, { argument: 'logits', token: t, sum });
    const d = sigmoid ? sum : 1;
    for (let j = 0; j < K; j++) topkWeights[off + j] = (topkWeights[off + j]! / d) * routeScale;
  }
  return { topkIdx, topkWeights };
}

/** Scores of one token's row in float64; throws `E_NUMERIC` on a non-finite logit. */
function scoreRow(logits: NumericArray, lo: number, E: number, sigmoid: boolean, s: Float64Array, t: number): void {
  let max = -Infinity;
  for (let e = 0; e < E; e++) {
    const l = logits[lo + e]!;
    if (!Number.isFinite(l)) fail('E_NUMERIC', `logit of token ${t}, expert ${e} is ${l}; finite values are required`, { argument: 'logits', token: t, expert: e, value: l });
    if (sigmoid) s[e] = 1 / (1 + Math.exp(-l));
    else if (l > max) max = l;
  }
  if (sigmoid) return;
  let sum = 0;
  for (let e = 0; e < E; e++) sum += s[e] = Math.exp(logits[lo + e]! - max);
  for (let e = 0; e < E; e++) s[e]! /= sum;
}
