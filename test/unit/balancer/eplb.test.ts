import { describe, expect, it } from 'vitest';
import { balancedPacking, rebalanceExperts, replicateExperts } from '../../../src/balancer/index.js';
import { expectError } from '../routing/expect-error.js';

// Golden outputs: worked through DeepSeek's eplb.py algorithm (a line-by-line scratch mirror with
// float32 arithmetic and eplb.py's tie rules); the first one is also derived by hand below.
const README_WEIGHT = [
  [90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
  [20, 107, 104, 166, 27, 128, 99, 116, 127, 48, 134, 37],
];

describe('rebalanceExperts golden plans', () => {
  it('global policy, worked by hand', () => {
    // Replicate: slot 4 -> argmax(4,3,2,1) = e0 (now 2 per replica); slot 5 -> argmax(2,3,2,1) = e1.
    // Per-slot loads [2, 1.5, 2, 1, 2, 1.5]; stable descending visit 0,2,4,1,5,3; lightest
    // non-full GPU, lowest index on ties: 0->g0, 2->g1, 4->g0, 1->g1, 5->g1, 3->g0.
    expect(rebalanceExperts([[4, 3, 2, 1]], 6, 1, 1, 2)).toEqual({
      phy2log: [[0, 0, 3, 2, 1, 1]],
      log2phy: [[[0, 1], [4, 5], [3, -1], [2, -1]]],
      logcnt: [[2, 2, 1, 1]],
    });
  });

  it('hierarchical policy on the eplb README input (4 groups, 2 nodes, 8 GPUs)', () => {
    const plan = rebalanceExperts(README_WEIGHT, 16, 4, 2, 8);
    expect(plan.phy2log).toEqual([
      [5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1],
      [7, 11, 6, 9, 10, 8, 10, 8, 1, 0, 2, 4, 3, 5, 3, 5],
    ]);
    expect(plan.logcnt).toEqual([
      [1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1],
      [1, 1, 1, 2, 1, 2, 1, 1, 2, 1, 2, 1],
    ]);
    expect(plan.log2phy[0]).toEqual([[12, -1], [15, 13], [11, -1], [6, -1], [7, 5], [0, 2], [1, -1], [3, -1], [4, -1], [9, -1], [8, 10], [14, -1]]);
    expect(plan.log2phy[1]).toEqual([[9, -1], [8, -1], [10, -1], [12, 14], [11, -1], [13, 15], [2, -1], [0, -1], [5, 7], [3, -1], [4, 6], [1, -1]]);
  });

  it('falls back to the global policy when groups do not split over nodes (3 groups, 2 nodes)', () => {
    const plan = rebalanceExperts(README_WEIGHT, 16, 3, 2, 4);
    expect(plan.phy2log).toEqual([
      [10, 8, 3, 7, 10, 1, 1, 4, 0, 5, 4, 2, 11, 5, 9, 6],
      [7, 10, 8, 4, 1, 10, 5, 9, 2, 3, 8, 0, 6, 3, 5, 11],
    ]);
    expect(plan.log2phy[0]![1]).toEqual([5, 6]);
  });

  it('equal loads: stable order, argmax first index, lowest pack on ties', () => {
    expect(rebalanceExperts([[1, 1, 1, 1, 1, 1, 1, 1]], 12, 4, 2, 4)).toEqual({
      phy2log: [[4, 0, 0, 5, 1, 1, 6, 2, 2, 7, 3, 3]],
      log2phy: [[[1, 2], [4, 5], [7, 8], [10, 11], [0, -1], [3, -1], [6, -1], [9, -1]]],
      logcnt: [[2, 2, 2, 2, 1, 1, 1, 1]],
    });
  });

  it('n == m packs items in index order without sorting', () => {
    expect(rebalanceExperts([[3, 1, 2, 4]], 4, 2, 2, 4).phy2log).toEqual([[0, 1, 2, 3]]);
  });

  it('fractional and all-zero layers', () => {
    const plan = rebalanceExperts([[0.5, 0.25, 0.25, 0.5, 0, 0.75], [0, 0, 0, 0, 0, 0]], 9, 3, 3, 3);
    expect(plan.phy2log).toEqual([
      [0, 1, 0, 2, 3, 3, 5, 5, 4],
      [0, 1, 0, 2, 3, 2, 4, 5, 4],
    ]);
    expect(plan.log2phy[1]).toEqual([[0, 2], [1, -1], [3, 5], [4, -1], [6, 8], [7, -1]]);
  });
});

describe('rebalanceExperts preconditions', () => {
  it('raises E_EPLB for every assertion of eplb.py', () => {
    expectError(() => rebalanceExperts([[1, 2, 3, 4]], 6, 1, 1, 4), 'E_EPLB', 'numReplicas (6)', 'numGpus (4)');
    expectError(() => rebalanceExperts([[1, 2, 3, 4]], 6, 2, 2, 3), 'E_EPLB', 'numGpus (3)', 'numNodes (2)');
    expectError(() => rebalanceExperts([[1, 2, 3, 4, 5, 6]], 8, 4, 2, 4), 'E_EPLB', 'numGroups (4)', '(6)');
    expectError(() => rebalanceExperts([[1, 2, 3, 4]], 2, 1, 1, 2), 'E_EPLB', 'numReplicas (2)', 'at least one slot');
  });

  it('raises E_ARGUMENT / E_NUMERIC for malformed arguments', () => {
    expectError(() => rebalanceExperts([], 4, 1, 1, 1), 'E_ARGUMENT', 'weight');
    expectError(() => rebalanceExperts([[1, 2], [3]], 4, 1, 1, 1), 'E_ARGUMENT', 'weight[1]', 'length 1');
    expectError(() => rebalanceExperts([[1, NaN]], 4, 1, 1, 1), 'E_NUMERIC', 'weight[0][1]', 'NaN');
    expectError(() => rebalanceExperts([[1, -2]], 4, 1, 1, 1), 'E_NUMERIC', 'weight[0][1]', '-2');
    expectError(() => rebalanceExperts([[1, 2]], 4.5, 1, 1, 1), 'E_ARGUMENT', 'numReplicas', '4.5');
    expectError(() => rebalanceExperts([[1, 2]], 4, 0, 1, 1), 'E_ARGUMENT', 'numGroups', '0');
  });
});

describe('building blocks', () => {
  it('balancedPacking mirrors balanced_packing', () => {
    expect(balancedPacking([[4, 3, 2, 1]], 2)).toEqual({ packIndex: [[0, 1, 1, 0]], rankInPack: [[0, 0, 1, 1]] });
    expect(balancedPacking([[1, 1, 1, 1]], 2)).toEqual({ packIndex: [[0, 1, 0, 1]], rankInPack: [[0, 0, 1, 1]] });
    expect(balancedPacking([[1, 5, 3]], 3)).toEqual({ packIndex: [[0, 1, 2]], rankInPack: [[0, 0, 0]] });
    expectError(() => balancedPacking([[1, 2, 3]], 2), 'E_EPLB', 'numPacks (2)', '(3)');
  });

  it('replicateExperts mirrors replicate_experts (argmax takes the first index)', () => {
    expect(replicateExperts([[10, 40, 20]], 5)).toEqual({ phy2log: [[0, 1, 2, 1, 1]], rank: [[0, 0, 0, 1, 2]], logcnt: [[1, 3, 1]] });
    expectError(() => replicateExperts([[1, 2, 3]], 2), 'E_EPLB', 'numPhy (2)');
  });

  it('compares in float32 like weight.float(): loads equal in float32 tie', () => {
    // 16777217 and 16777216 are the same float32, so the stable order keeps index 0 first and
    // 2^24 + 1 rounds back to 2^24 in a pack; float64 would give [[1, 0, 1, 0]].
    expect(balancedPacking([[16777216, 16777217, 1, 1]], 2).packIndex).toEqual([[0, 1, 0, 1]]);
  });
});
