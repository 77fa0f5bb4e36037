/** The transfer table's reserved record: never handed out, always acknowledged, kept by clear(). */
import { describe, expect, it } from 'vitest';
import { TransferTable } from '../../../src/sim/transfers.js';

describe('TransferTable.over', () => {
  it('is never allocated nor counted as live, stays acknowledged through clear() and growth', () => {
    const T = new TransferTable(2);
    const over = T.reserveOver();
    expect(T.reserveOver()).toBe(over);
    expect(T.live).toBe(0);
    const h = T.handle(over);
    const got = new Set<number>();
    for (let k = 0; k < 9; k++) got.add(T.alloc()); // grows past the first capacity
    expect(got.has(over)).toBe(false);
    expect(T.live).toBe(9);
    T.clear();
    expect(T.live).toBe(0);
    for (let k = 0; k < 9; k++) expect(T.alloc()).not.toBe(over);
    expect(T.index(h)).toBe(over);
    expect(T.acked[over]).toBe(1);
    // Released records' handles go stale; the reserved one's does not.
    const x = T.alloc();
    const hx = T.handle(x);
    T.release(x);
    expect(T.index(hx)).toBe(-1);
    expect(T.index(h)).toBe(over);
  });
});
