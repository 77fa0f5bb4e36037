/**
 * @module
 * The up-front estimate of an expert-parallel run (dispatch + combine, once or per step): the
 * registered regions exactly as the layer sizes them, the caller-side tensors, and the events and
 * timeline records the kernels will produce. See src/cluster/host-limits.ts for the check.
 */
import type { HardwareProfile } from '../hardware/profile.js';
import { makeEstimate, type RunEstimate } from '../cluster/host-limits.js';
import { defaultEpConfigs, DEFAULT_NUM_SMS, type EpConfig } from './normal/ep-config.js';
import { ringRegionSizes, type EpArgs } from './ep-args.js';
import { combineRecordBytes, dispatchRecordLayout, type DispatchDtype } from './records.js';
import { TIMELINE_RECORD_HELD_BYTES } from '../sim/timeline.js';

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
 *   the NIC's posting and doorbell). Measured (`bench deepep`, sizes only, default configs, one
 *   worker, slope over tokens) with the links' work done once per instant and engine: one node 0.8
 *   (8 ranks, 128 -> 256 tokens); two nodes 2.9 (16 ranks, 128 -> 512); four and more nodes, where
 *   every token is also forwarded from its RDMA rank over NVLink, 8.9 (32 ranks, 128 -> 512; 64
 *   ranks not re-measured: 16.2 against 15.0 at 32 before).
 * - **per (rank, channel, peer rank)**: what every channel does for every peer whatever the tokens
 *   (notify counts, head and tail updates, the last empty chunk and its wake-ups): the intercept of
 *   the same measurements: 15.6 on one node, 14.4 on two, 9.6 from four nodes on.
 *
 * A resource estimate, not a timing model: it sizes the timeline and is printed by --dry-run;
 * test/workers/bench-deepep.test.ts keeps it within 1.5x of measured counts on small shapes.
 */
export function eventsPerPair(numNodes: number): number {
  return numNodes === 1 ? 0.8 : numNodes === 2 ? 2.9 : 8.9;
}

/** Events per (rank, channel, peer rank) of one dispatch + combine, whatever the tokens (see {@link eventsPerPair}). */
export function eventsPerChannelPeer(numNodes: number): number {
  return numNodes === 1 ? 15.6 : numNodes === 2 ? 14.4 : 9.6;
}
/** Bytes of one timeline record as flat rows (12 float64 fields). */
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

/** The layer's shape as its per-rank buffers depend on it. */
export interface EpLayerShape {
  ranks: number;
  gpusPerNode: number;
  hidden: number;
  topk: number;
  experts: number;
  dtype: DispatchDtype;
  dispatch: EpConfig;
  combine: EpConfig;
}

/**
 * Bytes the expert-parallel layer registers on one rank with `tokens` tokens and `recvRows`
 * received rows, region by region as `ExpertParallel` sizes them: top-k ids, the notify counts,
 * both kernels' rings and, with `payload`, the records in and out. With `payload` true this is what
 * DeepEP allocates in HBM for the layer whether or not the run moves bytes: the simulated HBM,
 * checked against the profile's HBM per rank. With the run's own mode (`payload` false for a
 * sizes-only run) and `touched`, it is the host memory the rank's regions take: the rings' slots
 * the run's tokens can fill, not their full size.
 */
