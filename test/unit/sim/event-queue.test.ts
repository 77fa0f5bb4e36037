import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../../src/sim/event-queue.js';

type Ev = { time: number; rank: number; seq: number; kind: number; arg: number; obj: unknown };
const byKey = (a: Ev, b: Ev) => a.time - b.time || a.rank - b.rank || a.seq - b.seq;

function drain(q: EventQueue): Ev[] {
  const out: Ev[] = [];
  while (q.pop()) out.push({ time: q.popTime, rank: q.popRank, seq: q.popSeq, kind: q.popKind, arg: q.popArg, obj: q.popObj });
  return out;
}

// Few distinct times and ranks, so ties on time and on (time, rank) are common.
const evArb = fc.record({
  time: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 5, noNaN: true })),
  rank: fc.integer({ min: 0, max: 3 }),
  kind: fc.integer({ min: 0, max: 255 }),
  arg: fc.double({ noNaN: true, noDefaultInfinity: true }),
});
// seq is unique per event (an engine never reuses a (rank, seq) pair).
const eventsArb = fc.array(evArb, { maxLength: 300 }).map((es) => es.map((e, i) => ({ ...e, seq: i, obj: { i } })));

describe('EventQueue', () => {
  it('pops in (time, rank, seq) order, carrying every payload, like a sorted reference', () => {
    fc.assert(
      fc.property(eventsArb, fc.integer({ min: 1, max: 8 }), (events, cap) => {
        const q = new EventQueue(cap); // tiny capacity: exercises grow()
        for (const e of events) q.push(e.time, e.rank, e.seq, e.kind, e.arg, e.obj);
        expect(q.size).toBe(events.length);
        expect(drain(q)).toEqual([...events].sort(byKey));
        expect(q.size).toBe(0);
        expect(q.peekTime()).toBe(Infinity);
      }),
      { numRuns: 200 },
    );
  });

  it('interleaved pushes and pops still follow the reference', () => {
    fc.assert(
      fc.property(eventsArb, fc.array(fc.boolean(), { maxLength: 300 }), (events, pops) => {
        const q = new EventQueue(2);
        const ref: Ev[] = [];
        events.forEach((e, i) => {
          q.push(e.time, e.rank, e.seq, e.kind, e.arg, e.obj);
          ref.push(e);
          if (pops[i]) {
            ref.sort(byKey);
            const want = ref.shift()!;
            expect(q.pop()).toBe(true);
            expect([q.popTime, q.popRank, q.popSeq, q.popObj]).toEqual([want.time, want.rank, want.seq, want.obj]);
          }
          expect(q.peekTime()).toBe(ref.length ? Math.min(...ref.map((r) => r.time)) : Infinity);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('ties: same time orders by rank, then seq (pinned example)', () => {
    const q = new EventQueue(1);
    q.push(1, 2, 0, 1, 0, 'c');
    q.push(1, 1, 5, 1, 0, 'b');
    q.push(1, 1, 4, 1, 0, 'a');
    q.push(0.5, 9, 9, 1, 0, 'first');
    expect(drain(q).map((e) => e.obj)).toEqual(['first', 'a', 'b', 'c']);
    expect(q.pop()).toBe(false);
  });

  it('ties on (time, rank, seq) pop in the 4-ary sift order the engine has always produced (pinned)', () => {
    // A port's timer and its settle share a key: their order at one instant is part of every
    // timeline, so a change of heap layout must keep this exact order.
    const q = new EventQueue(2);
    for (let i = 0; i < 12; i++) q.push(1, 4095, 2 ** 31 + 5, 2, i, `e${i}`);
    q.push(0.5, 0, 0, 1, 0, 'x');
    const out: unknown[] = [];
    q.pop();
    out.push(q.popObj);
    for (let i = 12; i < 16; i++) q.push(1, 4095, 2 ** 31 + 5, 2, i, `e${i}`);
    while (q.pop()) out.push(q.popObj);
    expect(out).toEqual(['x', 'e15', 'e0', 'e10', 'e13', 'e12', 'e2', 'e11', 'e9', 'e8', 'e1', 'e6', 'e5', 'e4', 'e3', 'e14', 'e7']);
  });

  it('drops object references it popped (no leaks through the payload array)', () => {
    const q = new EventQueue(4);
    for (let i = 0; i < 4; i++) q.push(i, 0, i, 0, 0, { i });
    drain(q);
    expect((q as unknown as { obj: unknown[] }).obj.every((o) => o === null)).toBe(true);
  });
});
