/**
 * The cluster's hostHeapSampling on real worker threads: each host samples its own thread's heap
 * allocations during a run and reports them in its reply (OpResult.hostHeap, and the EP kernels'
 * timings); nothing is reported with it off.
 */
import { describe, expect, it } from 'vitest';
import { createCluster, createExpertParallel, H800, type ClusterConfig } from '../../src/index.js';
import { deepepTopk } from '../../src/ep/deepep-inputs.js';

async function dispatchCombine(extra: Partial<ClusterConfig>) {
  const R = 8, T = 64, E = 32;
  const c = await createCluster({ nodes: 2, gpusPerNode: 4, hardware: H800, workers: 2, recordTimeline: true, ...extra });
  try {
    const ep = await createExpertParallel(c, { numExperts: E, hidden: 7168, topk: 8, dtype: 'fp8', numSms: 24, sizesOnly: true });
    const topkIdx = Array.from({ length: R }, (_, r) => deepepTopk({ numRanks: R, gpusPerNode: 4, tokens: T, experts: E, topk: 8 }, r, 0));
    const d = await ep.dispatch({ topkIdx });
    const cc = await ep.combine({ handle: d.handle });
    return { d: d.timing, c: cc.timing, threads: c.threadIds };
  } finally {
    await c.close();
  }
}

describe('host heap sampling (worker threads)', () => {
  it('each host reports what its own thread allocated in each run, with named sites; absent when off', async () => {
    const off = await dispatchCombine({});
    expect(off.d.hostHeap).toBeUndefined();
    expect(off.c.hostHeap).toBeUndefined();

    const on = await dispatchCombine({ hostHeapSampling: { intervalBytes: 256, topSites: 8 } });
    expect(on.threads.every((t) => t !== 0)).toBe(true); // real threads, not the calling one
    for (const heap of [on.d.hostHeap, on.c.hostHeap]) {
      expect(heap).toHaveLength(2);
      for (const h of heap!) {
        expect(h.intervalBytes).toBe(256);
        // A run with a timeline allocates on the host (records, packets, tasks): some kB at least.
        expect(h.sampledBytes).toBeGreaterThan(1000);
        expect(h.sites.length).toBeGreaterThan(0);
        expect(h.sites.length).toBeLessThanOrEqual(8);
        // Sites of the project's own modules are named (from src under vitest, dist when built).
        expect(h.sites.some((s) => /\/(src|dist)\/.+\.(ts|js)$/.test(s.url) && s.functionName !== '' && s.line > 0), JSON.stringify(h.sites)).toBe(true);
        const total = h.sites.reduce((a, s) => a + s.selfBytes, 0);
        expect(total).toBeLessThanOrEqual(h.sampledBytes);
      }
    }
  });
});
