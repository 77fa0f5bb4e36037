/**
 * Dispatch and combine over random cluster shapes (1-4 nodes x 1-8 GPUs), top-k up to 8, random
 * tokens per rank with empty ranks, every token on one expert, -1 entries, FP8 and BF16 payloads and
 * small random valid configs (2-6 SMs, rings of a few tokens): dispatch is exact, combine is correct,
 * timings and the canonical timeline are the same with 1 and 2 in-process workers, and sizes-only
 * mode has real data's timings and timeline. fc.assert prints the seed and counterexample of any
 * failure; pinned counterexamples go in `pinned`.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { timelineDigest } from '../../src/sim/timeline.js';
import { makeInputs, makeLayer, runChecked, smallConfig, timingKey, type EpCase } from '../unit/ep/ep-case.js';

const caseArb: fc.Arbitrary<EpCase> = fc
  .record({ nodes: fc.integer({ min: 1, max: 4 }), gpus: fc.integer({ min: 1, max: 8 }), topk: fc.integer({ min: 1, max: 8 }) })
  .chain(({ nodes, gpus, topk }) => {
    const R = nodes * gpus;
    const minPerRank = Math.ceil(topk / R);
    return fc.record({
      nodes: fc.constant(nodes),
      gpus: fc.constant(gpus),
      topk: fc.constant(topk),
      expertsPerRank: fc.integer({ min: minPerRank, max: minPerRank + 2 }),
      dtype: fc.constantFrom('bf16' as const, 'fp8' as const),
      numSms: fc.constantFrom(2, 4, 6),
      dispatch: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 })),
      combine: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 })),
      expertAlignment: fc.integer({ min: 1, max: 4 }),
      tokens: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 })), { minLength: R, maxLength: R }),
      routing: fc.constantFrom('random' as const, 'random' as const, 'one' as const),
      minusOne: fc.constantFrom(0, 0.3),
      seed: fc.integer({ min: 0, max: 1 << 30 }),
    });
  })
  .map((p) => {
    const d = smallConfig(p.nodes, p.numSms, ...p.dispatch);
    const c = smallConfig(p.nodes, p.numSms, ...p.combine);
    return {
      nodes: p.nodes, gpus: p.gpus, numExperts: p.expertsPerRank * p.nodes * p.gpus, hidden: 128, topk: p.topk, dtype: p.dtype,
      numSms: p.numSms, dispatchConfig: d.dispatchConfig, combineConfig: c.combineConfig, expertAlignment: p.expertAlignment,
      tokens: p.tokens, routing: p.routing, minusOne: p.minusOne, seed: p.seed,
    };
  });

async function checkCase(k: EpCase): Promise<void> {
  const inp = makeInputs(k);
  const runs: Array<{ key: string; digest: string }> = [];
  for (const [workers, sizesOnly] of [[1, false], [2, false], [1, true]] as const) {
    const { cluster, ep } = await makeLayer(k, Math.min(workers, k.nodes * k.gpus), 'in-process', sizesOnly);
    try {
      if (sizesOnly) {
        const d = await ep.dispatch({ topkIdx: inp.topkIdx });
        const c = await ep.combine({ handle: d.handle });
        runs.push({ key: timingKey(d, c), digest: timelineDigest(await cluster.takeTimeline()) });
      } else {
        const { d, c } = await runChecked(k, ep, inp);
        runs.push({ key: timingKey(d, c), digest: timelineDigest(await cluster.takeTimeline()) });
      }
    } finally {
      await cluster.close();
    }
  }
  const names = ['1 worker', '2 workers', 'sizes-only'];
  for (let i = 1; i < runs.length; i++) {
    if (runs[i]!.key !== runs[0]!.key) throw new Error(`timings differ, ${names[i]} vs 1 worker:\n${runs[i]!.key}\n${runs[0]!.key}`);
    if (runs[i]!.digest !== runs[0]!.digest) throw new Error(`canonical timelines differ, ${names[i]} vs 1 worker`);
  }
}

/** Runs per test run; raise it (EP_PROP_RUNS=500) for a longer search. */
const RUNS = Number(process.env['EP_PROP_RUNS'] ?? 20);

const base = (nodes: number, gpus: number, o: Partial<EpCase>): EpCase => ({
  nodes, gpus, numExperts: nodes * gpus * 2, hidden: 128, topk: 2, dtype: 'bf16', ...smallConfig(nodes, 2, 1, 1), expertAlignment: 1,
  tokens: new Array(nodes * gpus).fill(8), routing: 'random', minusOne: 0, seed: 1, ...o,
});

const pinned: EpCase[] = [
  // Every rank empty; one rank on one GPU.
  base(3, 2, { tokens: [0, 0, 0, 0, 0, 0] }),
  base(1, 1, { tokens: [20], topk: 1, numExperts: 1, dtype: 'fp8' }),
  // 4 x 8 with every token on expert 0, the smallest rings (incast on one receiver).
  base(4, 8, { tokens: Array.from({ length: 32 }, (_, r) => (r % 3 === 0 ? 0 : 12)), routing: 'one', topk: 8, numExperts: 32 }),
  // Top-8 with -1 entries over 4 x 2, FP8, 6 SMs.
  base(4, 2, { topk: 8, numExperts: 16, minusOne: 0.3, dtype: 'fp8', ...smallConfig(4, 6, 5, 4, 3), tokens: [20, 0, 13, 1, 20, 7, 0, 19] }),
];

describe('dispatch/combine properties (in-process, random shapes and configs)', () => {
  it('exact dispatch, correct combine; same timings and timeline with 1 or 2 workers and in sizes-only mode', async () => {
    await fc.assert(fc.asyncProperty(caseArb, checkCase), { numRuns: RUNS, examples: pinned.map((p) => [p]) });
  }, 60_000 + RUNS * 1000);
});
