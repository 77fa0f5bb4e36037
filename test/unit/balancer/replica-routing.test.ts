import { describe, expect, it } from 'vitest';
import {
  expectedGpuLoads,
  imbalance,
  layerLayout,
  layoutFromPhy2log,
  layoutPlacement,
  noRedundancyLayout,
  rebalanceExperts,
  routeToReplicas,
} from '../../../src/balancer/index.js';
import { expectError } from '../routing/expect-error.js';

describe('layouts', () => {
  it('layerLayout drops the -1 padding and keeps replica-rank order', () => {
    const plan = rebalanceExperts([[4, 3, 2, 1]], 6, 1, 1, 2);
    const layout = layerLayout(plan, 0, 2, 1);
    expect(layout.slotsPerGpu).toBe(3);
    expect(layout.log2phy).toEqual([[0, 1], [4, 5], [3], [2]]);
    expectError(() => layerLayout(plan, 1, 2, 1), 'E_ARGUMENT', 'layer 1');
    expectError(() => layerLayout(plan, 0, 4, 1), 'E_EPLB', 'numGpus (4)');
  });

  it('no-redundancy layout leaves trailing slots empty and gives a routing Placement', () => {
    const layout = noRedundancyLayout(5, 4, 2);
    expect(layout.phy2log).toEqual([0, 1, 2, 3, 4, -1, -1, -1]);
    expect(layoutPlacement(layout)).toEqual({ numRanks: 4, gpusPerNode: 2, expertRanks: [[0], [0], [1], [1], [2]] });
    expectError(() => layoutFromPhy2log([0, 0], 2, 1, 1), 'E_EPLB', 'logical expert 1');
    expectError(() => layoutFromPhy2log([0, 7], 2, 1, 1), 'E_ARGUMENT', 'phy2log[1] = 7');
  });

  it('expected loads split each expert over its replicas', () => {
    const layout = layoutFromPhy2log([0, 1, 0, 2], 3, 2, 1);
    expect(expectedGpuLoads(layout, [8, 2, 2])).toEqual([6, 6]);
    expect(imbalance([3, 1])).toBe(1.5);
    expect(imbalance([0, 0])).toBe(0);
  });
});

describe('routeToReplicas', () => {
  const layout = layerLayout(rebalanceExperts([[6, 1, 1, 1]], 8, 1, 1, 4), 0, 4, 1);
  const topk = [[0, 1], [0, 2], [0, 3], [0, 1]];

  it('balanced reaches the optimum where round-robin does not', () => {
    const rr = routeToReplicas(topk, layout, { policy: 'round-robin' });
    const bal = routeToReplicas(topk, layout);
    expect(rr.gpuLoad).toEqual([1, 3, 2, 2]);
    expect(bal.gpuLoad).toEqual([2, 2, 2, 2]);
    expect(bal.maxGpuLoad).toBe(2);
    bal.slots.forEach((row, t) => row.forEach((s, k) => expect(layout.phy2log[s]).toBe(topk[t]![k])));
  });

  it('keeps -1 entries and counts distinct tokens received', () => {
    const r = routeToReplicas([[0, -1], [-1, -1]], layout);
    expect(r.slots[0]![1]).toBe(-1);
    expect(r.slots[1]).toEqual([-1, -1]);
    expect(r.gpuLoad.reduce((a, b) => a + b)).toBe(1);
    const two = routeToReplicas([[0, 3]], layoutFromPhy2log([0, 3, 1, 2], 4, 2, 1));
    expect(two.gpuRecvTokens).toEqual([1, 0]);
    expect(two.gpuLoad).toEqual([2, 0]);
  });

  it('stays on the nodes the token may reach', () => {
    // Expert 0 on both nodes (slots 0 and 3); expert 1 on node 0, expert 2 on node 1.
    const l = layoutFromPhy2log([0, 1, 2, 0], 3, 2, 2);
    // 'primary': token [0, 1] reaches node 0 only, so expert 0 must stay on slot 0.
    const r = routeToReplicas([[0, 1], [0, 1], [0, 1]], l);
    expect(r.slots.map((row) => row[0])).toEqual([0, 0, 0]);
    expect(r.gpuLoad).toEqual([6, 0]);
    // 'any' lets the balancer use the replica on node 1.
    expect(routeToReplicas([[0, 1], [0, 1]], l, { tokenNodes: 'any' }).gpuLoad).toEqual([2, 2]);
    // Explicit node lists from the gate.
    expect(routeToReplicas([[0, 2]], l, { tokenNodes: [[1]] }).slots).toEqual([[3, 2]]);
    expectError(() => routeToReplicas([[1]], l, { tokenNodes: [[1]] }), 'E_ROUTING', 'token 0', 'expert 1');
  });

  it('rejects expert ids out of range and ragged rows', () => {
    expectError(() => routeToReplicas([[4]], layout), 'E_ARGUMENT', 'topkIdx[0][0] = 4');
    expectError(() => routeToReplicas([[0, 1], [2]], layout), 'E_ARGUMENT', 'topkIdx[1]', 'length 1');
    expect(routeToReplicas([], layout).maxGpuLoad).toBe(0);
  });
});
