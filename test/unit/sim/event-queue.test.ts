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

  it('pops in order through pushes before, between and after what it holds (literal)', () => {
    const q = new EventQueue(2); // tiny capacity: grow() on the way
    const push = (time: number, rank: number, seq: number, name: string) => q.push(time, rank, seq, 0, 0, name);
    const pop = () => (q.pop() ? q.popObj : 'empty');
    push(5, 0, 0, 'a');
    push(3, 1, 0, 'b'); // before a
    expect([q.size, q.peekTime(), q.peekKey()]).toEqual([2, 3, 2 ** 32]);
    expect(pop()).toBe('b');
    push(1, 2, 0, 'c'); // before the only event
    push(5, 0, 1, 'd'); // after every event, at the same time as a
    // Seven more at one time, each before the last.
    for (let r = 6; r >= 0; r--) push(2, r, 0, `e${r}`);
    expect(q.size).toBe(10);
    push(9, 0, 2, 'f'); // after every event
    push(2, 7, 0, 'g'); // at the seven's time, after them
    push(0.5, 3, 1, 'h'); // before everything
    expect([q.size, q.peekTime(), q.peekKey()]).toEqual([13, 0.5, 3 * 2 ** 32 + 1]);
    const out: unknown[] = [];
    for (let i = 0; i < 14; i++) out.push(pop());
    expect(out).toEqual(['h', 'c', 'e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'g', 'a', 'd', 'f', 'empty']);
    expect([q.size, q.peekTime()]).toEqual([0, Infinity]);
  });

  it('pushes at and between the times of held events after a pop (literal)', () => {
    const q = new EventQueue(4);
    const push = (time: number, rank: number, seq: number, name: string) => q.push(time, rank, seq, 0, 0, name);
    for (let i = 0; i < 10; i++) push(10 - i, 0, i, `t${10 - i}`); // each before the last
    expect(q.pop() && q.popObj).toBe('t1');
    push(1.5, 1, 0, 'x'); // before everything held
    push(9.5, 1, 1, 'y'); // between t9 and t10
    push(8, 0, 99, 'z'); // at t8's time, after its key
    const out: unknown[] = [];
    while (q.pop()) out.push(q.popObj);
    expect(out).toEqual(['x', 't2', 't3', 't4', 't5', 't6', 't7', 't8', 'z', 't9', 'y', 't10']);
  });

  it('drops object references it popped (no leaks through the payload array)', () => {
    const q = new EventQueue(4);
    for (let i = 0; i < 4; i++) q.push(i, 0, i, 0, 0, { i });
    drain(q);
    expect((q as unknown as { obj: unknown[] }).obj.every((o) => o === null)).toBe(true);
  });
});
