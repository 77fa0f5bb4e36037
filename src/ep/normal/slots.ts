/**
 * @module
 * Ring slots: putting a chunk into a peer's ring (wrapping, tail released with the data) and
 * copying slots out to rows of registered regions (real-data mode).
 */
import type { RankContext } from '../../sim/rank-context.js';
import type { Region } from '../../transport/memory.js';
import type { RoleStep, Wait } from '../../sim/task.js';
import { QP_SLOTS } from '../../transport/protocol.js';
import { FreeList } from '../../sim/free-list.js';

/** Copy `k` records from ring slots `slot..` (wrapping at B, ring starting at slot `ringBase`) to rows `row..` of `out`. */
export function copySlots(ring: Region, ringBase: number, slot: number, B: number, out: Region, row: number, k: number, rec: number): void {
  const first = Math.min(k, B - slot);
  out.u8.set(ring.u8.subarray((ringBase + slot) * rec, (ringBase + slot + first) * rec), row * rec);
  if (k > first) out.u8.set(ring.u8.subarray(ringBase * rec, (ringBase + k - first) * rec), (row + first) * rec);
}

/**
 * Put `k` ring slots starting at `slot` (wrapping) from the staging mirror to the peer's ring, and
 * advance the peer's tail by `k` after the data. Over NVLink the tail is released with the last
 * write (a store after the data, in one transfer). Over RDMA (`qp` given) the writes are work
 * requests on queue pair `qp` and the tail a remote atomic on the same QP, ordered after them; to a
 * peer on another node they go through {@link rdmaWrite} (doorbell, and the atomic's extra round
 * trip). The posting cost is the caller's (`ibMessageUs` per work request on the issuing warp).
 * A chunk that wraps is two writes; sizes-only mode sends the same ones, so its timeline is real mode's.
 */
export function putSlots(
  ctx: RankContext, dst: number, ring: Region | null, ringBase: number, stage: Region | null, stageBase: number,
  slot: number, k: number, B: number, rec: number, tail: Region, tailIndex: number, qp?: number,
): void {
  if (qp !== undefined && overIb(ctx, dst)) {
    const w = RDMA_WRITES.take() ?? new RdmaWrite();
    w.init(ctx, dst, ring, ringBase, stage, stageBase, slot, k, B, rec, tail, tailIndex, qp);
    ctx.spawnDetached(nicName(qp, dst), w);
    return;
  }
  const rdma = qp !== undefined;
  const first = Math.min(k, B - slot);
  const wraps = k > first;
  // Options are read when the transfer is issued, so one set of records serves every call.
  SIGNAL.region = tail;
  SIGNAL.offset = tailIndex * 4;
  SIGNAL.value = k;
  const o1 = rdma ? withQp(qp) : wraps ? NONE : WITH_SIGNAL;
  const o2 = rdma ? withQp(qp) : WITH_SIGNAL;
  if (!ring || !stage) {
    ctx.send(dst, first * rec, o1);
    if (wraps) ctx.send(dst, (k - first) * rec, o2);
  } else {
    ctx.put(ring, (ringBase + slot) * rec, stage, (stageBase + slot) * rec, first * rec, o1);
    if (wraps) ctx.put(ring, ringBase * rec, stage, stageBase * rec, (k - first) * rec, o2);
  }
  if (rdma) ctx.atomicAdd(tail, tailIndex * 4, k, withQp(qp));
}

const SIGNAL: { region: Region; offset: number; value: number } = { region: null as unknown as Region, offset: 0, value: 0 };
const NONE = {};
const WITH_SIGNAL = { signal: SIGNAL };
const QP_OPTS = { qp: 0 };

function withQp(qp: number): { qp: number } {
  QP_OPTS.qp = qp;
  return QP_OPTS;
}

const QP_ACK_OPTS = { qp: 0, ack: false };

function withQpAck(qp: number, ack: boolean): { qp: number; ack: boolean } {
  QP_ACK_OPTS.qp = qp;
  QP_ACK_OPTS.ack = ack;
  return QP_ACK_OPTS;
}

/** Whether rank `dst` is on another node (RDMA crosses the NIC; to its own node DeepEP copies locally). */
function overIb(ctx: RankContext, dst: number): boolean {
  return Math.floor(dst / ctx.gpusPerNode) !== ctx.node;
}

/**
 * The NIC's side of a posted chunk: the writes start a doorbell (`ibDoorbellUs`) after the post;
 * the tail atomic, posted right after them on the same QP, goes out once the writes are
 * acknowledged (an atomic after writes on a multipath fabric costs about one extra round trip,
 * deepep-details.md §5), so it lands one round trip (2 x `ibLatencyUs`) after its data at the
 * earliest. The QP's later writes are not held back by it, nor is it queued behind them.
 */
class RdmaWrite implements RoleStep {
  /** 1: the doorbell has rung (issue the writes); 2: the writes are acknowledged. */
  private pc = 1;
  /** The doorbell: the engine starts the task with this sleep (its first step is at its end). */
  startDelayUs = 0;
  private ctx: RankContext = null as unknown as RankContext;
  private dst = 0;
  private ring: Region | null = null;
  private ringBase = 0;
  private stage: Region | null = null;
  private stageBase = 0;
  private slot = 0;
  private k = 0;
  private B = 0;
  private rec = 0;
  private tail: Region = null as unknown as Region;
  private tailIndex = 0;
  private qp = 0;

