import { describe, expect, it } from 'vitest';
import { SlotHeap } from '../../../src/sim/slot-heap.js';

/** A heap of slots 0..5 at the given times. */
function heapOf(times: number[]): SlotHeap {
  const h = new SlotHeap();
  h.grow(times.length);
  times.forEach((t, s) => {
    h.t = t;
    h.place(s);
  });
  return h;
}

function found(h: SlotHeap, t: number, before: boolean): number[] {
  h.t = t;
  const m = h.collect(before);
  return Array.from(h.found.subarray(0, m)).sort((a, b) => a - b);
}

describe('SlotHeap.collect', () => {
  it('finds the slots due at or before a time, or strictly before it', () => {
    const h = heapOf([3, 1, 2, 2, 5, 2]);
    expect(found(h, 2, false)).toEqual([1, 2, 3, 5]);
    expect(found(h, 2, true)).toEqual([1]);
    expect(found(h, 1, true)).toEqual([]);
    expect(found(h, 0.5, false)).toEqual([]);
    expect(found(h, 5, true)).toEqual([0, 1, 2, 3, 5]);
    expect(found(h, 5, false)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('compares -0 and 0 as equal (a level of 0 against a line at 0)', () => {
    const h = heapOf([-0, 1]);
    expect(found(h, 0, true)).toEqual([]);
    expect(found(h, 0, false)).toEqual([0]);
  });
});
