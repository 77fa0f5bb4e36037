/**
 * Expert-parallel dispatch and combine on real worker threads: one internode case on 2 threads gives
 * the in-process result (rows, combined output) and the same timings and canonical timeline.
 */
import { describe, expect, it } from 'vitest';
import { timelineDigest } from '../../src/sim/timeline.js';
import { makeInputs, makeLayer, runChecked, smallConfig, timingKey, type EpCase } from '../unit/ep/ep-case.js';

const k: EpCase = {
  nodes: 2, gpus: 4, numExperts: 32, hidden: 256, topk: 6, dtype: 'fp8', ...smallConfig(2, 4, 3, 4, 2), expertAlignment: 4,
  tokens: [24, 0, 17, 30, 9, 24, 12, 21], routing: 'random', minusOne: 0.1, seed: 42,
};

async function run(workers: number, transport: 'worker' | 'in-process') {
  const { cluster, ep } = await makeLayer(k, workers, transport);
  try {
    const r = await runChecked(k, ep, makeInputs(k));
    return { ...r, digest: timelineDigest(await cluster.takeTimeline()), threads: cluster.threadIds.length };
  } finally {
    await cluster.close();
  }
}

describe('expert-parallel on worker threads', () => {
  it('internode 2x4 on 2 worker threads equals the in-process run: rows, combined output, timings, timeline', async () => {
    const inProc = await run(1, 'in-process');
    const threads = await run(2, 'worker');
    expect(threads.d.recv).toEqual(inProc.d.recv);
    expect(threads.d.numRecvTokensPerExpert).toEqual(inProc.d.numRecvTokensPerExpert);
    expect(threads.c.x).toEqual(inProc.c.x);
    expect(timingKey(threads.d, threads.c)).toBe(timingKey(inProc.d, inProc.c));
    expect(threads.digest).toBe(inProc.digest);
    expect(threads.threads).toBe(2);
    // Two workers synchronise in windows; one in-process host runs to the end in one.
    expect(threads.d.timing.windows).toBeGreaterThan(1);
  });
});
