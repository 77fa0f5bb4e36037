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

describe('TransferTable growth', () => {
  it('grows its room by 4 when full, each column keeping the records made; ackWaiter holds one entry per record made', () => {
    const T = new TransferTable(2);
    const xs = Array.from({ length: 9 }, () => T.alloc());
    expect(xs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(T.capacity).toBe(32);
    expect(T.ackWaiter.length).toBe(9);
    for (const x of xs) {
      T.bytes[x] = 1000 + x;
      T.src[x] = -x;
      T.op[x] = x;
    }
    const y = Array.from({ length: 24 }, () => T.alloc()).at(-1)!;
    expect(y).toBe(32);
    expect(T.capacity).toBe(128);
    expect(Array.from(T.bytes.subarray(0, 9))).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008]);
    expect(Array.from(T.src.subarray(0, 3))).toEqual([0, -1, -2]);
    expect(T.op[8]).toBe(8);
    expect(T.ackWaiter.length).toBe(33);
    expect(T.ackWaiter.every((w) => w === null)).toBe(true);
  });
});
