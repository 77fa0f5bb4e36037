/**
 * @module
 * What both intranode kernels know on a rank: the notify counts (rows per source rank and channel),
 * the receive-side row offsets, and the channel SMs' clocks.
 */
import type { RankContext } from '../../sim/rank-context.js';
import { numChannels, notifyStride, R_NOTIFY, type EpArgs } from '../ep-args.js';
import { receiveOffsets } from './plan.js';
import { SM_RECV, SM_SEND, SmClock } from '../sm-clock.js';

export interface IntranodeState {
  /** Notify counts: [source rank][channels + local experts]. */
  counts: Int32Array;
  /** First receive row of (source rank, channel). */
  offsets: Int32Array;
  sendSm: SmClock[];
  recvSm: SmClock[];
  /** Record bytes of the kernel. */
  rec: number;
}

export function intranodeState(ctx: RankContext, a: EpArgs, rec: number): IntranodeState {
  const R = ctx.numRanks;
  const C = numChannels(a.dispatch);
  const counts = Int32Array.from(ctx.region(R_NOTIFY).i32);
  return {
    counts,
    offsets: receiveOffsets(counts, R, C, notifyStride(a, R)).offsets,
    sendSm: Array.from({ length: C }, (_, c) => new SmClock(c, SM_SEND)),
    recvSm: Array.from({ length: C }, (_, c) => new SmClock(c, SM_RECV)),
    rec,
  };
}
