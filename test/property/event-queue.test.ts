import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/sim/event-queue.js';

/**
 * The event queue against a sorted reference, for runs shaped like the engine's: most pushes at or
 * just after the time last popped (often before everything queued: a sift to the root), some far
 * later; every (rank, seq) used once, as in the engine (no two events share a (time, key)).
 */
type Op = { pop: true } | { pop: false; dt: number; rank: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ pop: true as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      pop: fc.constant(false as const),
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 }), fc.double({ min: 0, max: 50, noNaN: true })),
      rank: fc.integer({ min: 0, max: 4095 }),
    }),
  },
);

describe('EventQueue (property)', () => {
  it('pops, peeks and sizes as a sorted list of (time, rank, seq) does', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), fc.integer({ min: 1, max: 16 }), (ops, cap) => {
        const q = new EventQueue(cap);
        const ref: { time: number; key: number; obj: number }[] = [];
        const seqs = new Map<number, number>();
        let now = 0;
        let id = 0;
        for (const op of ops) {
          if (op.pop) {
            ref.sort((a, b) => a.time - b.time || a.key - b.key);
            const want = ref.shift();
            expect(q.pop()).toBe(want !== undefined);
            if (want === undefined) continue;
            expect([q.popTime, q.popKey, q.popObj, q.popKind, q.popArg]).toEqual([want.time, want.key, want.obj, want.obj & 255, -want.obj]);
            now = want.time;
          } else {
            const seq = seqs.get(op.rank) ?? 0;
            seqs.set(op.rank, seq + 1);
            const obj = id++;
            q.push(now + op.dt, op.rank, seq, obj & 255, -obj, obj);
            ref.push({ time: now + op.dt, key: op.rank * 2 ** 32 + seq, obj });
          }
          expect(q.size).toBe(ref.length);
          const least = ref.reduce<(typeof ref)[number] | null>((m, e) => (m === null || e.time < m.time || (e.time === m.time && e.key < m.key) ? e : m), null);
          expect(q.peekTime()).toBe(least === null ? Infinity : least.time);
          if (least !== null) expect(q.peekKey()).toBe(least.key);
        }
      }),
      { numRuns: 300 },
    );
  });
});
