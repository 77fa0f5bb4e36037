/**
 * @module
 * THE SEAM between the scenario runner and the MoE layer. `runScenario` calls {@link runMoeSteps}
 * once per scenario, with a started cluster and the routing plan, and consumes only
 * {@link MoeStepsResult}. The body runs DeepEP's mechanism from `src/ep`: per step, the notify step
 * and the normal dispatch kernel on the plan's physical top-k (physical expert slots are the EP
 * layer's experts, contiguous per rank), the experts' time from the compute model charged on every
 * rank's clock, and the combine kernel on the dispatch's handle. Sizes-only scenarios move no payload
 * bytes (same tasks, chunks and flow control); real-payload scenarios dispatch seeded BF16/FP8 inputs,
 * run seeded SwiGLU experts and check every rank's output against a dense reference (`payload.ts`).
 */
import { createHash } from 'node:crypto';
import { fail, showValue } from '../errors.js';
import { checkCluster, type Cluster, type RunOptions } from '../cluster/cluster.js';
import { createExpertParallel, type DispatchResult } from '../ep/expert-parallel.js';
import { applyLocalExperts, chargeCompute, expertsTimeUs } from '../ep/experts.js';
import { defaultEpConfigs, resolveEpConfigs, type EpConfig } from '../ep/normal/ep-config.js';
import { expertTimeUs } from '../kernels/compute-model.js';
import { expertFfn } from '../kernels/ffn.js';
import { TIMELINE_STRIDE, timelineRecords, type TimelineRecord } from '../sim/timeline.js';
import { checkAgainstReference, expertWeights, rankInput, sharedOutput, type RankInput } from './payload.js';
import type { MoePlan } from './plan.js';
import type { KernelConfig, Scenario } from './schema.js';
import type { ScheduleFigures } from '../schedule/figures.js';
import { checkFunction, checkMade, checkObject, stamp } from '../validate.js';
import { PLAN } from './plan.js';

/** What {@link checkMade} calls a phase. */
export const PHASE = 'a phase';

/** The phases of one MoE layer, in order. */
export const PHASES = ['notify', 'dispatch', 'experts', 'combine'] as const;
/** A kernel phase, or `schedule`: a whole step run as a schedule on the GPUs' streams. */
export type PhaseName = (typeof PHASES)[number] | 'schedule';

/** One phase of one step, as simulated. */
export interface PhaseRun {
  /** Step, 1-based. */
  step: number;
  phase: PhaseName;
  /** Virtual start and end, us (absolute cluster time). */
  startUs: number;
  endUs: number;
  /**
   * The transfers of the phase, canonical order (dst, src, pairSeq), absolute times. Built on first
   * access from {@link timeline} (a full-size dispatch has about a million transfers).
   */
  readonly records: TimelineRecord[];
  /** The same transfers as flat {@link TIMELINE_STRIDE}-number records (`TIMELINE_FIELDS` order). */
  timeline?: Float64Array;
  /** Per rank `[startUs, endUs]` of its compute in the phase, when the phase computes. */
  compute?: Array<readonly [number, number]>;
  /** Counter samples of the phase (ring occupancy), flat `SAMPLE_STRIDE` records (time, rank, series, delta). */
  samples?: Float64Array;
  /** SM activity slices of the phase, flat `ACTIVITY_STRIDE` records (start, end, rank, track, label). */
  activities?: Float64Array;
  /** Dispatch and combine: each rank's kernel time, us (what DeepEP's test times per rank). */
  kernelRankUs?: number[];
  /** Scheduled phases: every kernel on every rank's streams. */
  kernels?: ReadonlyArray<{ rank: number; stream: string; id: string; startUs: number; endUs: number }>;
}

/** Progress inside {@link runMoeSteps}. */
export interface MoeProgress {
  /** Step, 1-based. */
  step: number;
  phase: PhaseName;
  /** Virtual time reached, us. */
  virtualUs: number;
}

