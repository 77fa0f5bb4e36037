/**
 * Heap bytes allocated by a piece of work on this thread, from V8's GC profiler: the growth of the
 * used heap between garbage collections (before each GC minus after the previous one), plus the
 * growth after the last. Objects that die young count too, which is what "no allocation per event"
 * is about. Array buffers' backing stores (SharedArrayBuffers included) are outside the V8 heap and
 * are not counted.
 */
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { Session } from 'node:inspector/promises';

export interface Allocation {
  /** Heap bytes allocated during the work. */
  bytes: number;
  /** Garbage collections during the work (scavenges and mark-compacts). */
  gcs: number;
  /** Milliseconds the work's GCs took. */
  gcMs: number;
}

export async function heapAllocated(work: () => Promise<unknown> | unknown): Promise<Allocation> {
  const p = new GCProfiler();
  p.start();
  const before = getHeapStatistics().used_heap_size;
  await work();
  const after = getHeapStatistics().used_heap_size;
  const r = p.stop() as { statistics: Array<{ cost: number; beforeGC: { heapStatistics: { usedHeapSize: number } }; afterGC: { heapStatistics: { usedHeapSize: number } } }> };
  let bytes = 0;
  let prev = before;
  let gcMs = 0;
  for (const g of r.statistics) {
    bytes += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - prev);
    prev = g.afterGC.heapStatistics.usedHeapSize;
    gcMs += g.cost / 1e3;
  }
  bytes += Math.max(0, after - prev);
  return { bytes, gcs: r.statistics.length, gcMs };
}

/**
 * Heap bytes allocated by a piece of work on this thread, from V8's sampling heap profiler
 * (`HeapProfiler.startSampling` every `intervalBytes`, objects already collected by either
 * collector included): the sum of the sampled allocations' sizes. Unlike {@link heapAllocated}, it
 * does not depend on when collections happen or on what the background sweeper freed between them,
 * so a difference of two runs is not blurred by a few bytes per event of collector noise; it is an
 * estimate (each allocation is sampled with a probability proportional to its size).
 */
export async function sampledAllocation(work: () => Promise<unknown> | unknown, intervalBytes = 32): Promise<number> {
  const s = new Session();
  s.connect();
  try {
    await s.post('HeapProfiler.enable');
    await s.post('HeapProfiler.startSampling', { samplingInterval: intervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
    await work();
    const { profile } = (await s.post('HeapProfiler.stopSampling')) as { profile: { head: SampledNode } };
    let bytes = 0;
    const stack: SampledNode[] = [profile.head];
    while (stack.length > 0) {
      const n = stack.pop()!;
      bytes += n.selfSize;
      stack.push(...n.children);
    }
    return bytes;
  } finally {
    s.disconnect();
  }
}

interface SampledNode {
  selfSize: number;
  children: SampledNode[];
}
