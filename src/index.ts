/**
 * @module
 * expertmesh: an actor-model runtime that simulates expert-parallel Mixture-of-Experts clusters.
 * This is the one module users import from.
 */
export { ExpertmeshError, isExpertmeshError, toWireError, fromWireError } from './errors.js';
export type { ErrorCode, WireError } from './errors.js';
export * from './routing/index.js';
export * from './balancer/index.js';
export * from './kernels/index.js';