/** Options of {@link runMoeSteps}. */
export interface MoeStepsOptions {
  signal?: AbortSignal;
  /** Called when a phase is complete (traces are streamed from here). */
  onPhase?: (phase: PhaseRun) => void;
  onProgress?: (p: MoeProgress) => void;
}

/** What the MoE layer hands back to the scenario runner. */
export interface MoeStepsResult {
  /** Every phase of every step, in execution order. */
  phases: PhaseRun[];
  /**
   * The run's canonical timeline: phases in execution order, each phase's records in (dst, src,
   * pairSeq) order, {@link TIMELINE_FIELDS} as float64 with absolute times.
   */
  timeline: Float64Array;
  /**
   * SHA-256 hex of {@link timeline}, folded phase by phase as the run goes (the runners here give
   * it, so the joined timeline is built only when `timeline` is read).
   */
  timelineDigest?: string;
  /** Simulated HBM on the busiest rank, bytes: what DeepEP would allocate for the layer (see `ExpertParallel.simulatedHbmBytes`). */
  simulatedHbmBytes?: number;
  /** SHA-256 hex over all ranks' outputs in rank order; in sizes-only mode over received counts and layouts. */
  outputDigest: string;
  /** Outputs matched the dense reference (true/false), or null when not checked. */
  verified: boolean | null;
  /** Every token dispatched arrived, and every combined token came back. */
  tokensConserved: boolean;
  /** Tokens received by all ranks over all steps (a token counts once per destination rank). */
  tokensReceived?: number;
  /** When `verified` is false: what differed. */
  mismatch?: string;
  /** Scheduled runs: the step figures (mean over steps). */
  schedule?: ScheduleFigures;
}

/** The signature a MoE layer implements to plug into `runScenario`. */
export type MoeStepsRunner = (cluster: Cluster, plan: MoePlan, opts: MoeStepsOptions) => Promise<MoeStepsResult>;

/**
 * A scenario's kernel configs as the EP layer takes them: DeepEP's defaults for the rank count,
 * overridden by the fields the scenario gives (then `source: 'given'`). Like DeepEP's `Config`
 * constructor, the RDMA receive ring is rounded up to a multiple of the RDMA send chunk (128 slots
 * with chunk 28 become 140). Checked against DeepEP's asserts (throws `E_CONFIG`).
 */
export function scenarioEpConfigs(s: Pick<Scenario, 'cluster' | 'dispatchConfig' | 'combineConfig'>): { dispatch: EpConfig; combine: EpConfig } {
  const nodes = s.cluster.nodes;
  const ranks = nodes * s.cluster.gpusPerNode;
  const d = defaultEpConfigs(ranks, s.dispatchConfig.numSms, nodes);
  const merge = (base: EpConfig, c: KernelConfig): Partial<EpConfig> => {
    const given = Object.fromEntries(Object.entries(c).filter(([k, v]) => v !== undefined && k !== 'numSms')) as Partial<EpConfig>;
    const rdmaChunk = given.rdmaChunk ?? base.rdmaChunk;
    const rdmaBuffer = given.rdmaBuffer ?? base.rdmaBuffer;
    if (given.rdmaChunk !== undefined || given.rdmaBuffer !== undefined) given.rdmaBuffer = Math.ceil(rdmaBuffer / rdmaChunk) * rdmaChunk;
    return { ...given, numSms: c.numSms };
  };
  return resolveEpConfigs(ranks, nodes, s.dispatchConfig.numSms, { dispatch: merge(d.dispatch, s.dispatchConfig), combine: merge(d.combine, s.combineConfig) });
}

/** A scheduled scenario's kernel configs: dispatch and combine on the schedule's communication SMs. */
export function withCommSms<S extends Pick<Scenario, 'cluster' | 'dispatchConfig' | 'combineConfig' | 'schedule'>>(s: S): S {
  if (!s.schedule) return s;
  const numSms = s.schedule.commSms;
  return { ...s, dispatchConfig: { ...s.dispatchConfig, numSms }, combineConfig: { ...s.combineConfig, numSms } };
}

