/**
 * @module
 * DeepEP V1's low-latency buffer layout (`LowLatencyLayout`), its launch geometry and the names and
 * arguments the low-latency kernels share (reference deepep-details.md §4).
 *
 * With T = `num_max_dispatch_tokens_per_rank`, `scales = hidden / 128`:
 * - dispatch message `16 + max(2 * hidden, hidden + 4 * scales)` B (the buffer's slot; the message
 *   sent is `16 + hidden + 4 * scales` for FP8, `16 + 2 * hidden` for BF16);
 * - combine message `4 * scales + 2 * hidden` B (the slot; `2 * hidden` B are sent);
 * - per set: send buffer `max(T x dispatch message, experts x T x combine message)`, receive buffer
 *   `experts x T x max(dispatch message, combine message)`, signalling `experts x 4` B aligned up to 128;
 * - two sets, laid out `[signals 0 | signals 1 | send 0 | send 1 | receive 0 | receive 1]`;
 * - the size hint is `(total + 128) / 128 * 128` in integer arithmetic.
 */
import { fail, showValue } from '../../errors.js';
import type { DispatchDtype } from '../records.js';

/** A whole number >= 1, or `E_ARGUMENT` naming it. */
function count(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail('E_ARGUMENT', `${where}: '${name}' must be an integer >= 1, got ${showValue(v)}`, { argument: name, value: v });
  return v;
}

/** DeepEP refuses more than this many tokens per rank in the low-latency kernels. */
export const LL_MAX_TOKENS_PER_RANK = 256;
/** Threads per SM of the low-latency kernels (DeepEP launches them with 1024). */
export const LL_WARPS_PER_SM = 32;
/** Bytes of the header before each dispatch message's payload (its first int is the source token). */
export const LL_HEADER_BYTES = 16;
/** Values per FP8 scale. */
export const LL_SCALE_GROUP = 128;

/** Byte sizes of DeepEP's low-latency layout for one shape. */
export interface LowLatencySizes {
  /** Dispatch slot: `16 + max(2 * hidden, hidden + 4 * scales)`. */
  dispatchSlot: number;
  /** Combine slot: `4 * scales + 2 * hidden`. */
  combineSlot: number;
  sendBytes: number;
  recvBytes: number;
  /** Signalling bytes of one set, aligned up to 128. */
  signalBytes: number;
  /** Sum over both sets. */
  totalBytes: number;
  /** `lowLatencyRdmaSizeHint`: total plus one 128 B unit, aligned. */
  hintBytes: number;
}

/** The bytes DeepEP's low-latency kernels need, by `LowLatencyLayout`. */
export function lowLatencySizes(tokens: number, hidden: number, experts: number): LowLatencySizes {
  count('lowLatencySizes', 'tokens', tokens);
  count('lowLatencySizes', 'hidden', hidden);
  count('lowLatencySizes', 'experts', experts);
  const scales = Math.floor(hidden / LL_SCALE_GROUP);
  const dispatchSlot = LL_HEADER_BYTES + Math.max(2 * hidden, hidden + 4 * scales);
  const combineSlot = 4 * scales + 2 * hidden;
  const sendBytes = Math.max(tokens * dispatchSlot, experts * tokens * combineSlot);
  const recvBytes = experts * tokens * Math.max(dispatchSlot, combineSlot);
  const signalBytes = Math.ceil((experts * 4) / 128) * 128;
  const totalBytes = 2 * (sendBytes + recvBytes + signalBytes);
  const hintBytes = Math.floor((totalBytes + 128) / 128) * 128;
  return { dispatchSlot, combineSlot, sendBytes, recvBytes, signalBytes, totalBytes, hintBytes };
}

/**
 * DeepEP's `get_low_latency_rdma_size_hint(num_max_dispatch_tokens_per_rank, hidden, num_ranks,
 * num_experts)`: the RDMA buffer bytes per rank the low-latency kernels need (both buffer sets).
 * `ranks` does not enter the formula (DeepEP takes it too). T = 128, hidden 7168: 256 experts
 * 1,908,410,496 B; 288 experts 2,146,961,792 B; T = 256, 256 experts 3,816,818,816 B.
 */
export function lowLatencyRdmaSizeHint(tokens: number, hidden: number, ranks: number, experts: number): number {
  count('lowLatencyRdmaSizeHint', 'ranks', ranks);
  return lowLatencySizes(tokens, hidden, experts).hintBytes;
}

/** Byte offsets of one buffer set inside the RDMA buffer. */
export function setOffsets(s: LowLatencySizes, set: number): { signal: number; send: number; recv: number } {
  return {
    signal: s.signalBytes * set,
    send: s.signalBytes * 2 + s.sendBytes * set,
    recv: s.signalBytes * 2 + s.sendBytes * 2 + s.recvBytes * set,
  };
}

