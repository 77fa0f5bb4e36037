/**
 * @module
 * Public surface of src/balancer (re-exported by src/index.ts): DeepSeek-compatible EPLB replica
 * planning, replica-aware token routing, periodic rebalancing with weight-move cost, dynamic
 * redundancy, decode mode and load traces.
 */
export { balancedPacking } from './packing.js';
export type { PackingResult } from './packing.js';
export { replicateExperts } from './replicate.js';
export type { ReplicationResult } from './replicate.js';
export { rebalanceExperts } from './eplb.js';
export type { EplbPlan } from './eplb.js';
export {
  slotGpu,
  gpuNode,
  layerLayout,
  layoutFromPhy2log,
  noRedundancyLayout,
  layoutPlacement,
  expectedGpuLoads,
  imbalance,
} from './layout.js';
export type { ReplicaLayout } from './layout.js';
export type { TokenNodes } from './replica-pairs.js';
export { routeToReplicas } from './replica-routing.js';
export type { ReplicaPolicy, ReplicaRoutingOptions, ReplicaRouting } from './replica-routing.js';
export { routeDynamic } from './dynamic-redundancy.js';
export type { DynamicRedundancyOptions, DynamicRouting } from './dynamic-redundancy.js';
export { withSharedExpert, withSharedExpertLoad } from './decode.js';
export { ExpertLoadRecorder } from './load-recorder.js';
export { weightMoveCost } from './move-cost.js';
export type { ExpertMove, WeightMoveCost } from './move-cost.js';
export { PeriodicRebalancer } from './rebalancer.js';
export type { RebalancerOptions, RebalanceEvent } from './rebalancer.js';
export { loadsFromRecords, loadTraceFromJson, loadTraceFromCsv, loadTraceToJson, loadTraceToCsv } from './load-trace.js';
export type { LoadRecord, LoadTraceShape } from './load-trace.js';
export { zipfPopularity, sampleTopk, countExpertTokens } from './zipf.js';
