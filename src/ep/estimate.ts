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
 * Events of one dispatch + combine, in two parts that follow how the kernels work:
 *
 * - **per (token, destination rank) pair**: the chunks that carry the token's rows, their tail
 *   signals and the credits and acknowledgements of the credit-controlled links (and, internode,
 *   the NIC's posting and doorbell). Measured (`bench deepep`, sizes only, default configs, slope
 *   over tokens): one node 1.5 (8 ranks, 128 -> 256 tokens); two nodes 3.8 (16 ranks, 128 -> 1024);
 *   four and more nodes, where every token is also forwarded from its RDMA rank over NVLink, 15.0
 *   (32 ranks, 128 -> 512) and 16.2 (64 ranks, 64 -> 256): 15.5 is used.
 * - **per (rank, channel, peer rank)**: what every channel does for every peer whatever the tokens
 *   (notify counts, head and tail updates, the last empty chunk and its wake-ups): the intercept of
 *   the same measurements: 17 on one node (8 ranks: 13k events at zero tokens), 20 on two (16
 *   ranks: 63k), about 11 from four nodes on (32 ranks: 115k; 64 ranks: 615k).
 *
 * A resource estimate, not a timing model: it sizes the timeline and is printed by --dry-run;
 * test/workers/bench-deepep.test.ts keeps it within 1.5x of measured counts on small shapes.
 */
export function eventsPerPair(numNodes: number): number {
  return numNodes === 1 ? 1.5 : numNodes === 2 ? 3.8 : 15.5;
}

/** Events per (rank, channel, peer rank) of one dispatch + combine, whatever the tokens (see {@link eventsPerPair}). */
export function eventsPerChannelPeer(numNodes: number): number {
  return numNodes === 1 ? 17 : numNodes === 2 ? 20 : 11;
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
  const eventsPerRun = pairs * eventsPerPair(N) + R * C * R * eventsPerChannelPeer(N);
  // A phase is one kernel; its records are collected, then sorted into a copy.
  const recordsPerPhase = eventsPerRun / 2 / 2.5;
  const timeline = s.recordTimeline ? recordsPerPhase * TIMELINE_RECORD_BYTES * 2 : 0;
  const traceEvents = s.trace === 'none' ? 0 : s.trace === 'full' ? recordsPerPhase * 3 : Math.min(recordsPerPhase, 5000) * 3 + 200 * R * 4;
  return makeEstimate(
    s.what, R, { registered: R * perRank, payload, plan, timeline, trace: traceEvents * TRACE_EVENT_BYTES }, s.workers + 1,
    perRank, s.hardware.hbmBytes, eventsPerRun * s.kernelRuns, s.lower,
  );
}
