/**
 * @module
 * The notify step before a dispatch: every rank sends every rank how many of its tokens go there
 * per channel and per local expert; the CPU then waits for the totals to size the receive side.
 * DeepEP's benchmark reports it separately from the kernel time, and so does expertmesh.
 */
import { defineOp } from '../actors/op-registry.js';
import type { RankContext } from '../sim/rank-context.js';
import { numChannels, notifyStride, R_NOTIFY, R_NOTIFY_OUT, R_NOTIFY_SIG, R_TOPK, type EpArgs } from './ep-args.js';
import { channelOf } from './plan.js';

/** What each rank learns in the notify step. */
export interface NotifyResult {
  /** Rows this rank will receive. */
  numRecv: number;
  /** Received tokens per local expert, before alignment. */
  perExpert: number[];
}

/** Count, for each destination rank, this rank's tokens per channel and per destination expert. */
function countOutgoing(ctx: RankContext, a: EpArgs): void {
  const R = ctx.numRanks;
  const T = a.numTokens[ctx.rank]!;
  const C = numChannels(a.dispatch);
  const epr = a.numExperts / R;
  const stride = notifyStride(a, R);
  const topk = new Int32Array(ctx.region(R_TOPK).buffer, 0, T * a.topk);
  const out = ctx.region(R_NOTIFY_OUT).i32;
  out.fill(0);
  const last = new Int32Array(R).fill(-1);
  for (let t = 0; t < T; t++) {
    const c = channelOf(T, C, t);
    for (let j = 0; j < a.topk; j++) {
      const e = topk[t * a.topk + j]!;
      if (e < 0) continue;
      const d = (e / epr) | 0;
      out[d * stride + C + (e - d * epr)]!++;
      if (last[d] !== t) {
        last[d] = t;
        out[d * stride + c]!++;
      }
    }
  }
}

defineOp<EpArgs>({
  name: 'ep.notify',
  prepare(ctx, a) {
    countOutgoing(ctx, a);
    Atomics.store(ctx.region(R_NOTIFY_SIG).i32, 0, 0);
  },
  *task(ctx, a) {
    const R = ctx.numRanks;
    const rowBytes = notifyStride(a, R) * 4;
    const out = ctx.region(R_NOTIFY_OUT);
    for (let k = 0; k < R; k++) {
      const d = (ctx.rank + k) % R;
      ctx.put(ctx.peerRegion(d, R_NOTIFY), ctx.rank * rowBytes, out, d * rowBytes, rowBytes);
      ctx.atomicAdd(ctx.peerRegion(d, R_NOTIFY_SIG), 0, 1);
    }
    yield ctx.untilAtLeast(ctx.region(R_NOTIFY_SIG), 0, R);
    // The CPU polls the mapped counters and launches the dispatch with the totals.
    yield ctx.sleep(ctx.hardware.hostSyncUs);
  },
  finish(ctx, a): NotifyResult {
    const R = ctx.numRanks;
    const C = numChannels(a.dispatch);
    const epr = a.numExperts / R;
    const stride = notifyStride(a, R);
    const n = ctx.region(R_NOTIFY).i32;
    let numRecv = 0;
    const perExpert = new Array<number>(epr).fill(0);
    for (let s = 0; s < R; s++) {
      for (let c = 0; c < C; c++) numRecv += n[s * stride + c]!;
      for (let e = 0; e < epr; e++) perExpert[e]! += n[s * stride + C + e]!;
    }
    return { numRecv, perExpert };
  },
});
