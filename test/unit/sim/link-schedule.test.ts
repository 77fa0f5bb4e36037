import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DueHeap, InstantTable, type DueItem } from '../../../src/sim/link-schedule.js';

const item = (id: number): DueItem => ({ id, dueAt: Infinity, heapPos: -1 });

function drain(h: DueHeap<DueItem>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  while (h.size > 0) {
    const t = h.minTime();
    const x = h.pop();
    out.push([t, x.id]);
  }
  return out;
}

describe('DueHeap: ports by (due time, port number)', () => {
  it('pops by time, then by number among equal times', () => {
    const h = new DueHeap<DueItem>();
    const xs = [7, 3, 9, 1, 4].map(item);
    h.set(xs[0]!, 5); h.set(xs[1]!, 2); h.set(xs[2]!, 2); h.set(xs[3]!, 5); h.set(xs[4]!, 1);
    expect(drain(h)).toEqual([[1, 4], [2, 3], [2, 9], [5, 1], [5, 7]]);
    expect(h.minTime()).toBe(Infinity);
  });

  it('moves an item earlier and later, and Infinity takes it out', () => {
    const h = new DueHeap<DueItem>();
    const xs = [0, 1, 2, 3, 4, 5].map(item);
    xs.forEach((x, i) => h.set(x, 10 + i));
    h.set(xs[5]!, 1); // earlier
    h.set(xs[0]!, 30); // later
    h.set(xs[2]!, Infinity); // out
    h.set(xs[2]!, Infinity); // out again: nothing
    expect(xs[2]!.heapPos).toBe(-1);
    expect(h.size).toBe(5);
    expect(drain(h)).toEqual([[1, 5], [11, 1], [13, 3], [14, 4], [30, 0]]);
    expect(xs.every((x) => x.heapPos === -1)).toBe(true);
  });

  it('keeps its order over many random updates (against a sort)', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const h = new DueHeap<DueItem>();
    const xs = Array.from({ length: 64 }, (_, i) => item(i));
    for (let step = 0; step < 2000; step++) {
      const x = xs[Math.floor(rnd() * xs.length)]!;
      h.set(x, rnd() < 0.1 ? Infinity : Math.floor(rnd() * 50));
    }
    const want = xs.filter((x) => x.dueAt < Infinity).map((x): [number, number] => [x.dueAt, x.id]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(drain(h)).toEqual(want);
  });
});

describe('InstantTable: link work by instant', () => {
  it('finds what was added and keeps it through growth and deletions, as a Map keyed by time would', () => {
    // Times from a few microseconds' grid (many collide in the table's low bits) and arbitrary floats.
    const time = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 40 }).map((k) => k * 0.25) },
      { weight: 1, arbitrary: fc.double({ min: 0, max: 1e4, noNaN: true }) },
    );
    const op = fc.tuple(fc.constantFrom('queue', 'news', 'clear'), time);
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const tab = new InstantTable<string>();
        const ref = new Map<number, { queued: boolean; news: string | null }>();
        for (const [what, t] of ops) {
          if (what === 'clear') {
            const i = tab.find(t);
            expect(i >= 0).toBe(ref.has(t));
            if (i >= 0) {
              tab.queued[i] = 0;
              tab.news[i] = null;
              tab.drop(i);
              ref.delete(t);
            }
          } else {
            const i = tab.add(t);
            const r = ref.get(t) ?? { queued: false, news: null };
            if (what === 'queue') { tab.queued[i] = 1; r.queued = true; } else { tab.news[i] = `n${t}`; r.news = `n${t}`; }
            ref.set(t, r);
          }
          expect(tab.size).toBe(ref.size);
          for (const [k, r] of ref) {
            const i = tab.find(k);
            expect(i).toBeGreaterThanOrEqual(0);
            expect([tab.queued[i] === 1, tab.news[i]]).toEqual([r.queued, r.news]);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps an instant while anything is left in it; -0 is the instant 0', () => {
    const tab = new InstantTable<string>();
    const i = tab.add(-0);
    tab.queued[i] = 1;
    tab.credits[i] = 'c';
    expect(tab.find(0)).toBe(i);
    tab.queued[i] = 0;
    tab.drop(i); // credits still due: stays
    expect(tab.find(0)).toBe(i);
    tab.credits[i] = null;
    tab.drop(i);
    expect(tab.find(0)).toBe(-1);
    expect(tab.size).toBe(0);
  });
});
