/**
 * Simulated HBM: what DeepEP would allocate for the layer, sized from a dispatch's counts, is exactly
 * what a real-payload run registers on each rank (one function sizes both), the same whether or not
 * the run moves bytes, and what the estimate checks against the profile.
 */
import { describe, expect, it } from 'vitest';
import { createCluster } from '../../../src/cluster/cluster.js';
import { H800 } from '../../../src/hardware/profile.js';
import { createExpertParallel } from '../../../src/ep/expert-parallel.js';
import { deepepTopk } from '../../../src/ep/deepep-inputs.js';
import { estimateDeepepBenchmark } from '../../../src/ep/normal/deepep-benchmark.js';

describe('simulated HBM per rank', () => {
  for (const nodes of [1, 2]) {
    it(`equals the regions a real-payload dispatch + combine registers (${nodes} node${nodes > 1 ? 's' : ''}), and a sizes-only run reports the same`, async () => {
      const R = nodes * 4, T = 24, H = 256, E = 16, K = 4;
      const topkIdx = Array.from({ length: R }, (_, r) => deepepTopk({ numRanks: R, gpusPerNode: 4, tokens: T, experts: E, topk: K }, r, 5));
      const hbm: number[][] = [];
      for (const sizesOnly of [false, true]) {
        const c = await createCluster({ nodes, gpusPerNode: 4, hardware: H800, workers: 1, transport: 'in-process', recordTimeline: false });
        try {
          const ep = await createExpertParallel(c, { numExperts: E, hidden: H, topk: K, dtype: 'bf16', numSms: 4, sizesOnly });
          const x = sizesOnly ? undefined : topkIdx.map(() => new Uint16Array(T * H).fill(0x3f80));
          const d = await ep.dispatch({ topkIdx, ...(x ? { x } : {}) });
          const y = sizesOnly ? undefined : d.handle.numRecv.map((n) => new Float32Array(n * H));
          await ep.combine({ handle: d.handle, ...(y ? { x: y } : {}) });
          const sim = ep.simulatedHbmBytes(d.handle);
          hbm.push(sim);
          for (let r = 0; r < R; r++) {
            if (sizesOnly) expect(c.hbmUsedBytes(r)).toBeLessThan(sim[r]!);
            else expect(c.hbmUsedBytes(r)).toBe(sim[r]);
          }
        } finally {
          await c.close();
        }
      }
      expect(hbm[1]).toEqual(hbm[0]);
    });
  }

  it('the estimate checks the simulated allocation against the profile, payload or not, and counts host memory apart', () => {
    const o = { ranks: 16, tokens: 512 };
    const sizes = estimateDeepepBenchmark(o);
    const real = estimateDeepepBenchmark({ ...o, payload: true });
    expect(sizes.hbmPerRankBytes).toBe(real.hbmPerRankBytes);
    expect(sizes.hbmPerRankBytes).toBeGreaterThan(1e9); // DeepEP's rings at their configured sizes
    expect(sizes.host.registered).toBeLessThan(16 * 1e6); // sizes-only: no payload regions
    expect(real.host.registered).toBeLessThan(16 * real.hbmPerRankBytes); // only the ring slots 512 tokens reach
  });
});
