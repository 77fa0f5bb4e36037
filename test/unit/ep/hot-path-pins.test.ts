/**
 * DeepEP's internode kernels on a small EP16 case, pinned: a change of the engine or of a role that
 * is meant to be a pure speed-up must leave every figure as it is. Figures from the task-side
 * changes' check (a16f781: 61,238 events, digest 6eff46d0..., dispatch 12.743148931796718 us,
 * combine 14.906533574773242 us), moved once by one clock per operation (every operation after the
 * first runs from 0 on its own clock: last-bit changes of the kernel times, 15 events fewer; see
 * docs/runtime.md, "One clock per operation").
 */
import { describe, expect, it } from 'vitest';
import { runDeepepBenchmark } from '../../../src/ep/normal/deepep-benchmark.js';

const DIGEST = '1b96314d7b9234bbe66c3e9d45900960aca051bd6135a3d46d4b27409a9933e9';

describe('hot path: the same timeline', () => {
  for (const payload of [false, true])
    it(`EP16 x 64 tokens x hidden 512${payload ? ', real payload' : ', sizes-only'}: events, kernel times and digest as before`, async () => {
      const r = await runDeepepBenchmark({ ranks: 16, tokens: 64, hidden: 512, payload, transport: 'in-process' });
      expect(r.events).toBe(61223);
      expect(r.transfers).toBe(13658);
      expect(r.dispatch.timeUs).toBe(12.743148931796707);
      expect(r.combine.timeUs).toBe(14.906533574773274);
      expect(r.timelineDigest).toBe(DIGEST);
    }, 30_000);
});