export function epRankBytes(l: EpLayerShape, tokens: number, recvRows: number, payload: boolean, touched = false): number {
  const { ranks: R, hidden: H, topk: K, experts: E } = l;
  const args: EpArgs = {
    numExperts: E, topk: K, hidden: H, dtype: l.dtype, dispatch: l.dispatch, combine: l.combine, sizesOnly: !payload,
    numTokens: [], expertAlignment: 1,
  };
  const C = l.dispatch.numSms / 2;
  const G = l.gpusPerNode;
  const N = Math.max(1, Math.round(R / G));
  // With `touched`, a ring's data regions count only the slots a run can write: each (channel, peer)
  // segment of B slots takes at most the tokens that go through it (twice the mean, for skew), and
  // the pages past them are never written (registered memory is committed by the OS page by page).
  const perNvlSegment = N === 1 ? recvRows / (C * R) : recvRows / (C * G);
  const perRdmaSegment = (tokens * expectedDestinations(E, N, K)) / N / C;
  const share = (name: string, kernel: EpConfig): number => {
    if (!touched) return 1;
    if (name.endsWith('nvl.ring') || name.endsWith('nvl.stage')) return Math.min(1, (2 * perNvlSegment) / kernel.nvlBuffer);
    if (name.endsWith('rdma.ring') || name.endsWith('rdma.stage')) return Math.min(1, (2 * perRdmaSegment) / kernel.rdmaBuffer);
    return 1;
  };
  const rings =
    ringRegionSizes('d', args, R, G).reduce((a, r) => a + r.bytes * share(r.name, l.dispatch), 0) +
    ringRegionSizes('c', args, R, G).reduce((a, r) => a + r.bytes * share(r.name, l.combine), 0);
  // ep.notify and ep.notify.out ([ranks][channels + local experts] int32), ep.notify.sig.
  const notify = 2 * (C + E / R) * 4 * R + 8;
  const recD = dispatchRecordLayout(H, K, l.dtype).bytes;
  const recC = combineRecordBytes(H);
  // ep.in, ep.recv, ep.cin, ep.cout.
  const records = payload ? Math.max(16, tokens * recD) + Math.max(16, recvRows * recD) + Math.max(16, recvRows * recC) + Math.max(16, tokens * H * 2) : 0;
  return Math.max(4, tokens * K * 4) + notify + rings + records;
}

/** Estimate an expert-parallel run. */
export function estimateEpRun(s: EpRunShape): RunEstimate {
  const { ranks: R, tokens: T, hidden: H, topk: K, experts: E } = s;
  const N = Math.max(1, Math.round(R / s.gpusPerNode));
  const d = defaultEpConfigs(R, s.numSms ?? DEFAULT_NUM_SMS, N);
  const layer: EpLayerShape = {
    ranks: R, gpusPerNode: s.gpusPerNode, hidden: H, topk: K, experts: E, dtype: s.dtype, dispatch: s.dispatch ?? d.dispatch, combine: s.combine ?? d.combine,
  };
  const C = layer.dispatch.numSms / 2; // channels
  const dests = expectedDestinations(E, R, K);
  const pairs = R * T * dests;
  const recvRows = T * dests; // per rank, on average
  // Host: what this run registers and writes; simulated HBM: what DeepEP would allocate (rings and tensors in full).
  const perRank = epRankBytes(layer, T, recvRows, !s.sizesOnly, true);
  const hbmPerRank = epRankBytes(layer, T, recvRows, true);
  const xBytes = s.dtype === 'fp8' ? H + (H / 128) * 4 : 2 * H;
  const payload = s.sizesOnly ? 0 : R * (T * xBytes + recvRows * H * (2 + 4) + T * H * (2 + 4));
  // top-k ids, the handle's copy, weights, and the layouts' [tokens][ranks] bytes.
  const plan = R * T * K * 4 * 3 + R * T * R + (s.planBytes ?? 0);
  const eventsPerRun = pairs * eventsPerPair(N) + R * C * R * eventsPerChannelPeer(N);
  // A phase is one kernel; its records are held in the hosts' chunks with their order, then (for
  // traces and summaries) written out as flat rows.
  const recordsPerPhase = eventsPerRun / 2 / 2.5;
  const timeline = s.recordTimeline ? recordsPerPhase * (TIMELINE_RECORD_HELD_BYTES + 8 + TIMELINE_RECORD_BYTES) : 0;
  const traceEvents = s.trace === 'none' ? 0 : s.trace === 'full' ? recordsPerPhase * 3 : Math.min(recordsPerPhase, 5000) * 3 + 200 * R * 4;
  return makeEstimate(
    s.what, R, { registered: R * perRank, payload, plan, timeline, trace: traceEvents * TRACE_EVENT_BYTES }, s.workers + 1,
    hbmPerRank, s.hardware.hbmBytes, eventsPerRun * s.kernelRuns, s.lower,
  );
}
