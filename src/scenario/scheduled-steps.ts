/**
 * @module
 * The MoE layer of a scenario with a `schedule`: each step runs as one schedule on every rank's
 * streams (`src/schedule`), a few MoE layers simulated and scaled to a DeepSeek-V3 step. It plugs
 * into `runScenario` like {@link runMoeSteps} and hands back a `notify` phase and a `schedule`
 * phase per step, plus the step figures.
 */
import { createHash } from 'node:crypto';
import { fail } from '../errors.js';
import type { Cluster } from '../cluster/cluster.js';
import { R_NOTIFY } from '../ep/ep-args.js';
import { layerComputeUs } from '../kernels/layer-compute.js';
import { DEEPSEEK_V3_MLA } from '../kernels/mla-attention.js';
import { simulatedFigures, stepFigures, type ScheduleFigures } from '../schedule/figures.js';
import { runSchedule, scopeOf } from '../schedule/run-schedule.js';
import { buildSchedule } from '../schedule/schedule.js';
import { makePhase, RunTimeline, scenarioEpConfigs, withCommSms, splitAt, type MoeStepsOptions, type MoeStepsResult, type PhaseRun } from './moe-steps.js';
import type { MoePlan } from './plan.js';
import { checkCluster } from '../cluster/cluster.js';
import { checkMade } from '../validate.js';
import { PLAN } from './plan.js';
import { checkStepsOptions } from './moe-steps.js';

/** Mean of the numeric leaves of objects of one shape. */
function meanOf<T>(xs: readonly T[]): T {
  const avg = (vals: unknown[]): unknown => {
    const v0 = vals[0];
    if (typeof v0 === 'number') return (vals as number[]).reduce((a, b) => a + b, 0) / vals.length;
    if (Array.isArray(v0)) return v0.map((_, i) => avg(vals.map((v) => (v as unknown[])[i])));
    if (v0 && typeof v0 === 'object') return Object.fromEntries(Object.keys(v0).map((k) => [k, avg(vals.map((v) => (v as Record<string, unknown>)[k]))]));
    return v0;
  };
  return avg(xs as unknown[]) as T;
}

/**
 * Run every step of `plan` as its scenario's schedule (sizes-only). Token conservation is checked
 * on the notify counts each rank received against the plan.
 */
export async function runScheduledSteps(cluster: Cluster, plan: MoePlan, opts: MoeStepsOptions = {}): Promise<MoeStepsResult> {
  checkCluster(cluster, 'runScheduledSteps');
  checkMade(plan, 'plan', PLAN, 'planScenario()');
  checkStepsOptions(opts, 'runScheduledSteps');
  const s = plan.scenario;
  const sc = s.schedule;
  if (!sc) return fail('E_ARGUMENT', 'runScheduledSteps: the scenario has no schedule', { argument: 'schedule' });
  const m = s.model;
  const R = plan.numRanks;
  const hw = cluster.config.hardware;
  const perGpu = plan.layout.slotsPerGpu;
  const recording = cluster.config.recordTimeline;
  const schedule = buildSchedule(sc.kind, sc.layers, hw.smCount, sc.commSms);
  const phases: PhaseRun[] = [];
  const timelines = new RunTimeline();
  const figures: ScheduleFigures[] = [];
  const digest = createHash('sha256');
  let conserved = true;
  let received = 0;
  const format = m.dispatchFormat === 'fp8' ? 'fp8' : 'bf16';
  const configs = scenarioEpConfigs(withCommSms(s));

  for (const [step, st] of plan.steps.entries()) {
    if (opts.signal?.aborted) fail('E_ABORTED', `run aborted before step ${step}`, { step });
    const n = step + 1; // steps are 1-based in everything the layer reports
    if (recording) await cluster.takeTimeline();
    const t0 = cluster.nowUs;
    const run = await runSchedule(cluster, schedule, {
      slots: st.slots, slotsPerRank: perGpu, topk: m.topk, hidden: m.hidden, moeIntermediate: m.moeIntermediateSize,
      routedExperts: m.numExperts, sharedExperts: m.numSharedExperts, format,
      dispatchConfig: configs.dispatch, combineConfig: configs.combine, commSms: sc.commSms, promptLen: sc.promptLen,
    }, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (t) => opts.onProgress?.({ step: n, phase: 'schedule', virtualUs: t }),
    });

    // What arrived, against the plan: rows per source rank over the micro-batches (layer 0's counts).
    for (let dst = 0; dst < R; dst++) {
      const row = new Int32Array(R);
      for (let mb = 0; mb < schedule.microBatches; mb++) {
        const counts = cluster.region(dst, scopeOf(0, mb) + R_NOTIFY).i32;
        const stride = counts.length / R;
        const channels = stride - perGpu;
        for (let src = 0; src < R; src++) for (let c = 0; c < channels; c++) row[src]! += counts[src * stride + c]!;
      }
      for (let src = 0; src < R; src++) {
        if (row[src] !== st.sendTokens[src * R + dst]) conserved = false;
        received += row[src]!;
      }
      digest.update(new Uint8Array(row.buffer));
    }

    const [notifyTl, scheduleTl] = splitAt(recording ? await cluster.takeTimeline() : new Float64Array(0), run.startUs);
    const samples = recording ? await cluster.takeSamples() : undefined;
    const activities = recording ? await cluster.takeActivities() : undefined;
    const emit = ({ p, release }: ReturnType<typeof makePhase>) => {
      phases.push(p);
      timelines.add(p.timeline!);
      opts.onPhase?.(p);
      release();
    };
    emit(makePhase({ step: n, phase: 'notify', startUs: t0, endUs: run.startUs }, notifyTl));
    emit(makePhase({
      step: n, phase: 'schedule', startUs: run.startUs, endUs: run.endUs,
      kernels: run.kernels.map((k) => ({ rank: k.rank, stream: schedule.streams[k.stream]!.name, id: k.id, startUs: k.startUs, endUs: k.endUs })),
      ...(samples ? { samples } : {}), ...(activities ? { activities } : {}),
    }, scheduleTl));

    const sim = simulatedFigures(schedule, run.kernels, R, run.startUs, run.endUs);
    // Dense layers (no communication): each micro-batch's dense layer on the compute stream's SMs.
    const computeSms = schedule.streams[0]!.sms;
    const dims = {
      hidden: m.hidden, mla: DEEPSEEK_V3_MLA, denseIntermediate: 18432, moeIntermediate: m.moeIntermediateSize,
      routedExperts: m.numExperts, topK: m.topk, sharedExperts: m.numSharedExperts,
    };
    const denseLayerUs = run.tokensPerMb.reduce((a, toks) =>
      a + layerComputeUs(hw, { phase: 'prefill', layer: 'dense', tokens: Math.max(...toks), contextLen: sc.promptLen, sms: computeSms, format, dims }).totalUs, 0);
    figures.push({
      kind: sc.kind, commSms: sc.commSms, notifyUs: run.notifyUs, denseLayerUs, simulated: sim,
      ...stepFigures(sim, denseLayerUs, m.tokensPerRank, s.cluster.gpusPerNode),
    });
  }

  const mean = meanOf(figures);
  return timelines.into({
    phases, outputDigest: digest.digest('hex'), verified: null, tokensConserved: conserved, tokensReceived: received,
    schedule: { ...mean, kind: sc.kind, layersSimulated: sc.layers, layersPerStep: figures[0]!.layersPerStep },
  });
}
