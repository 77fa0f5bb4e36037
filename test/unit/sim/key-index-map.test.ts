import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyIndexMap } from '../../../src/sim/key-index-map.js';

describe('KeyIndexMap', () => {
  it('get, has, set (replacing), delete and clear as a Map<number, number> with -1 for absent', () => {
    const m = new KeyIndexMap(8);
    expect(m.get(5)).toBe(-1);
    m.set(5, 7);
    m.set(2 ** 40 + 3, 0);
    m.set(5, 9);
    expect([m.get(5), m.get(2 ** 40 + 3), m.get(2 ** 40 + 4), m.size]).toEqual([9, 0, -1, 2]);
    expect(m.has(2 ** 40 + 3)).toBe(true);
    expect(m.delete(5)).toBe(true);
    expect(m.delete(5)).toBe(false);
    expect([m.get(5), m.size]).toEqual([-1, 1]);
    m.clear();
    expect([m.get(2 ** 40 + 3), m.size]).toEqual([-1, 0]);
  });

  it('agrees with a Map over any sequence of sets, deletes, gets and clears (keys colliding in a small table included)', () => {
    const op = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
      fc.tuple(fc.constant('delete' as const), fc.integer({ min: 0, max: 40 }), fc.constant(0)),
      fc.tuple(fc.constant('clear' as const), fc.constant(0), fc.constant(0)),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.boolean(), (ops, wide) => {
        // Keys as the engine makes them (xid * 4096 + source), past 2^32 with `wide`.
        const key = (k: number) => (wide ? (k * 1_000_003 + 2 ** 33) * 4096 + (k & 4095) : k * 4096 + 7);
        const m = new KeyIndexMap(8);
        const ref = new Map<number, number>();
        for (const [what, k, v] of ops) {
          if (what === 'set') { m.set(key(k), v); ref.set(key(k), v); }
          else if (what === 'delete') expect(m.delete(key(k))).toBe(ref.delete(key(k)));
          else { m.clear(); ref.clear(); }
          expect(m.size).toBe(ref.size);
        }
        for (let k = 0; k <= 40; k++) expect(m.get(key(k))).toBe(ref.get(key(k)) ?? -1);
      }),
      { numRuns: 300 },
    );
  });

  it('a steady churn (a FIFO of live entries) keeps its table: no growth past twice the live entries', () => {
    const m = new KeyIndexMap(8);
    for (let i = 0; i < 100; i++) m.set(i * 4096 + 3, i);
    const cap = m.capacity;
    expect(cap).toBe(256);
    for (let i = 100; i < 100_000; i++) {
      m.set(i * 4096 + 3, i);
      expect(m.delete((i - 100) * 4096 + 3)).toBe(true);
    }
    expect(m.capacity).toBe(cap);
    expect(m.size).toBe(100);
    for (let i = 99_900; i < 100_000; i++) expect(m.get(i * 4096 + 3)).toBe(i);
  });
});
