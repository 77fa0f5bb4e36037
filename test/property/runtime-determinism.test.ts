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
  // The second (empty) round's ranks went busy at their engine's clock, which with 2 workers had
  // run past the operation's start on the first round's last link events: the states' times differed.
  { nodes: 2, gpus: 3, rounds: [[{ src: 4, dst: 0, bytes: 9, atUs: 0 }, { src: 5, dst: 0, bytes: 61255, atUs: 0 }, { src: 3, dst: 1, bytes: 105243, atUs: 0 }, { src: 3, dst: 0, bytes: 231640, atUs: 0 }], []] },
];

describe('runtime properties (in-process, 1/2/4 workers)', () => {
  it('identical timelines over worker counts; causality; no port over its bandwidth; FIFO per pair', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (s) => checkScenario(s, [1, 2, 4], 'in-process')),
      { numRuns: Number(process.env['RUNTIME_PROP_RUNS'] ?? 60), examples: pinned.map((p) => [p]) },
    );
  }, 60_000);
});