  /** A posted chunk (records are reused: one per chunk in flight, not per chunk). */
  init(
    ctx: RankContext, dst: number, ring: Region | null, ringBase: number, stage: Region | null, stageBase: number, slot: number, k: number,
    B: number, rec: number, tail: Region, tailIndex: number, qp: number,
  ): void {
    this.pc = 1;
    this.startDelayUs = ctx.hardware.ibDoorbellUs;
    this.ctx = ctx; this.dst = dst; this.ring = ring; this.ringBase = ringBase; this.stage = stage; this.stageBase = stageBase;
    this.slot = slot; this.k = k; this.B = B; this.rec = rec; this.tail = tail; this.tailIndex = tailIndex; this.qp = qp;
  }

  step(): Wait | null {
    const { ctx, dst, ring, stage, rec, k, qp } = this;
    switch (this.pc++) {
      case 1: {
        const first = Math.min(k, this.B - this.slot);
        const wraps = k > first;
        let last;
        if (!ring || !stage) {
          last = ctx.send(dst, first * rec, withQpAck(qp, !wraps));
          if (wraps) last = ctx.send(dst, (k - first) * rec, withQpAck(qp, true));
        } else {
          last = ctx.put(ring, (this.ringBase + this.slot) * rec, stage, (this.stageBase + this.slot) * rec, first * rec, withQpAck(qp, !wraps));
          if (wraps) last = ctx.put(ring, this.ringBase * rec, stage, this.stageBase * rec, (k - first) * rec, withQpAck(qp, true));
        }
        return ctx.delivered(last);
      }
      case 2:
        ctx.atomicAdd(this.tail, this.tailIndex * 4, k, withQp(fencedAtomicQp(qp)));
        // Done: the engine never steps an ended role again.
        RDMA_WRITES.give(this);
        return null;
      default:
        return null;
    }
  }
}

/**
 * The stream a fenced tail atomic takes. In the NIC it sits right behind its writes in the queue
 * pair's send queue and leaves when they are acknowledged; the simulated streams are FIFO per
 * (destination, QP), so on its own QP it would queue behind every write posted since. It takes the
 * QP half the slots away instead (free up to 16 channels, i.e. 32 SMs; beyond, it may share a
 * stream with another channel's writes). Its order after its own data comes from the acknowledgement.
 */
export function fencedAtomicQp(qp: number): number {
  return (qp + QP_SLOTS / 2) % QP_SLOTS;
}

/**
 * A remote atomic add posted as an RDMA work request on queue pair `qp` (a head returned to a
 * sender): to another node it starts a doorbell (`ibDoorbellUs`) after the post; it covers no data,
 * so it needs no fence. To a rank of this node it is a local atomic. The posting cost is the caller's.
 */
export function rdmaAtomicAdd(ctx: RankContext, dst: Region, offset: number, value: number, qp: number): void {
  if (!overIb(ctx, dst.rank)) {
    ctx.atomicAdd(dst, offset, value, withQp(qp)); // (a reused options record: atomicAdd is not always inlined)
    return;
  }
  const r = RDMA_ADDS.take() ?? new RdmaAdd();
  r.init(ctx, dst, offset, value, qp);
  ctx.spawnDetached(nicName(qp, dst.rank), r);
}

/** The NIC's side of a posted atomic: a doorbell (the engine starts the task with it), then the add. */
class RdmaAdd implements RoleStep {
  startDelayUs = 0;
  private ctx: RankContext = null as unknown as RankContext;
  private dst: Region = null as unknown as Region;
  private offset = 0;
  private value = 0;
  private qp = 0;

  /** A posted add (records are reused, as {@link RdmaWrite}'s). */
  init(ctx: RankContext, dst: Region, offset: number, value: number, qp: number): void {
    this.startDelayUs = ctx.hardware.ibDoorbellUs;
    this.ctx = ctx; this.dst = dst; this.offset = offset; this.value = value; this.qp = qp;
  }

  step(): Wait | null {
    this.ctx.atomicAdd(this.dst, this.offset, this.value, withQp(this.qp));
    RDMA_ADDS.give(this);
    return null;
  }
}

/**
 * Ended NIC roles, for reuse (this thread's; a record is given back by its own last step, after
 * which the engine never steps it again).
 */
const RDMA_WRITES = new FreeList<RdmaWrite>();
const RDMA_ADDS = new FreeList<RdmaAdd>();

/** Names of the NIC's tasks, made once per (queue pair, destination). */
const NIC_NAMES = new Map<number, string>();

function nicName(qp: number, dst: number): string {
  const key = dst * QP_SLOTS + qp;
  let name = NIC_NAMES.get(key);
  if (name === undefined) NIC_NAMES.set(key, (name = `NIC[qp ${qp} -> ${dst}]`));
  return name;
}