/**
 * A phase whose `records` are materialised from its flat timeline on first access and kept until
 * `release()` (called once the phase has been streamed, so a traced run does not hold them all).
 */
export function makePhase(base: Omit<PhaseRun, 'records' | 'timeline'>, timeline: Float64Array): { p: PhaseRun; release: () => void } {
  let cache: TimelineRecord[] | null = null;
  const p = stamp({ ...base, timeline } as PhaseRun, PHASE);
  Object.defineProperty(p, 'records', { enumerable: true, get: () => (cache ??= timelineRecords(timeline)) });
  return { p, release: () => (cache = null) };
}

/** Split a canonical timeline into the records issued before `t` and the rest (order kept). */
export function splitAt(tl: Float64Array, t: number): [Float64Array, Float64Array] {
  const issue = 6; // TIMELINE_FIELDS.indexOf('issueT')
  const n = tl.length / TIMELINE_STRIDE;
  const before: number[] = [];
  for (let i = 0; i < n; i++) if (tl[i * TIMELINE_STRIDE + issue]! < t) before.push(i);
  if (before.length === 0) return [new Float64Array(0), tl];
  const a = new Float64Array(before.length * TIMELINE_STRIDE);
  const b = new Float64Array(tl.length - a.length);
  let ia = 0, ib = 0, k = 0;
  for (let i = 0; i < n; i++) {
    const row = tl.subarray(i * TIMELINE_STRIDE, (i + 1) * TIMELINE_STRIDE);
    if (k < before.length && before[k] === i) {
      a.set(row, ia);
      ia += TIMELINE_STRIDE;
      k++;
    } else {
      b.set(row, ib);
      ib += TIMELINE_STRIDE;
    }
  }
  return [a, b];
}

/** Compute-model time of one rank's experts (its slots' loads plus the shared experts on its own tokens), us. */
function rankExpertsUs(cluster: Cluster, s: Scenario, slotLoad: ArrayLike<number>): number {
  const m = s.model;
  const format = m.dispatchFormat === 'fp8' ? 'fp8' : 'bf16';
  const hw = cluster.config.hardware;
  const shared = m.numSharedExperts * expertTimeUs(hw, { tokens: m.tokensPerRank, hidden: m.hidden, intermediate: m.moeIntermediateSize, format }, { sms: hw.smCount });
  return shared + expertsTimeUs(cluster, Array.from(slotLoad), m.hidden, { format }, m.moeIntermediateSize);
}

/**
 * Run every step of `plan` on `cluster`: notify, dispatch, experts, combine, with DeepEP's kernels
 * (see the module comment). Phase records are the cluster's canonical timeline of each phase.
 */
