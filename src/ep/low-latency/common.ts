/**
 * @module
 * Pieces both low-latency kernels share: the per-SM clocks (DeepEP's launch: `numSms` SMs of
 * `numWarpGroups x warpsPerGroup` warps, each warp group owning one global expert), which path a
 * peer takes (NVLink stores within a node, RDMA across), the grid sync between the two phases of one
 * launch, and issuing the top-k / row sends of one SM in the order its warps finish them.
 */
import { fail } from '../../errors.js';
import type { HardwareProfile } from '../../hardware/profile.js';
import type { RankContext } from '../../sim/rank-context.js';
import type { TaskBody, TransferHandle } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { QP_SLOTS } from '../../transport/protocol.js';
import { fencedAtomicQp } from '../normal/slots.js';
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

/**
 * The NIC's side of a low-latency kernel's RDMA traffic, as the normal kernels' posted chunks pay
 * it (`src/ep/normal/slots.ts`): each write a warp posts starts a doorbell (`ibDoorbellUs`) after
 * the post; the count or flag that follows a stream of writes (a remote atomic on the same queue
 * pair) goes out once the last write is acknowledged, since on a multipath fabric an RDMA atomic
 * issued after writes costs about one extra round trip (deepep-details.md §5). A stream is what the
 * atomic covers: this rank's writes to one global expert (dispatch) or one warp group's rows back to
 * one rank (combine). The posting cost (`ibMessageUs`) is the warp's, charged by the caller.
 */
export class LlNic {
  /** Writes of each stream the NIC has started, and the handle of the last one (acknowledged). */
  private readonly started: Int32Array;
  private readonly last: TransferHandle[];

  constructor(streams: number) {
    this.started = new Int32Array(streams);
    this.last = new Array<TransferHandle>(streams).fill(-1);
  }

  /**
   * A write posted now on stream `stream` of `total` writes: the NIC starts it (`issue`, asking for
   * an acknowledgement if it is the stream's last) one doorbell later.
   */
  write(ctx: RankContext, stream: number, total: number, qp: number, dst: number, issue: (ack: boolean) => TransferHandle): void {
    ctx.spawn(nicName(qp, dst), this.startWrite(ctx, stream, total, issue));
  }

  private *startWrite(ctx: RankContext, stream: number, total: number, issue: (ack: boolean) => TransferHandle): TaskBody {
    yield ctx.sleep(ctx.hardware.ibDoorbellUs);
    const n = ++this.started[stream]!;
    const h = issue(n === total);
    if (n === total) this.last[stream] = h;
  }

  /**
   * The atomic add posted now after the `total` writes of `stream` (on queue pair `qp`): one doorbell,
   * then the last write's acknowledgement, then the atomic on the queue pair's fenced half.
   */
  atomicAfter(ctx: RankContext, stream: number, total: number, dst: Region, offset: number, value: number, qp: number): void {
    ctx.spawn(nicName(qp, dst.rank), this.atomic(ctx, stream, total, dst, offset, value, qp));
  }

  private *atomic(ctx: RankContext, stream: number, total: number, dst: Region, offset: number, value: number, qp: number): TaskBody {
    yield ctx.sleep(ctx.hardware.ibDoorbellUs);
    if (total > 0) {
      // Every write was posted before the atomic, so its doorbell rang first.
      if (this.started[stream] !== total)
        fail('E_VERIFY', `low-latency kernel: rank ${ctx.rank} posts an atomic after ${this.started[stream]} of ${total} writes of stream ${stream}`, { rank: ctx.rank, stream });
      yield ctx.delivered(this.last[stream]!);
    }
    ctx.atomicAdd(dst, offset, value, { qp: fencedAtomicQp(qp) });
  }
}

/** Names of the NIC's tasks, made once per (queue pair, destination). */
const NIC_NAMES = new Map<number, string>();

function nicName(qp: number, dst: number): string {
  const key = dst * QP_SLOTS + qp;
  let name = NIC_NAMES.get(key);
  if (name === undefined) NIC_NAMES.set(key, (name = `LL NIC[qp ${qp} -> ${dst}]`));
  return name;
}
