/**
 * Link-model cost figures shared by `npm run bench -- runtime`: events per transfer on a sizes-only
 * allToAll (every transfer is in the timeline) and the wall time of DeepEP's EP64 benchmark.
 */
import { createCluster, allToAll, H800 } from '../src/index.js';
import { runDeepepBenchmark } from '../src/ep/deepep-benchmark.js';
import { TIMELINE_STRIDE } from '../src/sim/timeline.js';

/** Events per delivered transfer on a sizes-only allToAll of `nodes` x 8 ranks, one worker. */
export async function eventsPerTransfer(nodes = 8): Promise<{ events: number; transfers: number }> {
  const c = await createCluster({ nodes, gpusPerNode: 8, hardware: H800, workers: 1, transport: 'in-process', recordTimeline: true });
  try {
    const r = await allToAll(c, { bytesPerPair: 1 << 16, sizesOnly: true });
    const tl = await c.takeTimeline();
    return { events: r.events, transfers: tl.length / TIMELINE_STRIDE };
  } finally {
    await c.close();
  }
}

/** DeepEP's normal benchmark at EP64, sizes-only, two workers: wall time and events. */
export async function deepepEp64(): Promise<{ wallMs: number; events: number; dispatchUs: number; combineUs: number }> {
  const r = await runDeepepBenchmark({ ranks: 64, workers: 2 });
  return { wallMs: r.wallMs, events: r.events, dispatchUs: r.dispatch.timeUs, combineUs: r.combine.timeUs };
}
