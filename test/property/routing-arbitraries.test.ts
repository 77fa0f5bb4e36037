/** The exported arbitraries produce only valid inputs for the functions they target. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gateFromLogits, validateGateConfig, validatePlacement } from '../../src/index.js';
import { clusterShapeArbitrary, gateConfigArbitrary, gateInputArbitrary, logitsInputArbitrary, placementArbitrary, routingArbitrary } from '../../src/testing/index.js';

describe('expertmesh/testing arbitraries', () => {
  it('gate configs validate and respect their bounds', () => {
    fc.assert(
      fc.property(gateConfigArbitrary({ scoreFunc: 'softmax', maxGroups: 4, maxTopk: 3 }), (c) => {
        expect(validateGateConfig(c)).toBe(c);
        expect(c.scoreFunc).toBe('softmax');
        expect(c.numGroups).toBeLessThanOrEqual(4);
        expect(c.topk).toBeLessThanOrEqual(3);
      }),
      { numRuns: 100 },
    );
  });

  it('cluster shapes, placements and routings are well formed', () => {
    fc.assert(
      fc.property(clusterShapeArbitrary({ maxNodes: 3 }), (s) => s.numRanks === s.numNodes * s.gpusPerNode && s.numNodes <= 3),
      { numRuns: 50 },
    );
    const placed = clusterShapeArbitrary().chain((shape) => placementArbitrary(12, shape, { maxReplicas: 3 }));
    fc.assert(
      fc.property(placed, (p) => {
        expect(validatePlacement(p, 12)).toBe(p);
        for (const r of p.expertRanks) expect(r.length).toBeLessThanOrEqual(3);
      }),
      { numRuns: 50 },
    );
    fc.assert(
      fc.property(routingArbitrary({ maxTopk: 4 }), (r) => {
        expect(r.topkIdx.length).toBe(r.tokens * r.topk);
        expect(r.numExperts % r.shape.numRanks).toBe(0);
        for (let t = 0; t < r.tokens; t++) {
          const row = Array.from(r.topkIdx.subarray(t * r.topk, (t + 1) * r.topk)).filter((e) => e !== -1);
          expect(new Set(row).size).toBe(row.length);
          for (const e of row) expect(e >= 0 && e < r.numExperts).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('gate inputs have consistent shapes and route without error', () => {
    fc.assert(
      fc.property(logitsInputArbitrary({ bias: 'always', maxTokens: 3 }), gateInputArbitrary({ bias: 'never', maxHidden: 2 }), (l, g) => {
        expect(l.bias?.length).toBe(l.config.numExperts);
        expect(l.tokens).toBeLessThanOrEqual(3);
        expect(g.bias).toBeNull();
        expect(g.x.length).toBe(g.tokens * g.hidden);
        expect(g.weight.length).toBe(g.config.numExperts * g.hidden);
        expect(g.hidden).toBeLessThanOrEqual(2);
        gateFromLogits(l.logits, l.bias, l.tokens, l.config);
      }),
      { numRuns: 50 },
    );
  });
});
