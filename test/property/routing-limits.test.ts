/**
 * Node- and device-limited routing on random placements with replicas: every token's experts fit on
 * at most M nodes and D ranks (a set of ranks holding all of them), or the call fails with E_ROUTING.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contiguousPlacement, gateFromLogits, isExpertmeshError, type Placement, type RouteLimit } from '../../src/index.js';
import { clusterShapeArbitrary, gateConfigArbitrary, logitsInputArbitrary, placementArbitrary } from '../../src/testing/index.js';

/** Some set of ranks, on at most maxNodes nodes and at most maxRanks ranks, holds every expert. */
function fits(experts: number[], p: Placement, maxNodes: number, maxRanks: number): boolean {
  const need = experts.map((e) => p.expertRanks[e]!.reduce((m, r) => m | (1 << r), 0));
  for (let set = 0; set < 1 << p.numRanks; set++) {
    let ranks = 0;
    const nodes = new Set<number>();
    for (let r = 0; r < p.numRanks; r++) {
      if ((set >> r) & 1) {
        ranks++;
        nodes.add(Math.floor(r / p.gpusPerNode));
      }
    }
    if (ranks <= maxRanks && nodes.size <= maxNodes && need.every((m) => (m & set) !== 0)) return true;
  }
  return false;
}

const limited = fc
  .record({ shape: clusterShapeArbitrary({ maxNodes: 4, maxGpusPerNode: 2 }), input: logitsInputArbitrary({ maxTokens: 6 }) })
  .chain(({ shape, input }) =>
    fc.record({
      input: fc.constant(input),
      placement: placementArbitrary(input.config.numExperts, shape, { maxReplicas: 2 }),
      maxNodes: fc.option(fc.integer({ min: 1, max: shape.numNodes }), { nil: undefined }),
      maxRanks: fc.option(fc.integer({ min: 1, max: shape.numRanks }), { nil: undefined }),
    }),
  );

describe('routing limits properties', () => {
  it('each token’s experts fit on at most M nodes and D ranks, or E_ROUTING is raised', () => {
    let routed = 0;
    fc.assert(
      fc.property(limited, ({ input: { config: c, tokens, logits, bias }, placement, maxNodes, maxRanks }) => {
        const limit: RouteLimit = { placement, ...(maxNodes === undefined ? {} : { maxNodes }), ...(maxRanks === undefined ? {} : { maxRanks }) };
        let r;
        try {
          r = gateFromLogits(logits, bias, tokens, c, limit);
        } catch (e) {
          expect(isExpertmeshError(e) && e.code).toBe('E_ROUTING');
          return;
        }
        routed++;
        for (let t = 0; t < tokens; t++) {
          const row = Array.from(r.topkIdx.subarray(t * c.topk, (t + 1) * c.topk));
          expect(new Set(row).size).toBe(c.topk);
          expect(fits(row, placement, maxNodes ?? Infinity, maxRanks ?? Infinity)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
    expect(routed).toBeGreaterThan(30); // the property is not vacuous
  });

  it('limits that allow the whole cluster change nothing', () => {
    const input = fc
      .record({ shape: clusterShapeArbitrary(), input: logitsInputArbitrary({ maxTokens: 6 }) })
      .chain(({ shape, input }) => fc.record({ input: fc.constant(input), shape: fc.constant(shape), placement: placementArbitrary(input.config.numExperts, shape) }));
    fc.assert(
      fc.property(input, ({ input: { config: c, tokens, logits, bias }, shape, placement }) => {
        // every expert must be placed somewhere for the whole cluster to hold it: true by construction
        const all = gateFromLogits(logits, bias, tokens, c, { placement, maxNodes: shape.numNodes, maxRanks: shape.numRanks });
        expect(all).toEqual(gateFromLogits(logits, bias, tokens, c));
      }),
      { numRuns: 100 },
    );
  });

  it('with one group per node, a bias and K = 2M, the node limit equals the group limit', () => {
    const input = fc
      .record({ numGroups: fc.integer({ min: 2, max: 8 }), gpusPerNode: fc.integer({ min: 1, max: 2 }), perRank: fc.integer({ min: 1, max: 3 }) })
      .filter(({ gpusPerNode, perRank }) => gpusPerNode * perRank >= 2)
      .chain(({ numGroups, gpusPerNode, perRank }) =>
        fc.integer({ min: 1, max: numGroups }).chain((topkGroups) => {
          const numExperts = numGroups * gpusPerNode * perRank;
          const config = gateConfigArbitrary({ maxGroups: 1 }).map((c) => ({ ...c, numExperts, numGroups, topkGroups, topk: 2 * topkGroups }));
          return fc.record({ input: logitsInputArbitrary({ config, maxTokens: 6, bias: 'always' }), gpusPerNode: fc.constant(gpusPerNode) });
        }),
      );
    fc.assert(
      fc.property(input, ({ input: { config: c, tokens, logits, bias }, gpusPerNode }) => {
        const placement = contiguousPlacement(c.numExperts, c.numGroups * gpusPerNode, gpusPerNode);
        const byNodes = gateFromLogits(logits, bias, tokens, { ...c, numGroups: 1, topkGroups: 1 }, { placement, maxNodes: c.topkGroups });
        expect(byNodes).toEqual(gateFromLogits(logits, bias, tokens, c));
      }),
      { numRuns: 100 },
    );
  });
});
