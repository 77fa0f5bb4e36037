/**
 * @module
 * Ring slots: putting a chunk into a peer's ring (wrapping, tail released with the data) and
 * copying slots out to rows of registered regions (real-data mode).
 */
import type { RankContext } from '../sim/rank-context.js';
import type { Region } from '../transport/memory.js';

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
 * requests on queue pair `qp` and the tail is a remote atomic on the same QP, ordered after them.
 * A chunk that wraps is two writes; sizes-only mode sends the same ones, so its timeline is real mode's.
 */
export function putSlots(
  ctx: RankContext, dst: number, ring: Region | null, ringBase: number, stage: Region | null, stageBase: number,
  slot: number, k: number, B: number, rec: number, tail: Region, tailIndex: number, qp?: number,
): void {
  const rdma = qp !== undefined;
  const signal = rdma ? undefined : { region: tail, offset: tailIndex * 4, value: k };
  const first = Math.min(k, B - slot);
  const wraps = k > first;
  const o1 = { ...(wraps || !signal ? {} : { signal }), ...(rdma ? { qp } : {}) };
  const o2 = { ...(signal ? { signal } : {}), ...(rdma ? { qp } : {}) };
  if (!ring || !stage) {
    ctx.send(dst, first * rec, o1);
    if (wraps) ctx.send(dst, (k - first) * rec, o2);
  } else {
    ctx.put(ring, (ringBase + slot) * rec, stage, (stageBase + slot) * rec, first * rec, o1);
    if (wraps) ctx.put(ring, ringBase * rec, stage, stageBase * rec, (k - first) * rec, o2);
  }
  if (rdma) ctx.atomicAdd(tail, tailIndex * 4, k, { qp });
}
