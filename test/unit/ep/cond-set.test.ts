import { describe, expect, it } from 'vitest';
import { CondSet } from '../../../src/ep/normal/cond-set.js';
import type { CounterCondition } from '../../../src/sim/task.js';
import type { Region } from '../../../src/transport/memory.js';
import { CMP_GE } from '../../../src/transport/protocol.js';

// Regions are only compared by identity here.
const r1 = { id: 1 } as unknown as Region;
const r2 = { id: 2 } as unknown as Region;

function condsOf(s: CondSet): CounterCondition[] {
  const w = s.wait as { conds: readonly CounterCondition[]; count: number };
  return w.conds.slice(0, w.count);
}

describe('CondSet', () => {
  it('keeps the conditions in the order they were added, keyed by small integers', () => {
    const s = new CondSet();
    s.add(5, r1, 10, 3);
    s.add(0, r2, 4, 7);
    s.add(17, r1, 2, 1);
    expect(s.size).toBe(3);
    expect(condsOf(s).map((c) => [c.region, c.index, c.cmp, c.value])).toEqual([
      [r1, 10, CMP_GE, 3],
      [r2, 4, CMP_GE, 7],
      [r1, 2, CMP_GE, 1],
    ]);
  });

  it("reuses a key's record while its counter is the same, and makes a new one when it moves", () => {
    const s = new CondSet();
    s.add(3, r1, 10, 3);
    const first = condsOf(s)[0];
    s.clear();
    expect(s.size).toBe(0);
    s.add(3, r1, 10, 9);
    expect(condsOf(s)[0]).toBe(first);
    expect(first!.value).toBe(9);
    s.clear();
    s.add(3, r2, 10, 4);
    const moved = condsOf(s)[0]!;
    expect(moved).not.toBe(first);
    expect([moved.region, moved.index, moved.value]).toEqual([r2, 10, 4]);
    // A key never used before (past the others) reads as empty, not as a neighbour's record.
    s.add(9, r2, 10, 4);
    expect(condsOf(s)[1]).not.toBe(moved);
  });

  it('refuses a key that is not a small non-negative integer', () => {
    const s = new CondSet();
    expect(() => s.add(-1, r1, 0, 1)).toThrow(/condition key -1/);
    expect(() => s.add(1.5, r1, 0, 1)).toThrow(/condition key 1.5/);
    expect(() => s.add(70000, r1, 0, 1)).toThrow(/condition key 70000/);
  });
});
