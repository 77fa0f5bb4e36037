/**
 * DeepEP's internode kernels on a small EP16 case, pinned to the figures main produced without the
 * task-side changes (events, transfers, kernel times, timeline digest, at a16f781; a7c9af1 had the
 * same digest and times in 82,567 events, before the links' one event per instant): a change of the
 * engine or of a role that is meant to be a pure speed-up must leave every one of them as it is.
 */
import { describe, expect, it } from 'vitest';
import { runDeepepBenchmark } from '../../../src/ep/normal/deepep-benchmark.js';

const DIGEST = '6eff46d01e436ede999a8e3111ec9240512596bf4eb5e9812ecdd4e1607e1fad';

describe('hot path: the same timeline', () => {
  for (const payload of [false, true])
    it(`EP16 x 64 tokens x hidden 512${payload ? ', real payload' : ', sizes-only'}: events, kernel times and digest as before`, async () => {
      const r = await runDeepepBenchmark({ ranks: 16, tokens: 64, hidden: 512, payload, transport: 'in-process' });
      expect(r.events).toBe(61238);
      expect(r.transfers).toBe(13658);
      expect(r.dispatch.timeUs).toBe(12.743148931796718);
      expect(r.combine.timeUs).toBe(14.906533574773242);
      expect(r.timelineDigest).toBe(DIGEST);
    }, 30_000);
});
