/**
 * DeepEP's internode kernels on a small EP16 case, pinned: a change of the engine or of a role that
 * is meant to be a pure speed-up must leave every figure as it is. Figures from the task-side
 * changes' check (a16f781: 61,238 events, digest 6eff46d0..., dispatch 12.743148931796718 us,
 * combine 14.906533574773242 us), moved once by one clock per operation (every operation after the
 * first runs from 0 on its own clock: last-bit changes of the kernel times, 15 events fewer; see
 * docs/runtime.md, "One clock per operation"), and once by the lazy receiver port (float evaluation
 * order only: 61,223 to 61,224 events, digest 1b96314d... to a44ebc1c..., kernel times unchanged; see
 * docs/runtime.md, "Receiver ports that work per change"), and once by the sender port that works
 * per change (float evaluation order only: digest a44ebc1c... to 5c06197b..., events, transfers and
 * kernel times unchanged; see docs/runtime.md, "Sender ports that work per change"), and once by
 * control messages that take no share of the ports (a model change: 61,224 to 56,923 events, digest
 * 5c06197b... to 81886472..., dispatch 12.743148931796707 to 12.741679544041606 us (-0.012%),
 * combine 14.906533574773274 to 14.906521497613642 us; transfers unchanged; see docs/runtime.md,
 * "Control messages outside the ports' fair sharing"), and once by the NIC's work requests starting
 * with their doorbell at their first event's place, off the event queue (704 task events fewer,
 * 56,923 to 56,219; digest, transfers and kernel times unchanged; see docs/runtime.md, "Task
 * resumes").
 */
import { describe, expect, it } from 'vitest';
import { runDeepepBenchmark } from '../../../src/ep/normal/deepep-benchmark.js';

const DIGEST = '8188647260907595edc0eb65011411f45b59cb449e7e7bc59dc5122a7a9e3c08';

describe('hot path: the same timeline', () => {
  for (const payload of [false, true])
    it(`EP16 x 64 tokens x hidden 512${payload ? ', real payload' : ', sizes-only'}: events, kernel times and digest as before`, async () => {
      const r = await runDeepepBenchmark({ ranks: 16, tokens: 64, hidden: 512, payload, transport: 'in-process' });
      expect(r.events).toBe(56219);
      expect(r.transfers).toBe(13658);
      expect(r.dispatch.timeUs).toBe(12.741679544041606);
      expect(r.combine.timeUs).toBe(14.906521497613642);
      expect(r.timelineDigest).toBe(DIGEST);
    }, 30_000);
});
