/**
 * @module
 * Pieces both low-latency kernels share: the per-SM clocks (DeepEP's launch: `numSms` SMs of
 * `numWarpGroups x warpsPerGroup` warps, each warp group owning one global expert), which path a
 * peer takes (NVLink stores within a node, RDMA across), the grid sync between the two phases of one
 * launch, and issuing the top-k / row sends of one SM in the order its warps finish them.
 */
import type { HardwareProfile } from '../../hardware/profile.js';
import type { RankContext } from '../../sim/rank-context.js';
import type { TaskBody } from '../../sim/task.js';
import { QP_SLOTS } from '../../transport/protocol.js';
import { SM_SEND, SmClock } from '../sm-clock.js';
import type { LlArgs } from './layout.js';

/** One clock per SM of the launch; all warps of an SM share its issue rate, HBM rates and bytes in flight. */
export function smClocks(a: LlArgs): SmClock[] {
  const { numSms, numWarpGroups, warpsPerGroup } = a.launch;
  return Array.from({ length: numSms }, (_, s) => new SmClock(s, SM_SEND, numWarpGroups * warpsPerGroup));
}

/**
 * A cooperative grid sync (`cg::this_grid().sync()`): every block arrives with an atomic on a global
 * counter in HBM and polls it until all have: an atomic and a load of local HBM, `2 x hbmLatencyUs`.
 */
export function gridSyncUs(hw: HardwareProfile): number {
  return 2 * hw.hbmLatencyUs;
}

/** DeepEP since 2025-06: peers on the same node take NVLink stores (P2P), others RDMA (IBGDA). */
export function isP2p(ctx: RankContext, dst: number): boolean {
  return Math.floor(dst / ctx.gpusPerNode) === ctx.node;
}

/** The queue pair of a local expert: DeepEP opens one per local expert (`num_qps_per_rank = experts / ranks`). */
export function qpOf(localExpert: number): number {
  return localExpert % QP_SLOTS;
}

/** A warp's send: `doneUs` after now (its copy or its work request), then `issue()`. */
export interface WarpSend {
  doneUs: number;
  issue: () => void;
}

/**
 * Warps of one SM working at once: each send is issued when its warp is done with it, in order of
 * completion (ties in warp order).
 */
export function* issueInOrder(ctx: RankContext, sends: WarpSend[]): TaskBody {
  if (sends.length === 0) return;
  const order = sends.map((_, i) => i).sort((x, y) => sends[x]!.doneUs - sends[y]!.doneUs || x - y);
  const start = ctx.now;
  for (const i of order) {
    const s = sends[i]!;
    const wait = start + s.doneUs - ctx.now;
    if (wait > 0) yield ctx.sleep(wait);
    s.issue();
  }
}
