import { describe, expect, it } from 'vitest';
import { contiguousPlacement, DEEPSEEK_V3, gateFromLogits, type GateConfig, type Placement } from '../../../src/index.js';
import { expectError } from './expect-error.js';
import { seededValues } from './reference.js';

// 8 experts on 4 ranks (2 per rank) on 2 nodes: node 0 = experts 0-3, node 1 = experts 4-7.
const flat: GateConfig = { scoreFunc: 'sigmoid', numExperts: 8, topk: 2, numGroups: 1, topkGroups: 1, routeScale: 1 };
const placement = contiguousPlacement(8, 4, 2);
// Expert 4 is the single best, but node 0 has the better top-2 sum: 2 sigmoid(1) > sigmoid(3) + sigmoid(-5).
const logits = new Float64Array([1, 1, -5, -5, 3, -5, -5, -5]);
const idx = (limit?: Parameters<typeof gateFromLogits>[4], p = logits, cfg = flat) => Array.from(gateFromLogits(p, null, 1, cfg, limit).topkIdx);

describe('node-limited routing (V3 rule)', () => {
  it('keeps the M nodes with the best sum of their top ceil(K/M) scores', () => {
    expect(idx()).toEqual([4, 0]);
    expect(idx({ placement, maxNodes: 1 })).toEqual([0, 1]);
    expect(idx({ placement, maxNodes: 2 })).toEqual([4, 0]);
  });

  it('sums ceil(K/M) scores: with K=3, M=2 each node contributes its top 2', () => {
    // node 1 top-2 = sigmoid(3)+sigmoid(-5) < node 0 top-2, but M=2 keeps both nodes anyway
    expect(idx({ placement, maxNodes: 2 }, logits, { ...flat, topk: 3 })).toEqual([4, 0, 1]);
  });

  it('counts an expert on every node that holds one of its replicas', () => {
    const replicated: Placement = { ...placement, expertRanks: placement.expertRanks.map((r, e) => (e === 4 ? [2, 0] : r)) };
    expect(idx({ placement: replicated, maxNodes: 1 })).toEqual([4, 0]);
  });

  it('with 8 groups on 8 nodes and a bias, equals DeepSeek-V3’s group limit', () => {
    const tokens = 32;
    const l = seededValues(tokens * 256, 11).map((v) => 4 * v);
    const bias = seededValues(256, 12).map((v) => 0.1 * v);
    const grouped = gateFromLogits(l, bias, tokens, DEEPSEEK_V3);
    const limited = gateFromLogits(l, bias, tokens, { ...DEEPSEEK_V3, numGroups: 1, topkGroups: 1 }, { placement: contiguousPlacement(256, 64, 8), maxNodes: 4 });
    expect(limited).toEqual(grouped);
  });
});

describe('device-limited routing (V2 rule)', () => {
  it('keeps the D ranks with the highest single score', () => {
    expect(idx({ placement, maxRanks: 1 })).toEqual([4, 5]);
    expect(idx({ placement, maxRanks: 2 })).toEqual([4, 0]);
  });

  it('after a node limit, only ranks on kept nodes compete', () => {
    expect(idx({ placement, maxNodes: 1, maxRanks: 1 })).toEqual([0, 1]);
  });

  it('does not keep a rank off the kept nodes through a replica', () => {
    // expert 0 also on rank 2 (node 1). Node 1 wins; rank 0 must not be kept through that replica.
    const p: Placement = { ...placement, expertRanks: placement.expertRanks.map((r, e) => (e === 0 ? [0, 2] : r)) };
    // Node 1 {0,4,5} wins. Rank 0 (node 0) ties rank 2 on expert 0 and, as the lower index, would win
    // the device limit if it could compete, leaving one expert for topk 2.
    const l = new Float64Array([5, -5, -5, -5, 3, 2.5, -5, -5]);
    expect(idx({ placement: p, maxNodes: 1, maxRanks: 1 }, l)).toEqual([0, 4]);
  });
});

describe('limits that cannot be met', () => {
  it('rejects topk larger than the kept nodes or ranks can hold', () => {
    expectError(() => idx({ placement, maxNodes: 1 }, logits, { ...flat, topk: 5 }), 'E_ROUTING', 'topk 5', '4 experts', '1 nodes');
    expectError(() => idx({ placement, maxRanks: 2 }, logits, { ...flat, topk: 5 }), 'E_ROUTING', 'topk 5', '2 ranks');
  });

  it('rejects a token whose kept nodes hold too few experts, naming the token', () => {
    const p: Placement = { numRanks: 2, gpusPerNode: 1, expertRanks: [[0], [0], [0], [1]] };
    const cfg: GateConfig = { ...flat, numExperts: 4 };
    expect(idx({ placement: p, maxNodes: 1 }, new Float64Array([1, 1, 0, -1]), cfg)).toEqual([0, 1]);
    const data = expectError(() => idx({ placement: p, maxNodes: 1 }, new Float64Array([-10, -10, -10, 10]), cfg), 'E_ROUTING', 'token 0', 'only 1 experts');
    expect(data).toMatchObject({ token: 0, found: 1, topk: 2 });
  });

  it('rejects maxNodes / maxRanks outside the cluster', () => {
    expectError(() => idx({ placement, maxNodes: 3 }), 'E_ARGUMENT', 'limit.maxNodes', '3');
    expectError(() => idx({ placement, maxRanks: 0 }), 'E_ARGUMENT', 'limit.maxRanks', '0');
    expectError(() => idx({ placement: contiguousPlacement(16, 4, 2), maxNodes: 1 }), 'E_ARGUMENT', 'placement.expertRanks', '8');
  });
});
