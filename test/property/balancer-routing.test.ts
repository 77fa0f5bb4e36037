/**
 * Properties of replica-aware routing and dynamic redundancy. Failures print fast-check's seed and
 * path; pin any counterexample as an example in test/unit/balancer/.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gpuNode, layerLayout, rebalanceExperts, routeDynamic, routeToReplicas, slotGpu, type ReplicaLayout, type TokenNodes } from '../../src/balancer/index.js';
import { eplbInputArbitrary, topkBatchArbitrary } from '../../src/testing/eplb-arbitraries.js';

interface Case {
  layout: ReplicaLayout;
  topk: number[][];
  tokenNodes: TokenNodes;
}

const caseArb = (maxTokens: number): fc.Arbitrary<Case> =>
  eplbInputArbitrary({ maxLayers: 1 }).chain((s) => {
    const layout = layerLayout(rebalanceExperts(s.weight, s.numReplicas, s.numGroups, s.numNodes, s.numGpus), 0, s.numGpus, s.numNodes);
    return fc.record({
      layout: fc.constant(layout),
      topk: topkBatchArbitrary(s.numExperts, 3, maxTokens),
      tokenNodes: fc.constantFrom<TokenNodes>('primary', 'any'),
    });
  });

const primaryNodes = (c: Case, row: readonly number[]): Set<number> =>
  new Set(row.filter((e) => e >= 0).map((e) => gpuNode(c.layout, slotGpu(c.layout, c.layout.log2phy[e]![0]!))));

describe('routeToReplicas properties', () => {
  it('conserves every pair on a slot of its expert, within the token nodes', () => {
    fc.assert(
      fc.property(caseArb(24), fc.constantFrom('balanced', 'round-robin' as const), (c, policy) => {
        const r = routeToReplicas(c.topk, c.layout, { policy, tokenNodes: c.tokenNodes });
        let pairs = 0;
        c.topk.forEach((row, t) => {
          const allowed = primaryNodes(c, row);
          row.forEach((e, k) => {
            const s = r.slots[t]![k]!;
            if (e < 0) return expect(s).toBe(-1);
            pairs += 1;
            expect(c.layout.phy2log[s]).toBe(e);
            if (c.tokenNodes === 'primary') expect(allowed.has(gpuNode(c.layout, slotGpu(c.layout, s)))).toBe(true);
          });
        });
        expect(r.gpuLoad.reduce((a, b) => a + b, 0)).toBe(pairs);
      }),
    );
  });

  it('balanced is never worse than round-robin', () => {
    fc.assert(
      fc.property(caseArb(24), (c) => {
        const rr = routeToReplicas(c.topk, c.layout, { policy: 'round-robin', tokenNodes: c.tokenNodes });
        const bal = routeToReplicas(c.topk, c.layout, { policy: 'balanced', tokenNodes: c.tokenNodes });
        expect(bal.maxGpuLoad).toBeLessThanOrEqual(rr.maxGpuLoad);
      }),
    );
  });

  it('balanced equals the brute-force optimum on small batches', () => {
    fc.assert(
      fc.property(caseArb(3), (c) => {
        const choices: number[][] = [];
        c.topk.forEach((row) => {
          const allowed = primaryNodes(c, row);
          for (const e of row) {
            if (e < 0) continue;
            const gpus = c.layout.log2phy[e]!.map((s) => slotGpu(c.layout, s));
            choices.push([...new Set(c.tokenNodes === 'any' ? gpus : gpus.filter((g) => allowed.has(gpuNode(c.layout, g))))]);
          }
        });
        let best = Infinity;
        const load = new Array<number>(c.layout.numGpus).fill(0);
        const search = (i: number): void => {
          if (i === choices.length) return void (best = Math.min(best, Math.max(0, ...load)));
          for (const g of choices[i]!) {
            load[g]! += 1;
            search(i + 1);
            load[g]! -= 1;
          }
        };
        search(0);
        expect(routeToReplicas(c.topk, c.layout, { tokenNodes: c.tokenNodes }).maxGpuLoad).toBe(best);
      }),
    );
  });

  it('dynamic redundancy: active slots within the budget, bounded below by the all-active optimum', () => {
    fc.assert(
      fc.property(caseArb(16), (c) => {
        const A = c.layout.slotsPerGpu;
        const r = routeDynamic(c.topk, c.layout, { activePerGpu: A, tokenNodes: c.tokenNodes });
        // With the whole budget the cover never fails and the all-active optimum is reached.
        expect(r.maxGpuLoad).toBe(r.lowerBound);
        r.slots.flat().forEach((s) => s < 0 || expect(r.active[s]).toBe(true));
        for (let g = 0; g < c.layout.numGpus; g++) {
          expect(r.active.slice(g * A, (g + 1) * A).filter(Boolean).length).toBeLessThanOrEqual(A);
        }
        // A tighter budget may make the greedy cover give up (E_EPLB); when it succeeds it is bounded.
        const tight = Math.max(1, A - 1);
        try {
          const d = routeDynamic(c.topk, c.layout, { activePerGpu: tight, tokenNodes: c.tokenNodes });
          expect(d.maxGpuLoad).toBeGreaterThanOrEqual(d.lowerBound);
          for (let g = 0; g < c.layout.numGpus; g++) expect(d.active.slice(g * A, (g + 1) * A).filter(Boolean).length).toBeLessThanOrEqual(tight);
        } catch (e) {
          expect((e as { code?: string }).code).toBe('E_EPLB');
        }
      }),
    );
  });
});