/** Bytes of one dispatch message as sent: header, payload, and for FP8 the float32 scales. */
export function dispatchMessageBytes(hidden: number, dtype: DispatchDtype): number {
  return dtype === 'fp8' ? LL_HEADER_BYTES + hidden + (hidden / LL_SCALE_GROUP) * 4 : LL_HEADER_BYTES + 2 * hidden;
}

/** Bytes of one combine message as sent: a BF16 row. */
export function combineMessageBytes(hidden: number): number {
  return 2 * hidden;
}

/**
 * DeepEP's launch of the low-latency kernels: `num_warp_groups = ceil(experts / device SMs)`,
 * `warps_per_group = 32 / num_warp_groups`, `num_sms = ceil(experts / num_warp_groups)`; each warp
 * group owns one global expert (256 experts on 132 SMs: 2 groups x 16 warps on 128 SMs).
 */
export interface LowLatencyLaunch {
  numWarpGroups: number;
  warpsPerGroup: number;
  numSms: number;
}

export function lowLatencyLaunch(experts: number, deviceSms: number): LowLatencyLaunch {
  count('lowLatencyLaunch', 'experts', experts);
  count('lowLatencyLaunch', 'deviceSms', deviceSms);
  const numWarpGroups = Math.ceil(experts / deviceSms);
  const warpsPerGroup = Math.floor(LL_WARPS_PER_SM / numWarpGroups);
  return { numWarpGroups, warpsPerGroup, numSms: Math.ceil(experts / numWarpGroups) };
}

/** Region names (per rank). Per-set regions carry the set index: two calls' data never share one. */
export const LL_BUF = 'ep.ll.buf'; // the RDMA buffer: [signals 0 | signals 1 | send 0 | send 1 | recv 0 | recv 1]
export const LL_LOCAL = 'ep.ll.local'; // per-kernel local counters: [experts] sends issued per expert, [1] clean done
export const llTopk = (set: number) => `ep.ll.topk.${set}`; // [T][topk] int32 routing of the call
export const llX = (set: number) => `ep.ll.x.${set}`; // [T][hidden] BF16 input of a dispatch
export const llPacked = (set: number) => `ep.ll.packed.${set}`; // a dispatch's packed output (see packedOffsets)
export const llCombineX = (set: number) => `ep.ll.cx.${set}`; // [localExperts][ranks * T][hidden] BF16 combine input
export const llCombineSrc = (set: number) => `ep.ll.csrc.${set}`; // [localExperts][ranks * T] int32 source token of each packed row
export const llWeights = (set: number) => `ep.ll.w.${set}`; // [T][topk] float32 combine weights
export const llOut = (set: number) => `ep.ll.out.${set}`; // [T][hidden] BF16 combined rows

/** Byte offsets of the packed output: x rows, scales (FP8), source token per row. */
export function packedOffsets(epr: number, ranks: number, tokens: number, hidden: number, dtype: DispatchDtype) {
  const rows = epr * ranks * tokens;
  const rowBytes = dtype === 'fp8' ? hidden : 2 * hidden;
  const x = 0;
  const scales = rows * rowBytes;
  const src = scales + (dtype === 'fp8' ? rows * (hidden / LL_SCALE_GROUP) * 4 : 0);
  return { rows, rowBytes, x, scales, src, bytes: src + rows * 4 };
}

/** Kernel phases: the send half, the receive half, or both in one launch with a grid sync between. */
export const PHASE_SEND = 1;
export const PHASE_RECV = 2;

/** What the main thread tells every host about one low-latency kernel launch. */
export interface LlArgs {
  numExperts: number;
  topk: number;
  hidden: number;
  /** `num_max_dispatch_tokens_per_rank`: the buffers' slots per (local expert, source rank). */
  maxTokens: number;
  /** Tokens of each rank in this call (<= maxTokens). */
  numTokens: number[];
  /** Dispatch payload ('fp8': cast on the fly with per-128 scales). Combine is always BF16. */
  dtype: DispatchDtype;
  /** Power-of-two (UE8M0) scales. */
  ue8m0: boolean;
  sizesOnly: boolean;
  /** Buffer set of this call (0 or 1). */
  set: number;
  /** PHASE_SEND, PHASE_RECV or both. */
  phases: number;
  launch: LowLatencyLaunch;
  /**
   * Per rank, per (local expert, source rank) `le * ranks + s`: rows received (dispatch) / rows to
   * send back (combine), and the first packed row of each (rows are packed by source rank).
   */
  recvCount: Int32Array[];
  recvBegin: Int32Array[];
  /** Per rank, how long after the others' launch the rank's kernel launches (back-to-back streams); null for none. */
  launchDelayUs: number[] | null;
}
