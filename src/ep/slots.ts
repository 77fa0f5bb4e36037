/**
 * @module
 * Copies between ring slots and rows of registered regions (real-data mode).
 */
import type { Region } from '../transport/memory.js';

/** Copy `k` records from ring slots `slot..` (wrapping at B, ring starting at slot `ringBase`) to rows `row..` of `out`. */
export function copySlots(ring: Region, ringBase: number, slot: number, B: number, out: Region, row: number, k: number, rec: number): void {
  const first = Math.min(k, B - slot);
  out.u8.set(ring.u8.subarray((ringBase + slot) * rec, (ringBase + slot + first) * rec), row * rec);
  if (k > first) out.u8.set(ring.u8.subarray(ringBase * rec, (ringBase + k - first) * rec), (row + first) * rec);
}
