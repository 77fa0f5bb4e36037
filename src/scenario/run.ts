/**
 * @module
 * `runScenario`: plan the routing, start the cluster, run the MoE steps (see `moe-steps.ts`, the
 * seam with the dispatch/combine layer), stream the trace, and return the figures.
 */
import { loadHardwareProfile } from '../hardware/profile-file.js';
import { createCluster, type Cluster } from '../cluster/cluster.js';
import { checkEstimate } from '../cluster/host-limits.js';
import { fail, showValue } from '../errors.js';
import { estimateScenarioRun } from './estimate.js';
import { parseScenario } from './load.js';
import type { RankSnapshot } from '../actors/gpu-machine.js';
import { TraceRecorder } from '../trace/recorder.js';
import type { TraceOptions } from '../trace/events.js';
import { OP_PUT } from '../transport/protocol.js';
import { TIMELINE_FIELDS, TIMELINE_STRIDE } from '../sim/timeline.js';
import { PHASES, runMoeSteps, runTimelineDigest, type MoeStepsRunner, type PhaseName } from './moe-steps.js';
import { dispatchBytesPerToken, planScenarioAsync } from './plan.js';
import { deepepBandwidth, planFigures, planLoads, routingFigures, summarizePhases, type RunFigures, type ScenarioResult } from './result.js';
import { runScheduledSteps } from './scheduled-steps.js';
import type { Scenario } from './schema.js';
import { stamp } from '../validate.js';

/** What {@link checkMade} calls a scenario result. */
export const RESULT = 'a scenario result';

const TL_OP = TIMELINE_FIELDS.indexOf('op');
const TL_BYTES = TIMELINE_FIELDS.indexOf('bytes');

/**
 * Progress of {@link runScenario}. Within one run (`main`, then `check`) reports come in order:
 * `virtualUs`, `done` and `events` never go down.
 */
export interface RunProgress {
  /** The main run, or the reduced real-payload check that follows it. */
  run: 'main' | 'check';
  /** Step, 1-based (1..steps), as everywhere in expertmesh. */
  step: number;
  steps: number;
  /** The phase running (or just finished, when `done` has just grown). */
  phase: PhaseName;
  /** Phases finished so far in this run, and how many it has. */
  done: number;
  total: number;
  /** Virtual time reached, us (absolute cluster time; never less than in an earlier report of the run). */
  virtualUs: number;
  /** Simulation events processed so far in this run (for events per second). */
  events: number;
}

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  /**
   * Where to write the trace: a path (sampling from the scenario's `trace.sampling`), a path with
   * options, or `false` for none. Default: the scenario's `trace`, if any.
   */
  trace?: string | { path: string; options?: TraceOptions } | false;
  /** @internal The MoE layer to run (tests inject failures here). Default {@link runMoeSteps}. */
  moeSteps?: MoeStepsRunner;
}

function traceTarget(s: Scenario, t: RunScenarioOptions['trace']): { path: string; options: TraceOptions } | null {
  if (t === false) return null;
  if (typeof t === 'string') return { path: t, options: s.trace?.sampling ?? {} };
  if (t) return { path: t.path, options: t.options ?? s.trace?.sampling ?? {} };
  return s.trace ? { path: s.trace.path, options: s.trace.sampling } : null;
}

async function runOnce(
  cluster: Cluster, s: Scenario, run: RunProgress['run'], opts: RunScenarioOptions, rec: TraceRecorder | null,
): Promise<RunFigures> {
  const t0 = performance.now();
  const plan = await planScenarioAsync(s, opts.signal);
  // The loads the report plots (expert and GPU heatmaps) travel in the trace's metadata.
  rec?.addMeta({ loads: planLoads(plan) });
  const total = s.steps * (s.schedule ? 2 : PHASES.length);
  let done = 0;
  // The notify phase is reported once its dispatch has finished (they run as one call), so times
  // reported by the phases can be earlier than those reported during the dispatch: keep the maximum.
  let reached = -Infinity;
  const events0 = cluster.eventsProcessed;
  const progress = (step: number, phase: PhaseName, virtualUs: number) => {
    reached = Math.max(reached, virtualUs);
    opts.onProgress?.({ run, step, steps: s.steps, phase, done, total, virtualUs: reached, events: cluster.eventsProcessed - events0 });
  };
  const res = await (opts.moeSteps ?? (s.schedule ? runScheduledSteps : runMoeSteps))(cluster, plan, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (p) => progress(p.step, p.phase, p.virtualUs),
    onPhase: (p) => {
      rec?.phase(p);
      done++;
      progress(p.step, p.phase, p.endUs);
    },
  });
  const f = planFigures(plan);
  // Tokens received: what the MoE layer counted, else the dispatch's payload bytes over bytes per token.
  let received = res.tokensReceived;
  if (received === undefined) {
    let bytes = 0;
    for (const p of res.phases) {
      if (p.phase !== 'dispatch') continue;
      const tl = p.timeline;
      // The flat records when there are (no object per transfer), else the phase's record objects.
      if (tl) for (let i = 0; i < tl.length; i += TIMELINE_STRIDE) bytes += tl[i + TL_OP] === OP_PUT ? tl[i + TL_BYTES]! : 0;
      else for (const r of p.records) if (r.op === OP_PUT) bytes += r.bytes;
    }
    received = Math.round(bytes / dispatchBytesPerToken(s));
  }
  const last = res.phases[res.phases.length - 1];
  return stamp({
    scenario: s.name,
    payload: s.payload,
    cluster: { nodes: s.cluster.nodes, gpusPerNode: s.cluster.gpusPerNode, ranks: plan.numRanks, hardware: plan.hardware.name, workers: cluster.config.workers },
    configs: plan.epConfigs,
    steps: s.steps,
    virtualTimeUs: last && res.phases[0] ? last.endUs - res.phases[0].startUs : 0,
    phases: withDeepep(summarizePhases(res.phases, plan.numRanks), deepepBandwidth(plan, res.phases)),
    load: f.load,
    tokens: { dispatched: f.dispatched, received, conserved: res.tokensConserved && received === f.dispatched },
    routing: routingFigures(plan),
    outputDigest: res.outputDigest,
    timelineDigest: res.timelineDigest ?? runTimelineDigest(res.timeline),
    verified: res.verified,
    ...(res.mismatch ? { mismatch: res.mismatch } : {}),
    wallMs: performance.now() - t0,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    ...(res.simulatedHbmBytes !== undefined ? { simulatedHbmBytes: res.simulatedHbmBytes } : {}),
    hbmCapacityBytes: plan.hardware.hbmBytes,
    ...(res.schedule ? {
      stepUs: res.schedule.stepUs, commUs: res.schedule.commUs, exposedCommUs: res.schedule.exposedCommUs,
      layersSimulated: res.schedule.layersSimulated, throughputPerNode: res.schedule.throughputPerNode, schedule: res.schedule,
    } : {}),
  }, RESULT);
}