/** Throw unless `o` is {@link MoeStepsOptions}: an object with an AbortSignal and functions where given. @internal */
export function checkStepsOptions(o: MoeStepsOptions, where: string): void {
  checkObject(o, `${where}: options`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('E_ARGUMENT', `${where}: options.signal must be an AbortSignal, got ${showValue(o.signal)}`, { argument: 'options.signal' });
  for (const k of ['onPhase', 'onProgress'] as const)
    if (o[k] !== undefined) checkFunction(o[k], `${where}: options.${k}`);
}

export async function runMoeSteps(cluster: Cluster, plan: MoePlan, opts: MoeStepsOptions = {}): Promise<MoeStepsResult> {
  checkCluster(cluster, 'runMoeSteps');
  checkMade(plan, 'plan', PLAN, 'planScenario()');
  checkStepsOptions(opts, 'runMoeSteps');
  const s = plan.scenario;
  const m = s.model;
  const R = plan.numRanks;
  const perGpu = plan.layout.slotsPerGpu;
  const numSlots = plan.layout.phy2log.length;
  const real = s.payload === 'real';
  const recording = cluster.config.recordTimeline;
  const phases: PhaseRun[] = [];
  const timelines = new RunTimeline();
  let hbm = 0;
  let conserved = true;
  let received = 0;
  let verified: boolean | null = real ? true : null;
  let mismatch: string | undefined;
  const digest = createHash('sha256');

  const ep = await createExpertParallel(cluster, {
    numExperts: numSlots, hidden: m.hidden, topk: m.topk, dtype: m.dispatchFormat, sizesOnly: !real,
    numSms: s.dispatchConfig.numSms, dispatchConfig: plan.epConfigs.dispatch, combineConfig: plan.epConfigs.combine,
  });
  const shared = real ? Array.from({ length: m.numSharedExperts }, (_, i) => expertWeights(plan, -1 - i)) : [];
  const experts = real
    ? Array.from({ length: numSlots }, (_, p) => (x: Float32Array, n: number) => expertFfn(x, n, expertWeights(plan, plan.layout.phy2log[p]!)))
    : [];

  const runOpts = (step: number, phase: PhaseName): RunOptions => ({
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (t) => opts.onProgress?.({ step, phase, virtualUs: t }),
  });
  const take = async () => (recording ? cluster.takeTimeline() : new Float64Array(0));
  const emit = ({ p, release }: ReturnType<typeof makePhase>) => {
    phases.push(p);
    timelines.add(p.timeline!);
    opts.onPhase?.(p);
    release();
  };

  for (const [step, st] of plan.steps.entries()) {
    const n = step + 1; // steps are 1-based in everything the layer reports
    if (opts.signal?.aborted) fail('E_ABORTED', `run aborted before step ${n}`, { step: n });
    await take(); // clear whatever ran before this step
    const inputs: RankInput[] = real ? Array.from({ length: R }, (_, r) => rankInput(plan, step, r)) : [];

    // notify + dispatch (one call: the notify step, then the kernel).
    const t0 = cluster.nowUs;
    const d: DispatchResult = await ep.dispatch({
      topkIdx: st.slots,
      ...(real ? { x: inputs.map((i) => i.x), topkWeights: inputs.map((i) => i.weights) } : {}),
    }, runOpts(n, 'dispatch'));
    const [notifyTl, dispatchTl] = splitAt(await take(), d.timing.startUs);
    const samples = recording ? await cluster.takeSamples() : undefined;
    const activities = recording ? await cluster.takeActivities() : undefined;
    emit(makePhase({ step: n, phase: 'notify', startUs: t0, endUs: d.timing.startUs }, notifyTl));
    emit(makePhase({
      step: n, phase: 'dispatch', startUs: d.timing.startUs, endUs: d.timing.startUs + d.timing.kernelUs, kernelRankUs: d.timing.perRankUs,
      ...(samples ? { samples } : {}), ...(activities ? { activities } : {}),
    }, dispatchTl));

    // What arrived, against the plan: rows per source rank and per local expert slot.
    const h = d.handle;
    hbm = Math.max(hbm, ...ep.simulatedHbmBytes(h));
    for (let dst = 0; dst < R; dst++) {
      const counts = h.notifyCounts[dst]!;
      const stride = counts.length / R;
      const channels = stride - perGpu;
      const row = new Int32Array(R + perGpu);
      for (let src = 0; src < R; src++) {
        let n = 0;
        for (let c = 0; c < channels; c++) n += counts[src * stride + c]!;
        row[src] = n;
        if (n !== st.sendTokens[src * R + dst]) conserved = false;
      }
      for (let j = 0; j < perGpu; j++) {
        row[R + j] = h.numRecvTokensPerExpert[dst]![j]!;
        if (row[R + j] !== st.slotLoad[dst * perGpu + j]) conserved = false;
      }
      received += h.numRecv[dst]!;
      if (real && d.recv[dst]!.recvSrc.length !== 2 * h.numRecv[dst]!) conserved = false;
      if (!real) digest.update(new Uint8Array(row.buffer));
    }

    // experts: compute-model time per rank; real payload: the arithmetic too (main thread).
    let y: Float32Array[] = [];
    let bias: Float32Array[] | undefined;
    if (real) {
      const epr = numSlots / R;
      y = d.recv.map((rv, r) => {
        const res = applyLocalExperts(rv, r, epr, m.hidden, m.topk, experts);
        for (let j = 0; j < epr; j++) if (res.tokensPerExpert[j] !== st.slotLoad[r * perGpu + j]) conserved = false;
        return res.y;
      });
      if (shared.length > 0) bias = inputs.map((i) => sharedOutput(plan, i.xf, m.tokensPerRank, shared)!);
    }
    const perRankUs = Array.from({ length: R }, (_, r) => rankExpertsUs(cluster, s, st.slotLoad.subarray(r * perGpu, (r + 1) * perGpu)));
    const e0 = cluster.nowUs;
    const expertsUs = await chargeCompute(cluster, perRankUs, runOpts(n, 'experts'));
    emit(makePhase({ step: n, phase: 'experts', startUs: e0, endUs: e0 + expertsUs, compute: perRankUs.map((us) => [e0, e0 + us] as const) }, await take()));

    // combine on the dispatch's handle (the shared experts' output joins as the combine's bias).
    const c = await ep.combine({ handle: h, ...(real ? { x: y } : {}), ...(bias ? { bias } : {}) }, runOpts(n, 'combine'));
    const combineTl = await take();
    const combineSamples = recording ? await cluster.takeSamples() : undefined;
    const combineActivities = recording ? await cluster.takeActivities() : undefined;
    emit(makePhase({
      step: n, phase: 'combine', startUs: c.timing.startUs, endUs: c.timing.startUs + c.timing.kernelUs, kernelRankUs: c.timing.perRankUs,
      ...(combineSamples ? { samples: combineSamples } : {}), ...(combineActivities ? { activities: combineActivities } : {}),
    }, combineTl));

    if (real) {
      for (const out of c.x) {
        if (out.length !== m.tokensPerRank * m.hidden) conserved = false;
        digest.update(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      }
      const chk = checkAgainstReference(plan, step, inputs, c.x, shared, opts.signal);
      if (!chk.ok) {
        verified = false;
        const f = chk.first;
        mismatch ??= `step ${n}: ${chk.mismatches} output values differ from the dense reference` +
          (f ? ` (first: rank ${f.rank} token ${f.token} column ${f.col}: got ${f.got}, want ${f.want} +- ${f.tol.toExponential(2)})` : '');
      }
    }
  }

  return timelines.into({
    phases, outputDigest: digest.digest('hex'), verified, tokensConserved: conserved, tokensReceived: received, simulatedHbmBytes: hbm,
    ...(mismatch ? { mismatch } : {}),
  });
}

/**
 * The run's timeline as the runners keep it: each phase's part digested as it is added, the parts
 * joined only if someone reads `timeline` (the phases hold their parts anyway: no second copy).
 */
export class RunTimeline {
  private readonly parts: Float64Array[] = [];
  private readonly hash = createHash('sha256');

  add(t: Float64Array): void {
    this.parts.push(t);
    this.hash.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  }

  /** `result` with `timelineDigest` and a lazy `timeline`. */
  into<T extends object>(result: T): T & Pick<MoeStepsResult, 'timeline' | 'timelineDigest'> {
    const parts = this.parts;
    let joined: Float64Array | null = null;
    const out = result as T & Pick<MoeStepsResult, 'timeline' | 'timelineDigest'>;
    out.timelineDigest = this.hash.digest('hex');
    Object.defineProperty(out, 'timeline', {
      enumerable: true,
      get: () => {
        if (joined) return joined;
        joined = new Float64Array(parts.reduce((a, t) => a + t.length, 0));
        let o = 0;
        for (const t of parts) {
          joined.set(t, o);
          o += t.length;
        }
        return joined;
      },
    });
    return out;
  }
}

/** SHA-256 hex of a canonical run timeline (see {@link MoeStepsResult.timeline}). */
export function runTimelineDigest(timeline: Float64Array): string {
  return createHash('sha256').update(new Uint8Array(timeline.buffer, timeline.byteOffset, timeline.byteLength)).digest('hex');
}
