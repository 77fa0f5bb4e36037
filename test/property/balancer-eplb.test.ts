/**
 * Properties of rebalanceExperts. Failures print fast-check's seed and path; pin any counterexample
 * as an example in test/unit/balancer/eplb.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rebalanceExperts } from '../../src/balancer/index.js';
import { eplbInputArbitrary } from '../../src/testing/eplb-arbitraries.js';
import { referenceRebalance } from '../unit/balancer/eplb-reference.js';

const input = eplbInputArbitrary();

describe('rebalanceExperts properties', () => {
  it('equals a literal port of eplb.py, slot for slot', () => {
    fc.assert(
      fc.property(input, (s) => {
        const plan = rebalanceExperts(s.weight, s.numReplicas, s.numGroups, s.numNodes, s.numGpus);
        expect(plan).toEqual(referenceRebalance(s.weight, s.numReplicas, s.numGroups, s.numNodes, s.numGpus));
      }),
      { numRuns: 200 },
    );
  });

  it('gives every expert a replica, sums counts to the slots, fills every GPU, inverts phy2log', () => {
    fc.assert(
      fc.property(input, (s) => {
        const plan = rebalanceExperts(s.weight, s.numReplicas, s.numGroups, s.numNodes, s.numGpus);
        const width = Math.max(...plan.logcnt.flat());
        plan.phy2log.forEach((row, l) => {
          expect(row.length).toBe(s.numReplicas); // numGpus x (numReplicas / numGpus) slots
          const cnt = plan.logcnt[l]!;
          expect(cnt.every((c) => c >= 1)).toBe(true);
          expect(cnt.reduce((a, b) => a + b)).toBe(s.numReplicas);
          row.forEach((e, p) => expect(plan.log2phy[l]![e]!.filter((q) => q === p).length).toBe(1));
          plan.log2phy[l]!.forEach((slots, e) => {
            expect(slots.length).toBe(width);
            slots.forEach((p, r) => expect(p).toBe(r < cnt[e]! ? p : -1));
            slots.slice(0, cnt[e]).forEach((p) => expect(row[p]).toBe(e));
          });
        });
      }),
    );
  });

  it('hierarchical policy: each node holds whole groups, G/N of them, with all their replicas', () => {
    const hier = input.filter((s) => s.numGroups % s.numNodes === 0);
    fc.assert(
      fc.property(hier, (s) => {
        const plan = rebalanceExperts(s.weight, s.numReplicas, s.numGroups, s.numNodes, s.numGpus);
        const groupSize = s.numExperts / s.numGroups;
        const slotsPerNode = s.numReplicas / s.numNodes;
        for (const row of plan.phy2log) {
          const nodeOfGroup = new Map<number, Set<number>>();
          row.forEach((e, p) => {
            const g = Math.floor(e / groupSize);
            nodeOfGroup.set(g, (nodeOfGroup.get(g) ?? new Set()).add(Math.floor(p / slotsPerNode)));
          });
          expect(nodeOfGroup.size).toBe(s.numGroups);
          for (const nodes of nodeOfGroup.values()) expect(nodes.size).toBe(1);
          const perNode = new Array<number>(s.numNodes).fill(0);
          for (const nodes of nodeOfGroup.values()) perNode[[...nodes][0]!]! += 1;
          expect(perNode.every((c) => c === s.numGroups / s.numNodes)).toBe(true);
        }
      }),
    );
  });
});
