/**
 * Dispatch layout and bias balancing invariants: layout counts agree with topkIdx (sums, isTokenInRank
 * rows, -1 ignored), and a balancing step never moves a bias by more than gamma.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expertLoad, getDispatchLayout, updateBias } from '../../src/index.js';
import { routingArbitrary } from '../../src/testing/index.js';
import { referenceLayout } from '../unit/routing/reference.js';

describe('dispatch layout properties', () => {
  it('agrees with DeepEP’s definitions and with topkIdx', () => {
    fc.assert(
      fc.property(routingArbitrary(), ({ tokens, topk, numExperts, shape, topkIdx }) => {
        const l = getDispatchLayout(topkIdx, topk, numExperts, shape);
        const R = shape.numRanks;
        const perRank = numExperts / R;
        const ref = referenceLayout(topkIdx, topk, numExperts, R, shape.gpusPerNode);
        expect(Array.from(l.numTokensPerExpert)).toEqual(ref.perExpert);
        expect(Array.from(l.numTokensPerRank)).toEqual(ref.perRank);
        expect(Array.from(l.numTokensPerRdmaRank)).toEqual(ref.perNode);
        expect(Array.from(l.isTokenInRank)).toEqual(ref.inRank);
        // sums: every non -1 entry counted once per expert
        const entries = Array.from(topkIdx).filter((e) => e !== -1).length;
        expect(l.numTokensPerExpert.reduce((a, b) => a + b, 0)).toBe(entries);
        expect(Array.from(l.numTokensPerExpert)).toEqual(Array.from(expertLoad(topkIdx, numExperts)));
        for (let t = 0; t < tokens; t++) {
          const ranks = new Set(Array.from(topkIdx.subarray(t * topk, (t + 1) * topk)).filter((e) => e >= 0).map((e) => Math.floor(e / perRank)));
          for (let r = 0; r < R; r++) expect(l.isTokenInRank[t * R + r]).toBe(ranks.has(r) ? 1 : 0);
        }
        for (let r = 0; r < R; r++) {
          let col = 0;
          for (let t = 0; t < tokens; t++) col += l.isTokenInRank[t * R + r]!;
          expect(l.numTokensPerRank[r]).toBe(col);
        }
        // a node's count lies between its busiest rank and the sum of its ranks
        for (let n = 0; n < shape.numNodes; n++) {
          const mine = Array.from(l.numTokensPerRank.subarray(n * shape.gpusPerNode, (n + 1) * shape.gpusPerNode));
          expect(l.numTokensPerRdmaRank[n]).toBeGreaterThanOrEqual(Math.max(...mine));
          expect(l.numTokensPerRdmaRank[n]).toBeLessThanOrEqual(mine.reduce((a, b) => a + b, 0));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('bias balancing properties', () => {
  const input = fc.integer({ min: 1, max: 32 }).chain((n) =>
    fc.record({
      bias: fc.float64Array({ minLength: n, maxLength: n, min: -10, max: 10, noNaN: true, noDefaultInfinity: true }),
      load: fc.array(fc.nat(1000), { minLength: n, maxLength: n }),
      gamma: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  );

  it('never moves a bias by more than gamma, and moves it towards balance', () => {
    fc.assert(
      fc.property(input, ({ bias, load, gamma }) => {
        const next = updateBias(bias, load, gamma);
        const mean = load.reduce((a, b) => a + b, 0) / load.length;
        next.forEach((b, e) => {
          const step = b - bias[e]!;
          expect(Math.abs(step)).toBeLessThanOrEqual(gamma + 1e-15 * Math.max(1, Math.abs(bias[e]!)) * 8);
          if (load[e]! > mean) expect(step).toBeLessThanOrEqual(0);
          if (load[e]! < mean) expect(step).toBeGreaterThanOrEqual(0);
          if (load[e]! === mean) expect(step).toBe(0);
        });
      }),
      { numRuns: 200 },
    );
  });
});
