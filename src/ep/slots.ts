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
 * advance the peer's tail by `k` with the last write (the tail is released after the data). A chunk
 * that wraps is two transfers; sizes-only mode sends the same two, so its timeline is real mode's.
 */
export function putSlots(
  ctx: RankContext, dst: number, ring: Region | null, ringBase: number, stage: Region | null, stageBase: number,
  slot: number, k: number, B: number, rec: number, tail: Region, tailIndex: number,
): void {
  const signal = { region: tail, offset: tailIndex * 4, value: k };
  const first = Math.min(k, B - slot);
  const wraps = k > first;
  if (!ring || !stage) {
    ctx.send(dst, first * rec, wraps ? undefined : { signal });
    if (wraps) ctx.send(dst, (k - first) * rec, { signal });
    return;
  }
  ctx.put(ring, (ringBase + slot) * rec, stage, (stageBase + slot) * rec, first * rec, wraps ? undefined : { signal });
  if (wraps) ctx.put(ring, ringBase * rec, stage, stageBase * rec, (k - first) * rec, { signal });
}
