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
export { H800, H100, H200, getHardwareProfile, hardwareProfileNames, validateHardwareProfile } from './hardware/profile.js';
export type { HardwareProfile, PeakTflops } from './hardware/profile.js';
