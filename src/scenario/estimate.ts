/**
 * @module
 * `estimateScenario`: what a scenario run will need before anything starts (host memory, simulated
 * HBM per rank, events), for the main run and its reduced check run; `runScenario` refuses with
 * `E_LIMIT` when either is over a limit.
 */
import { availableParallelism } from 'node:os';
import { loadHardwareProfile } from '../hardware/profile-file.js';
import type { RunEstimate } from '../cluster/host-limits.js';
import { estimateEpRun } from '../ep/estimate.js';
import type { Scenario } from './schema.js';
import { parseScenario } from './load.js';

/** Estimate one run (main or check) of a scenario (validated first: `E_SCENARIO` when invalid). */
export function estimateScenarioRun(input: Scenario, trace: 'none' | 'sampled' | 'full' = input?.trace ? (input.trace.sampling?.detail ?? 'sampled') : 'none'): RunEstimate {
  const s = parseScenario(input, 'estimateScenario');
  const { nodes, gpusPerNode } = s.cluster;
  const R = nodes * gpusPerNode;
  const m = s.model;
  const T = m.tokensPerRank;
  const slots = m.numExperts + s.balancing.numRedundantExperts;
  const workers = s.cluster.transport === 'in-process' ? 0 : (s.cluster.workers ?? Math.min(availableParallelism(), R));
  // Routing plan: logical top-k per step and rank (and the replica slots with EPLB); the gate's
  // logits of one rank exist while it is routed; one expert's FFN weights at a time (real payload).
  const plan =
    s.steps * R * T * m.topk * 4 * (s.balancing.enableEplb ? 2 : 1) +
    (s.routing.mode === 'gate' ? T * m.numExperts * 8 : 0) +
    (s.payload === 'real' ? 3 * m.hidden * m.moeIntermediateSize * 4 * (1 + m.numSharedExperts) : 0);
  return estimateEpRun({
    what: `scenario '${s.name}'`, ranks: R, gpusPerNode, tokens: T, hidden: m.hidden, topk: m.topk, experts: slots,
    dtype: m.dispatchFormat, sizesOnly: s.payload !== 'real', numSms: s.dispatchConfig.numSms, kernelRuns: s.steps,
    recordTimeline: true, trace, workers, hardware: loadHardwareProfile(s.cluster.hardware, 'cluster.hardware'), planBytes: plan,
    lower: 'model.tokensPerRank, model.hidden, steps or cluster.nodes',
  });
}
