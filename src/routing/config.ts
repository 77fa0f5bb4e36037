/**
 * @module
 * Gate configuration and the DeepSeek presets (V3 report §2.1.2; DeepSeek-V2 / V2-Lite configs).
 */
import { fail, showValue } from '../errors.js';
import { checkInt, checkNumber } from '../validate.js';

/**
 * How the gate turns router logits into expert choices and weights.
 * @public
 */
export interface GateConfig {
  /** `'sigmoid'` (DeepSeek-V3, weights renormalised) or `'softmax'` over all experts (V2, not renormalised). */
  readonly scoreFunc: 'sigmoid' | 'softmax';
  /** Routed experts E. Expert `e` is in group `e / (E / numGroups)`. */
  readonly numExperts: number;
  /** Experts chosen per token K. */
  readonly topk: number;
  /** Contiguous expert groups G (1 = no group limit). Must divide `numExperts`. */
  readonly numGroups: number;
  /** Groups kept per token (the rest are masked). Equals `numGroups` when there is no group limit. */
  readonly topkGroups: number;
  /** Factor applied to the returned weights (`route_scale`). */
  readonly routeScale: number;
}

/**
 * DeepSeek-V3 (`noaux_tc`): sigmoid scores, 256 experts in 8 groups, top-4 groups, top-8, ×2.5.
 * @example
 * const cfg = { ...DEEPSEEK_V3, topk: 6 }; // presets are frozen; spread to vary
 * @public
 */
export const DEEPSEEK_V3: GateConfig = Object.freeze({
  scoreFunc: 'sigmoid',
  numExperts: 256,
  topk: 8,
  numGroups: 8,
  topkGroups: 4,
  routeScale: 2.5,
});

/** DeepSeek-V2: softmax over 160 experts, 8 groups, top-3 groups, top-6, ×16 (no renormalisation). @public */
export const DEEPSEEK_V2: GateConfig = Object.freeze({
  scoreFunc: 'softmax',
  numExperts: 160,
  topk: 6,
  numGroups: 8,
  topkGroups: 3,
  routeScale: 16,
});

/** DeepSeek-V2-Lite: softmax over 64 experts, no groups, top-6, ×1. @public */
export const DEEPSEEK_V2_LITE: GateConfig = Object.freeze({
  scoreFunc: 'softmax',
  numExperts: 64,
  topk: 6,
  numGroups: 1,
  topkGroups: 1,
  routeScale: 1,
});

/**
 * Check a {@link GateConfig}; throws `E_ARGUMENT` for malformed fields and `E_ROUTING` when `topk`
 * exceeds what the group limit leaves (`topkGroups * numExperts / numGroups`).
 * @public
 */
export function validateGateConfig(config: GateConfig): GateConfig {
  if (typeof config !== 'object' || config === null) fail('E_ARGUMENT', `config must be a GateConfig object, got ${showValue(config)}`, { argument: 'config' });
  if (config.scoreFunc !== 'sigmoid' && config.scoreFunc !== 'softmax') {
    fail('E_ARGUMENT', `config.scoreFunc must be 'sigmoid' or 'softmax', got ${showValue(config.scoreFunc)}`, { argument: 'config.scoreFunc', value: config.scoreFunc });
  }
  const e = checkInt(config.numExperts, 'config.numExperts', 1);
  const g = checkInt(config.numGroups, 'config.numGroups', 1, e);
  if (e % g !== 0) fail('E_ARGUMENT', `config.numGroups ${g} does not divide config.numExperts ${e}`, { argument: 'config.numGroups', value: g, numExperts: e });
  const kg = checkInt(config.topkGroups, 'config.topkGroups', 1, g);
  const k = checkInt(config.topk, 'config.topk', 1);
  const allowed = kg * (e / g);
  if (k > allowed) {
    fail('E_ROUTING', `config.topk ${k} exceeds the ${allowed} experts left by the group limit (topkGroups ${kg} x ${e / g} experts per group)`, {
      argument: 'config.topk',
      value: k,
      allowed,
    });
  }
  checkNumber(config.routeScale, 'config.routeScale', true);
  return config;
}
