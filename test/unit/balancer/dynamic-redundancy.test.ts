import { describe, expect, it } from 'vitest';
import { layerLayout, layoutFromPhy2log, rebalanceExperts, routeDynamic, routeToReplicas, sampleTopk, zipfPopularity } from '../../../src/balancer/index.js';
import { expectError } from '../routing/expect-error.js';

describe('routeDynamic', () => {
  it('activates at most activePerGpu slots per GPU and serves only from active slots', () => {
    const pop = zipfPopularity(1, 16, 1.2, 3);
    const plan = rebalanceExperts([pop[0]!.map((p) => p * 1000)], 32, 1, 1, 4); // 8 hosted per GPU
    const layout = layerLayout(plan, 0, 4, 1);
    const topk = sampleTopk(pop[0]!, 64, 3, 5);
    const r = routeDynamic(topk, layout, { activePerGpu: 5 });
    for (let g = 0; g < 4; g++) expect(r.active.slice(g * 8, g * 8 + 8).filter(Boolean).length).toBeLessThanOrEqual(5);
    r.slots.flat().forEach((s) => expect(r.active[s]).toBe(true));
    expect(r.maxGpuLoad).toBeGreaterThanOrEqual(r.lowerBound);
    expect(r.lowerBound).toBe(routeToReplicas(topk, layout).maxGpuLoad);
  });

  it('reaches the lower bound when the hosted slots fit', () => {
    const layout = layerLayout(rebalanceExperts([[4, 3, 2, 1]], 8, 1, 1, 2), 0, 2, 1);
    const r = routeDynamic([[0, 1], [0, 2], [3, 1]], layout, { activePerGpu: 4 });
    expect(r.maxGpuLoad).toBe(r.lowerBound);
  });

  it('fails with E_EPLB when a GPU must cover more experts than it may activate', () => {
    const layout = layoutFromPhy2log([0, 1, 2, 3], 4, 1, 1);
    expectError(() => routeDynamic([[0, 1], [2, 3]], layout, { activePerGpu: 3 }), 'E_EPLB', 'activePerGpu = 3');
    expectError(() => routeDynamic([[0]], layout, { activePerGpu: 0 }), 'E_ARGUMENT', 'activePerGpu');
  });
});
