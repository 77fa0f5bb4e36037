/** The determinism property on real worker threads (few runs: each one starts threads). */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkScenario, scenarioArb } from '../property/runtime-determinism.case.js';

describe('runtime properties (worker threads, 1/2 workers)', () => {
  it('identical timelines over worker counts; causality; bandwidth; FIFO', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, (s) => checkScenario(s, [1, 2], 'worker')), { numRuns: 4 });
  }, 60_000);
});
