/**
 * Flow batches (the news and credits due at an instant) take their columns from a pool by size
 * class and give grown columns back once applied: a steady run of instants, some with many items,
 * makes columns only until it has reached its peak of batches of each size (counted, not timed).
 */
import { describe, expect, it } from 'vitest';
import { BATCH_MIN, BatchColumnPool, FlowBatch } from '../../../src/sim/flow-batch.js';
import { FreeList } from '../../../src/sim/free-list.js';

/** Fill `b` with `n` items (job i, kind i % 3, rate i / 2), as the engine does. */
function fill(b: FlowBatch, n: number): void {
  for (let i = 0; i < n; i++) {
    b.sendKey = i;
    const k = b.addSent(i, i % 3);
    b.rate[k] = i / 2;
    b.key[k] = 1000 + i;
    b.ekey[k] = -1;
    b.order[k] = i;
  }
}

describe('FlowBatch columns', () => {
  it('a batch keeps its items, in order, through its growths', () => {
    const b = new FlowBatch(new BatchColumnPool());
    fill(b, 100);
    expect(b.n).toBe(100);
    expect(b.job.length).toBe(128); // BATCH_MIN (64) -> 128
    expect(Array.from(b.job.subarray(0, 100))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(b.rate[99]).toBe(49.5);
    expect(b.kind[98]).toBe(2);
    expect(b.key[0]).toBe(1000);
    expect(b.ordered).toBe(true);
    b.add(7, 0);
    expect(b.ordered).toBe(false);
    // An instant of up to 64 items (two thirds of them at LL EP32) needs no growth.
    const c = new FlowBatch(new BatchColumnPool());
    fill(c, 64);
    expect(c.job.length).toBe(64);
  });

  it('applied batches give their grown columns back: rounds of the same instants make no more columns', () => {
    const pool = new BatchColumnPool();
    const batches = new FreeList<FlowBatch>();
    const sizes = [3, 100, 9, 40, 1, 17, 300, 2];
    const madeAfter: number[] = [];
    for (let round = 0; round < 6; round++) {
      // The instants of a round wait at once (as news due at different times), then are applied.
      const waiting: FlowBatch[] = [];
      // Each round takes the batches in a different order (as instants end in any order).
      for (let i = 0; i < sizes.length; i++) {
        const b = batches.take() ?? new FlowBatch(pool);
        b.clear();
        fill(b, sizes[(i + round) % sizes.length]!);
        waiting.push(b);
      }
      for (const b of waiting) {
        b.release();
        expect(b.job.length).toBe(BATCH_MIN);
        batches.give(b);
      }
      madeAfter.push(pool.made);
    }
    // Round one makes the columns its large batches grow into; later rounds reuse them. (Batches
    // that kept their grown columns grew again whenever a small one got a large instant.)
    expect(madeAfter[0]).toBeGreaterThan(0);
    expect(madeAfter.slice(1)).toEqual(Array(5).fill(madeAfter[0]));
  });
});
