/**
 * @module
 * THE SEAM between the scenario runner and the MoE layer. `runScenario` calls {@link runMoeSteps}
 * once per scenario, with a started cluster and the routing plan, and consumes only
 * {@link MoeStepsResult}. Until the dispatch/combine layer of `src/ep` lands, the body below is a
 * placeholder built from what exists: the DeepEP traffic pattern of every phase sent with
 * `runTraffic` (sizes only, chunked by the receive buffers of the kernel configs) and the experts'
 * time from the compute model. Replacing the body (same signature, same result) is all it takes.
 */
import { createHash } from 'node:crypto';
import { fail } from '../errors.js';
import type { Cluster } from '../cluster/cluster.js';
import { runTraffic, type TrafficTransfer } from '../ep/traffic.js';
import { expertTimeUs } from '../kernels/compute-model.js';
import { TIMELINE_FIELDS, TIMELINE_STRIDE, type TimelineRecord } from '../sim/timeline.js';
import { OP_PUT } from '../transport/protocol.js';
import { combineBytesPerToken, dispatchBytesPerToken, layoutDigest, type MoePlan } from './plan.js';

/** The phases of one MoE layer, in order. */
export const PHASES = ['notify', 'dispatch', 'experts', 'combine'] as const;
export type PhaseName = (typeof PHASES)[number];

/** One phase of one step, as simulated. */
export interface PhaseRun {
  step: number;
  phase: PhaseName;
  /** Virtual start and end, us (absolute cluster time). */
  startUs: number;
  endUs: number;
  /** The transfers of the phase, canonical order (dst, src, pairSeq), absolute times. */
  records: TimelineRecord[];
  /** Per rank `[startUs, endUs]` of its compute in the phase, when the phase computes. */
  compute?: Array<readonly [number, number]>;
}

/** Progress inside {@link runMoeSteps}. */
export interface MoeProgress {
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
  /** SHA-256 hex over all ranks' outputs in rank order; in sizes-only mode over received counts and layouts. */
  outputDigest: string;
  /** Outputs matched the dense reference (true/false), or null when not checked. */
  verified: boolean | null;
  /** Every token dispatched arrived, and every combined token came back. */
  tokensConserved: boolean;
}

/** The signature a MoE layer implements to plug into `runScenario`. */
export type MoeStepsRunner = (cluster: Cluster, plan: MoePlan, opts: MoeStepsOptions) => Promise<MoeStepsResult>;

/** Split `tokens` into transfers of at most `chunk` tokens. */
function chunked(out: TrafficTransfer[], src: number, dst: number, tokens: number, chunk: number, bytesPerToken: number, atUs = 0): void {
  for (let c = 0; c < tokens; c += chunk) out.push({ src, dst, bytes: Math.min(chunk, tokens - c) * bytesPerToken, atUs });
}

/** Payload bytes per (src, dst) pair in the records (puts only). */
function pairBytes(records: readonly TimelineRecord[], R: number): Float64Array {
  const b = new Float64Array(R * R);
  for (const r of records) if (r.op === OP_PUT) b[r.src * R + r.dst]! += r.bytes;
  return b;
}

/**
 * Run every step of `plan` on `cluster`: notify, dispatch, experts, combine.
 * PLACEHOLDER body (see the module comment): the lead's dispatch/combine layer replaces it.
 */
