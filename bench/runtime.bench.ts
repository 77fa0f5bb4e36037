/**
 * Runtime core figures, each against a baseline measured in the same run:
 * - payload bytes/s through allToAll (real data; only the simulated part is timed) vs one thread's
 *   Uint8Array.prototype.set of the same bytes (target >= 0.5);
 * - scheduler events/s per worker (sizes-only allToAll on many ranks) vs a bare typed-array heap
 *   loop (target >= 1/6);
 * - speed-up of 2 workers over 1 on the same run, digests checked identical (target >= 1.6x).
 */
import { createCluster, allToAll, H800 } from '../src/index.js';
import { timelineDigest } from '../src/sim/timeline.js';
import { bareHeapEventsPerSec, nowMs, table } from './util.js';

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

/** The same bytes allToAll moves, copied once by one thread, after warm-up (pages faulted in). */
function memcpyBytesPerSec(totalBytes: number, chunk: number): number {
  const src = new Uint8Array(totalBytes).fill(1);
  const dst = new Uint8Array(new SharedArrayBuffer(totalBytes)).fill(2);
  const once = () => {
    for (let o = 0; o < totalBytes; o += chunk) dst.set(src.subarray(o, Math.min(o + chunk, totalBytes)), o);
  };
  once();
  once();
  const t: number[] = [];
  for (let i = 0; i < 7; i++) {
    const s = nowMs();
    once();
    t.push(nowMs() - s);
  }
  return totalBytes / (median(t) / 1e3);
}

export default async function (): Promise<void> {
  // 1. Payload through allToAll vs memcpy.
  const nodes = 2, gpus = 8, B = 1 << 18; // 16 ranks, 256 KiB per pair: 60 MiB per call
  const n = nodes * gpus;
  const payload = n * (n - 1) * B;
  const c1 = await createCluster({ nodes, gpusPerNode: gpus, hardware: H800, workers: 2, seed: 1, recordTimeline: false });
  const sims: number[] = [];
  let digest = '';
  for (let i = 0; i < 5; i++) {
    const r = await allToAll(c1, { bytesPerPair: B });
    if (i >= 2) sims.push(r.wallMs.simulate); // the first runs page-fault fresh memory
    digest = r.receivedDigest;
  }
  await c1.close();
  const a2aBps = payload / (median(sims) / 1e3);
  const memBps = memcpyBytesPerSec(payload, B);

  // 2 and 3. Events per second per worker, and 2 workers vs 1, on a sizes-only allToAll.
  const big = { nodes: 16, gpusPerNode: 8, bytes: 1 << 14 };
  const eventsRun = async (workers: number) => {
    const c = await createCluster({ nodes: big.nodes, gpusPerNode: big.gpusPerNode, hardware: H800, workers, recordTimeline: true });
    try {
      await allToAll(c, { bytesPerPair: big.bytes, sizesOnly: true }); // warm-up
      await c.takeTimeline();
      const ms: number[] = [];
      let events = 0, tl = '', timeUs = 0;
      for (let i = 0; i < 3; i++) {
        const r = await allToAll(c, { bytesPerPair: big.bytes, sizesOnly: true });
        ms.push(r.wallMs.simulate);
        events = r.events;
        timeUs = r.timeUs;
        tl = timelineDigest(await c.takeTimeline());
      }
      return { ms: median(ms), events, tl, timeUs };
    } finally {
      await c.close();
    }
  };
  const w1 = await eventsRun(1);
  const w2 = await eventsRun(2);
  if (w1.tl !== w2.tl || w1.timeUs !== w2.timeUs) throw new Error(`timeline digests differ between 1 and 2 workers: ${w1.tl} vs ${w2.tl}`);
  const perWorker1 = w1.events / (w1.ms / 1e3);
  const perWorker2 = w2.events / 2 / (w2.ms / 1e3);
  // Long enough (2M events) that the baseline itself is stable run to run.
  const heap = bareHeapEventsPerSec(Math.max(w1.events, 2_000_000));

  table([
    { figure: 'allToAll payload GB/s (16 ranks, 256 KiB/pair, 2 workers)', value: a2aBps / 1e9, baseline: memBps / 1e9, ratio: a2aBps / memBps, target: '>= 0.5' },
    { figure: 'events/s per worker, 1 worker (128 ranks sizes-only a2a)', value: perWorker1, baseline: heap, ratio: perWorker1 / heap, target: '>= 0.167' },
    { figure: 'events/s per worker, 2 workers', value: perWorker2, baseline: heap, ratio: perWorker2 / heap, target: '>= 0.167' },
    { figure: 'speed-up 2 workers vs 1 (same timeline digest)', value: w1.ms / w2.ms, baseline: 1, ratio: w1.ms / w2.ms, target: '>= 1.6' },
  ]);
  console.log(`allToAll digest ${digest.slice(0, 16)}; ${w1.events} events per sizes-only run; simulate ${w1.ms.toFixed(1)} ms (1 worker) vs ${w2.ms.toFixed(1)} ms (2 workers)`);
}
