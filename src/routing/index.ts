/**
 * @module
 * Public surface of src/routing (re-exported by src/index.ts): the DeepSeek gate with group-,
 * node- and device-limited top-k, auxiliary-loss-free bias balancing, placements and DeepEP's
 * dispatch layout.
 */
export { DEEPSEEK_V2, DEEPSEEK_V2_LITE, DEEPSEEK_V3, validateGateConfig } from './config.js';
export type { GateConfig } from './config.js';
export type { NumericArray } from './check.js';
export { gateLogits } from './logits.js';
export { gate, gateFromLogits } from './gate.js';
export type { Routing } from './gate.js';
export type { RouteLimit } from './limits.js';
export { contiguousPlacement, placementFromSlots, validatePlacement } from './placement.js';
export type { Placement } from './placement.js';
export { getDispatchLayout } from './layout.js';
export type { ClusterShape, DispatchLayout } from './layout.js';
export { biasBalancingStep, expertLoad, maxOverMean, simulateBiasBalancing, updateBias } from './balance.js';
export type { BiasBalancingOptions, BiasBalancingResult, BiasBalancingStep } from './balance.js';
