/**
 * @module
 * The up-front estimate of an expert-parallel run (dispatch + combine, once or per step): the
 * registered regions exactly as the layer sizes them, the caller-side tensors, and the events and
 * timeline records the kernels will produce. See src/cluster/host-limits.ts for the check.
 */
import type { HardwareProfile } from '../hardware/profile.js';
import { makeEstimate, type RunEstimate } from '../cluster/host-limits.js';
import { defaultEpConfigs, DEFAULT_NUM_SMS, type EpConfig } from './ep-config.js';
import { ringRegionSizes, type EpArgs } from './ep-args.js';
import { combineRecordBytes, dispatchRecordLayout, type DispatchDtype } from './records.js';

/** The shape of an expert-parallel run. */
export interface EpRunShape {
  what: string;
  ranks: number;
  gpusPerNode: number;
  /** Tokens per rank. */
  tokens: number;
  hidden: number;
  topk: number;
  experts: number;
  dtype: DispatchDtype;
  sizesOnly: boolean;
  numSms?: number;
  dispatch?: EpConfig;
  combine?: EpConfig;
  /** Dispatch + combine pairs the run performs (steps, or 1 + tuning sweeps). */
  kernelRuns: number;
  recordTimeline: boolean;
  trace: 'none' | 'sampled' | 'full';
  workers: number;
  hardware: HardwareProfile;
  /** Extra main-thread bytes (e.g. a scenario's routing plan). */
  planBytes?: number;
  lower: string;
}

/**
 * Events per (token, destination rank) pair of one dispatch + combine, fitted on measured runs of
 * `bench deepep` (sizes only, default configs): one node 2.5 (8 ranks x 512 tokens); two nodes 3.3
 * (16 ranks x 512 and x 2048 tokens: 3.6 and 3.3); four and more nodes about 12 (32 ranks x 256
 * tokens: 13; EP64 x 4096: 11.9; EP256 x 4096: 11.3), where forwarding and per-channel chunking add
 * events. A resource estimate, not a timing model: it sizes the timeline and is printed by --dry-run.
 */
export function eventsPerPair(numNodes: number): number {
  return numNodes === 1 ? 2.5 : Math.min(12, 3.3 + 4.35 * (numNodes - 2));
}
/** Bytes of one timeline record (12 float64 fields). */
const TIMELINE_RECORD_BYTES = 12 * 8;
/** Bytes of one trace event as JSON text and as a JS object before it is written (order of magnitude). */
const TRACE_EVENT_BYTES = 250;

/**
 * Expected destination ranks of a token: experts are contiguous, `experts / ranks` per rank, and a
 * token picks `topk` distinct experts uniformly (the balanced case; skew only lowers it).
 */
export function expectedDestinations(experts: number, ranks: number, topk: number): number {
  const perRank = experts / ranks;
  let miss = 1;
  for (let i = 0; i < topk && miss > 0; i++) miss *= Math.max(0, experts - perRank - i) / (experts - i);
  return ranks * (1 - miss);
}

/** Estimate an expert-parallel run. */
export function estimateEpRun(s: EpRunShape): RunEstimate {
  const { ranks: R, tokens: T, hidden: H, topk: K, experts: E } = s;
  const N = Math.max(1, Math.round(R / s.gpusPerNode));
  const d = defaultEpConfigs(R, s.numSms ?? DEFAULT_NUM_SMS, N);
  const args: EpArgs = {
    numExperts: E, topk: K, hidden: H, dtype: s.dtype, dispatch: s.dispatch ?? d.dispatch, combine: s.combine ?? d.combine,
    sizesOnly: s.sizesOnly, numTokens: [], expertAlignment: 1,
  };
  const C = args.dispatch.numSms / 2;
  const dests = expectedDestinations(E, R, K);
  const pairs = R * T * dests;
  const recvRows = T * dests; // per rank, on average
  const recD = dispatchRecordLayout(H, K, s.dtype).bytes;
  const recC = combineRecordBytes(H);
  const rings = [...ringRegionSizes('d', args, R, s.gpusPerNode), ...ringRegionSizes('c', args, R, s.gpusPerNode)].reduce((a, r) => a + r.bytes, 0);
  const notify = 2 * (C + E / R) * 4 * R + 4;
  const real = !s.sizesOnly ? T * recD + recvRows * recD + recvRows * recC + T * H * 2 : 0;
  const perRank = T * K * 4 + notify + rings + real;
  const xBytes = s.dtype === 'fp8' ? H + (H / 128) * 4 : 2 * H;
  const payload = s.sizesOnly ? 0 : R * (T * xBytes + recvRows * H * (2 + 4) + T * H * (2 + 4));
  // top-k ids, the handle's copy, weights, and the layouts' [tokens][ranks] bytes.
  const plan = R * T * K * 4 * 3 + R * T * R + (s.planBytes ?? 0);
  const eventsPerRun = pairs * eventsPerPair(N) + R * R;
  // A phase is one kernel; its records are collected, then sorted into a copy.
  const recordsPerPhase = eventsPerRun / 2 / 2.5;
  const timeline = s.recordTimeline ? recordsPerPhase * TIMELINE_RECORD_BYTES * 2 : 0;
  const traceEvents = s.trace === 'none' ? 0 : s.trace === 'full' ? recordsPerPhase * 3 : Math.min(recordsPerPhase, 5000) * 3 + 200 * R * 4;
  return makeEstimate(
    s.what, R, { registered: R * perRank, payload, plan, timeline, trace: traceEvents * TRACE_EVENT_BYTES }, s.workers + 1,
    perRank, s.hardware.hbmBytes, eventsPerRun * s.kernelRuns, s.lower,
  );
}
