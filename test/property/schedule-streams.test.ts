/**
 * Random schedules (1-3 streams on an SM partition, up to 14 kernels, random per-rank durations,
 * each kernel waiting on a random set of earlier ones) run by every rank's stream machine: a step is
 * never shorter than its busiest stream nor longer than all its kernels in series, every kernel
 * starts after its waits and its stream predecessor, and streams never run two kernels at once.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../../src/cluster/cluster.js';
import { H800 } from '../../src/hardware/profile.js';
import type { StreamsRunArgs, StreamsRunResult } from '../../src/actors/stream-runner.js';
import '../../src/ops.js';

const RANKS = 2;
const scheduleArb = fc
  .record({ streams: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 14 }) })
  .chain(({ streams, n }) =>
    fc.record({
      streams: fc.constant(streams),
      kernels: fc.array(
        fc.record({
          stream: fc.integer({ min: 0, max: streams - 1 }),
          us: fc.array(fc.integer({ min: 0, max: 50 }), { minLength: RANKS, maxLength: RANKS }),
          waits: fc.array(fc.nat(), { maxLength: 3 }),
        }),
        { minLength: n, maxLength: n },
      ),
    }),
  )
  .map(({ streams, kernels }) => {
    // Waits point to earlier kernels only, and queues follow the same order: never a deadlock.
    const ks = kernels.map((k, i) => ({ ...k, id: `k${i}`, waits: i === 0 ? [] : [...new Set(k.waits.map((w) => `k${w % i}`))] }));
    const args: StreamsRunArgs = {
      smCount: 132,
      streams: Array.from({ length: streams }, (_, s) => ({
        name: `s${s}`, sms: Math.floor(132 / streams), launches: ks.filter((k) => k.stream === s).map((k) => ({ id: k.id, waits: k.waits })),
      })),
      work: Object.fromEntries(ks.map((k) => [k.id, { kind: 'compute' as const, us: k.us }])),
    };
    return { ks, args };
  });

describe('property: random schedules on the stream machines', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await createCluster({ nodes: 1, gpusPerNode: RANKS, hardware: H800, workers: 1, transport: 'in-process' });
  });
  afterAll(async () => c?.close());

  it('longest stream <= step <= all kernels in series; waits and stream order hold', async () => {
    await fc.assert(
      fc.asyncProperty(scheduleArb, async ({ ks, args }) => {
        const res = await c.run<StreamsRunResult>('streams.run', args);
        for (let r = 0; r < RANKS; r++) {
          const spans = new Map(res.results[r]!.spans.map((s) => [s.id, s]));
          expect(spans.size).toBe(ks.length);
          const step = res.rankEndUs[r]! - res.startUs;
          const total = ks.reduce((a, k) => a + k.us[r]!, 0);
          const longest = Math.max(...args.streams.map((_, s) => ks.filter((k) => k.stream === s).reduce((a, k) => a + k.us[r]!, 0)));
          expect(step).toBeGreaterThanOrEqual(longest - 1e-9);
          expect(step).toBeLessThanOrEqual(total + 1e-9);
          const prev = new Map<number, number>();
          for (const k of ks) {
            const sp = spans.get(k.id)!;
            expect(sp.endUs - sp.startUs).toBeCloseTo(k.us[r]!, 9);
            for (const w of k.waits) expect(sp.startUs).toBeGreaterThanOrEqual(spans.get(w)!.endUs);
            expect(sp.startUs).toBeGreaterThanOrEqual(prev.get(k.stream) ?? res.startUs);
            prev.set(k.stream, sp.endUs);
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
