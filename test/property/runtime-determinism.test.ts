/**
 * Determinism (identical timeline with 1, 2 and 4 workers), causality, port bandwidth and per-pair
 * FIFO over random small clusters and random traffic, in-process hosts. fc.assert prints the seed
 * and counterexample of any failure; pinned counterexamples are the examples below.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkScenario, scenarioArb, type Scenario } from './runtime-determinism.case.js';

const pinned: Scenario[] = [
  // Zero-byte, self and same-time transfers on one pair; two rounds on one cluster.
  { nodes: 2, gpus: 2, rounds: [[{ src: 0, dst: 0, bytes: 0, atUs: 0 }, { src: 1, dst: 2, bytes: 0 }, { src: 1, dst: 2, bytes: 1000, atUs: 0 }], [{ src: 3, dst: 0, bytes: 5, atUs: 0.1 }]] },
];

describe('runtime properties (in-process, 1/2/4 workers)', () => {
  it('identical timelines over worker counts; causality; no port over its bandwidth; FIFO per pair', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (s) => checkScenario(s, [1, 2, 4], 'in-process')),
      { numRuns: Number(process.env['RUNTIME_PROP_RUNS'] ?? 60), examples: pinned.map((p) => [p]) },
    );
  }, 60_000);
});