export async function runMoeSteps(cluster: Cluster, plan: MoePlan, opts: MoeStepsOptions = {}): Promise<MoeStepsResult> {
  const s = plan.scenario;
  const R = plan.numRanks;
  const gpn = plan.gpusPerNode;
  const phases: PhaseRun[] = [];
  let conserved = true;
  const run = { ...(opts.signal ? { signal: opts.signal } : {}) };
  const sameNode = (a: number, b: number) => Math.floor(a / gpn) === Math.floor(b / gpn);

  const traffic = async (step: number, phase: PhaseName, transfers: TrafficTransfer[], delayUs = 0): Promise<PhaseRun> => {
    const callUs = cluster.nowUs;
    const startUs = callUs + delayUs;
    const res = await runTraffic(cluster, transfers, {
      ...run,
      onProgress: (t) => opts.onProgress?.({ step, phase, virtualUs: t }),
    });
    for (const r of res.records) for (const k of ['issueT', 'egressStartT', 'egressDoneT', 'ingressStartT', 'ingressDoneT', 'deliverT'] as const) r[k] += callUs;
    const p: PhaseRun = { step, phase, startUs, endUs: callUs + res.timeUs, records: res.records };
    phases.push(p);
    opts.onPhase?.(p);
    return p;
  };

  const dispatchBpt = dispatchBytesPerToken(s);
  const combineBpt = combineBytesPerToken(s);
  const { dispatchConfig: dc, combineConfig: cc } = s;
  for (const [step, st] of plan.steps.entries()) {
    if (opts.signal?.aborted) fail('E_ABORTED', `run aborted before step ${step}`, { step });
    // notify: every rank tells every other rank how many tokens (and per-expert counts) to expect.
    const counts = 4 * (1 + plan.layout.slotsPerGpu);
    const notify: TrafficTransfer[] = [];
    for (let a = 0; a < R; a++) for (let b = 0; b < R; b++) if (a !== b) notify.push({ src: a, dst: b, bytes: counts });
    await traffic(step, 'notify', notify);

    const dispatch: TrafficTransfer[] = [];
    for (let a = 0; a < R; a++)
      for (let b = 0; b < R; b++) {
        const n = st.sendTokens[a * R + b]!;
        if (n > 0) chunked(dispatch, a, b, n, sameNode(a, b) ? dc.nvlBuffer : dc.rdmaBuffer, dispatchBpt);
      }
    const d = await traffic(step, 'dispatch', dispatch);
    const sent = pairBytes(d.records, R);
    for (let i = 0; i < R * R; i++) if (sent[i] !== st.sendTokens[i]! * dispatchBpt) conserved = false;

    // experts: each rank's slots (fp8 grouped GEMMs) plus the shared experts on its own tokens.
    const m = s.model;
    const t0 = d.endUs;
    const compute = Array.from({ length: R }, (_, g) => {
      let us = m.numSharedExperts * expertTimeUs(plan.hardware, { tokens: m.tokensPerRank, hidden: m.hidden, intermediate: m.moeIntermediateSize, format: 'fp8' });
      for (let j = 0; j < plan.layout.slotsPerGpu; j++) {
        const tokens = st.slotLoad[g * plan.layout.slotsPerGpu + j]!;
        us += expertTimeUs(plan.hardware, { tokens, hidden: m.hidden, intermediate: m.moeIntermediateSize, format: 'fp8' });
      }
      return [t0, t0 + us] as const;
    });
    const expertsEnd = Math.max(t0, ...compute.map((c) => c[1]));
    const experts: PhaseRun = { step, phase: 'experts', startUs: t0, endUs: expertsEnd, records: [], compute };
    phases.push(experts);
    opts.onPhase?.(experts);

    // combine: the reverse of dispatch in BF16, once every expert is done (no overlap modelled here).
    const combine: TrafficTransfer[] = [];
    for (let a = 0; a < R; a++)
      for (let b = 0; b < R; b++) {
        const n = st.sendTokens[a * R + b]!;
        if (n > 0) chunked(combine, b, a, n, sameNode(a, b) ? cc.nvlBuffer : cc.rdmaBuffer, combineBpt, expertsEnd - t0);
      }
    const c = await traffic(step, 'combine', combine, expertsEnd - t0);
    const back = pairBytes(c.records, R);
    for (let a = 0; a < R; a++) for (let b = 0; b < R; b++) if (back[b * R + a] !== st.sendTokens[a * R + b]! * combineBpt) conserved = false;
  }

  const n = phases.reduce((acc, p) => acc + p.records.length, 0);
  const timeline = new Float64Array(n * TIMELINE_STRIDE);
  let o = 0;
  for (const p of phases) for (const r of p.records) for (const f of TIMELINE_FIELDS) timeline[o++] = r[f];
  return { phases, timeline, outputDigest: layoutDigest(plan), verified: null, tokensConserved: conserved };
}

/** SHA-256 hex of a canonical run timeline (see {@link MoeStepsResult.timeline}). */
export function runTimelineDigest(timeline: Float64Array): string {
  return createHash('sha256').update(new Uint8Array(timeline.buffer, timeline.byteOffset, timeline.byteLength)).digest('hex');
}
