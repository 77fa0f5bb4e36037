/**
 * @module
 * What the main thread tells every host about an expert-parallel layer, and the names and sizes of
 * the registered regions its kernels use (one place, so the main thread registers exactly what the
 * kernels address).
 */
import type { EpConfig } from './normal/ep-config.js';
import { combineRecordBytes, dispatchRecordLayout, type DispatchDtype, type RecordLayout } from './records.js';

export interface EpArgs {
  numExperts: number;
  topk: number;
  hidden: number;
  dtype: DispatchDtype;
  dispatch: EpConfig;
  combine: EpConfig;
  /** Move no payload bytes (timing only). */
  sizesOnly: boolean;
  /** Tokens per rank. */
  numTokens: number[];
  /** `numRecvTokensPerExpert` is rounded up to a multiple of this. */
  expertAlignment: number;
  /** Combine adds the float32 bias in `ep.cbias` before rounding to BF16. */
  hasBias?: boolean;
}

/** Region names. Counters are int32 arrays. */
export const R_TOPK = 'ep.topk'; // [T][topk] int32 expert ids (the routing every kernel reads)
export const R_IN = 'ep.in'; // [T] dispatch records built from the caller's x
export const R_NOTIFY = 'ep.notify'; // [src rank][C + E/R] counts received in the notify step
export const R_NOTIFY_OUT = 'ep.notify.out'; // [dst rank][C + E/R] counts to send
export const R_NOTIFY_SIG = 'ep.notify.sig'; // [1] rows received
export const R_RECV = 'ep.recv'; // [rows] received dispatch records
export const R_COMBINE_IN = 'ep.cin'; // [rows] combine records (the caller's expert outputs)
export const R_COMBINE_OUT = 'ep.cout'; // [T] combined BF16 rows
export const R_COMBINE_BIAS = 'ep.cbias'; // [T][hidden] float32 bias added by combine

/** Per-kernel ring regions: prefix 'ep.d.' for dispatch, 'ep.c.' for combine. */
export function ringNames(kernel: 'd' | 'c') {
  const p = `ep.${kernel}.`;
  return {
    nvlCtrl: `${p}nvl.ctrl`,
    nvlRing: `${p}nvl.ring`,
    nvlStage: `${p}nvl.stage`,
    rdmaCtrl: `${p}rdma.ctrl`,
    rdmaRing: `${p}rdma.ring`,
    rdmaStage: `${p}rdma.stage`,
    /** Local progress counters between roles of one rank. */
    local: `${p}local`,
    /** Channel metadata flags: set by each sender (start/end offsets written) before its first token. */
    meta: `${p}meta`,
  };
}

export function numChannels(c: EpConfig): number {
  return c.numSms / 2;
}

export function notifyStride(a: EpArgs, numRanks: number): number {
  return numChannels(a.dispatch) + a.numExperts / numRanks;
}

export function layoutOf(a: EpArgs): RecordLayout {
  return dispatchRecordLayout(a.hidden, a.topk, a.dtype);
}

/** Sizes of the ring regions of one kernel on every rank. */
export function ringRegionSizes(kernel: 'd' | 'c', a: EpArgs, numRanks: number, gpusPerNode: number): Array<{ name: string; bytes: number }> {
  const cfg = kernel === 'd' ? a.dispatch : a.combine;
  const rec = kernel === 'd' ? layoutOf(a).bytes : combineRecordBytes(a.hidden);
  const C = numChannels(a.dispatch);
  const N = numRanks / gpusPerNode;
  const n = ringNames(kernel);
  const out: Array<{ name: string; bytes: number }> = [];
  const data = (name: string, slots: number) => {
    if (!a.sizesOnly) out.push({ name, bytes: slots * rec });
  };
  if (N === 1) {
    // Combine runs on the dispatch's channels (the handle's row order).
    out.push({ name: n.nvlCtrl, bytes: C * numRanks * 2 * 4 });
    data(n.nvlRing, C * numRanks * cfg.nvlBuffer);
    data(n.nvlStage, C * numRanks * cfg.nvlBuffer);
    out.push({ name: n.local, bytes: 4 * C * 4 });
    out.push({ name: n.meta, bytes: C * numRanks * 4 });
  } else {
    out.push({ name: n.rdmaCtrl, bytes: C * N * 2 * 4 });
    data(n.rdmaRing, C * N * cfg.rdmaBuffer);
    data(n.rdmaStage, C * N * cfg.rdmaBuffer);
    out.push({ name: n.nvlCtrl, bytes: C * gpusPerNode * N * 2 * 4 });
    data(n.nvlRing, C * gpusPerNode * cfg.nvlBuffer);
    data(n.nvlStage, C * gpusPerNode * cfg.nvlBuffer);
    // staged counts [C][N], forwarder progress [C][N][gpn], forwarder coordinator bells [C]
    out.push({ name: n.local, bytes: (C * N + C * N * gpusPerNode + C) * 4 });
    // RDMA channel metadata per source node [C][N], NVLink channel metadata per forwarder [C][gpn].
    out.push({ name: n.meta, bytes: (C * N + C * gpusPerNode) * 4 });
  }
  return out;
}
