/** The determinism property on real worker threads, 1, 2 and 4 of them (few runs: each one starts threads). */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkScenario, scenarioArb } from '../property/runtime-determinism.case.js';

describe('runtime properties (worker threads, 1/2/4 workers)', () => {
  it('identical timelines over worker counts; causality; bandwidth; FIFO', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, (s) => checkScenario(s, [1, 2, 4], 'worker')), {
      numRuns: 4,
      // At least one cluster big enough for 4 workers (placement splits nodes there).
      examples: [[{ nodes: 2, gpus: 3, rounds: [[{ src: 0, dst: 5, bytes: 300_000, atUs: 0 }, { src: 4, dst: 1, bytes: 7, atUs: 3 }, { src: 2, dst: 3, bytes: 99_999 }]] }]],
    });
  }, 120_000);
});