function withDeepep(phases: RunFigures['phases'], d: ReturnType<typeof deepepBandwidth>): RunFigures['phases'] {
  phases.dispatch.deepep = d.dispatch;
  phases.combine.deepep = d.combine;
  return phases;
}

/** The reduced real-payload scenario a `check` describes. */
export function checkScenarioOf(s: Scenario): Scenario | null {
  if (typeof s !== 'object' || s === null || typeof s.model !== 'object') s = parseScenario(s, 'checkScenarioOf');
  if (!s.check) return null;
  const { trace: _t, check: _c, schedule: _s, ...rest } = s;
  return { ...rest, name: `${s.name} (check)`, payload: 'real', steps: 1, model: { ...s.model, ...s.check } };
}

/**
 * Run a scenario: returns the figures of the main run (and of its check run), and writes the
 * trace if asked. A run that fails still writes the trace it has, marked incomplete.
 * @throws ExpertmeshError `E_ARGUMENT` when the trace file cannot be written (before running),
 * `E_ABORTED` when `signal` aborts, and whatever the run fails with.
 * @example
 * const scenario = loadScenario({ cluster: { nodes: 1, gpusPerNode: 4, workers: 1 }, model: { numExperts: 16, numGroups: 4, topkGroups: 2, topk: 4, tokensPerRank: 64, hidden: 256 } });
 * const r = await runScenario(scenario, { onProgress: (p) => console.error(p.phase) });
 * console.log(r.phases.dispatch.timeUs, r.timelineDigest);
 */
export async function runScenario(input: Scenario, opts: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const t0 = performance.now();
  // Validated again (cheap, idempotent): a hand-built object gets the same one-line errors as a file.
  const scenario = parseScenario(input, 'runScenario');
  if (typeof opts !== 'object' || opts === null) fail('E_ARGUMENT', `runScenario: options must be an object, got ${showValue(opts)}`, { argument: 'opts' });
  const target = traceTarget(scenario, opts.trace);
  checkEstimate(estimateScenarioRun(scenario, target ? (target.options.detail ?? 'sampled') : 'none'));
  const cs0 = checkScenarioOf(scenario);
  if (cs0) checkEstimate(estimateScenarioRun(cs0, 'none'));
  const R = scenario.cluster.nodes * scenario.cluster.gpusPerNode;
  const rec = target ? new TraceRecorder(target.path, { numRanks: R, gpusPerNode: scenario.cluster.gpusPerNode }, target.options, { scenario: scenario.name }) : null;
  let cluster: Cluster | null = null;
  const onState = (s: RankSnapshot) => rec?.rankState(s);
  try {
    cluster = await createCluster({
      nodes: scenario.cluster.nodes, gpusPerNode: scenario.cluster.gpusPerNode, hardware: loadHardwareProfile(scenario.cluster.hardware, 'cluster.hardware'),
      ...(scenario.cluster.workers !== undefined ? { workers: scenario.cluster.workers } : {}),
      seed: scenario.routing.seed, transport: scenario.cluster.transport, recordTimeline: true,
    });
    if (rec) cluster.on('rankState', onState);
    const main = await runOnce(cluster, scenario, 'main', opts, rec);
    cluster.off('rankState', onState);
    rec?.close();
    const cs = checkScenarioOf(scenario);
    const check = cs ? await runOnce(cluster, cs, 'check', opts, null) : null;
    return stamp({
      schemaVersion: 1 as const,
      ...main,
      totalWallMs: performance.now() - t0,
      check,
      trace: rec ? { path: rec.path, events: rec.writer.events, transfersDrawn: rec.stats.transfersDrawn, transfersNotDrawn: rec.stats.transfersNotDrawn } : null,
    }, RESULT);
  } catch (e) {
    rec?.close(e);
    throw e;
  } finally {
    await cluster?.close();
  }
}
