/**
 * A port's max-min water-filling against the textbook walk it replaces: demands ordered by
 * (demand, position), each granted while below the share of what is left, the rest at the share.
 * The port bins equal demands or sorts them natively; the rates and the fair level must be the
 * same floats bit for bit (timelines depend on them), whatever the ties, zeros, unlimited demands
 * and number of distinct values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortStats, type SettleHost } from '../../src/sim/flow-port.js';
import { TransferTable } from '../../src/sim/transfers.js';

/** A host that is never called (the port below never settles). */
const HOST: SettleHost = { now: 0, settleLater: () => {}, timer: () => {} };

/** A port whose only job is to water-fill given demands (streams 0..n-1, active in that order). */
class FillPort extends PortStats {
  protected init(): void {}
  protected advanceBy(): void {}
  settle(): void {}
  /** Streams `keys` (default 0..n-1) active in that order, with `demands`. */
  fill(demands: readonly number[], keys = demands.map((_, i) => i)): { rates: number[]; level: number } {
    while (this.nAct > 0) this.deactivate(this.nAct - 1);
    for (const k of keys) this.activate(this.slot(k));
    const d = this.wants(demands.length);
    demands.forEach((v, i) => (d[i] = v));
    this.waterFill();
    return { rates: demands.map((_, i) => this.rate[this.act[i]!]!), level: this.share };
  }
}

/** The walk over (demand, position) order, step by step. */
function reference(capacity: number, d: readonly number[]): { rates: number[]; level: number } {
  const n = d.length;
  const rates = new Array<number>(n).fill(NaN);
  const min = Math.min(...d);
  if (min >= capacity / n) return { rates: rates.fill(capacity / n), level: capacity / n };
  const order = d.map((_, i) => i).sort((a, b) => (d[a]! < d[b]! ? -1 : d[a]! > d[b]! ? 1 : a - b));
  let rem = capacity;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const share = rem / (n - k);
    if (d[i]! < share && k < n - 1) {
      rates[i] = d[i]!;
      rem -= d[i]!;
      continue;
    }
    for (let m = k; m < n; m++) rates[order[m]!] = Math.min(d[order[m]!]!, share);
    return { rates, level: share };
  }
  throw new Error('unreachable');
}

const CAPACITY = 50_000; // bytes/us (a 50 GB/s NIC)

/** Demands drawn from a few values (ties), any doubles, zeros and unlimited ones. */
const demands = fc.integer({ min: 1, max: 300 }).chain((n) =>
  fc.array(
    fc.oneof(
      fc.constantFrom(0, 125, 390.625, 1e3 / 3, 12_500, CAPACITY, Infinity),
      fc.double({ min: 0, max: 2 * CAPACITY, noNaN: true }),
      fc.integer({ min: 1, max: 40 }).map((k) => CAPACITY / k),
    ),
    { minLength: n, maxLength: n },
  ),
);

describe('water-filling', () => {
  it('grants the small demands and shares the rest, bit for bit as the walk in (demand, position) order', () => {
    fc.assert(
      fc.property(demands, (d) => {
        const port = new FillPort(0, 0, CAPACITY, new TransferTable(8), HOST);
        expect(port.fill(d)).toEqual(reference(CAPACITY, d));
      }),
      { numRuns: 400 },
    );
  });

  it('the same port over a run: streams come and go and demands change between water-fillings', () => {
    const step = fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 61 }).chain((keys) =>
      fc.record({ keys: fc.constant(keys), d: fc.array(fc.constantFrom(0, 125, 250, 390.625, 1e3 / 3, CAPACITY / 7, Infinity), { minLength: keys.length, maxLength: keys.length }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
        const port = new FillPort(0, 0, CAPACITY, new TransferTable(8), HOST);
        for (const { keys, d } of steps) expect(port.fill(d, keys)).toEqual(reference(CAPACITY, d));
      }),
      { numRuns: 200 },
    );
  });

  it('literal cases: one small demand, ties at the share, all unlimited, more distinct demands than bins', () => {
    const fill = (d: number[]) => new FillPort(0, 0, 100, new TransferTable(8), HOST).fill(d);
    expect(fill([10, Infinity, Infinity])).toEqual({ rates: [10, 45, 45], level: 45 });
    expect(fill([50, 50, 10])).toEqual({ rates: [45, 45, 10], level: 45 });
    expect(fill([Infinity, Infinity, Infinity, Infinity])).toEqual({ rates: [25, 25, 25, 25], level: 25 });
    // 40 distinct demands 40..1 on 100: 1 < 100/40 and 2 < 99/39 are granted, 3 is not below 97/38.
    const d = Array.from({ length: 40 }, (_, i) => 40 - i);
    const r = fill(d);
    expect(r.rates.slice(-3)).toEqual([97 / 38, 2, 1]);
    expect(r.rates[0]).toBe(97 / 38);
    expect(r.level).toBe(97 / 38);
  });
});
