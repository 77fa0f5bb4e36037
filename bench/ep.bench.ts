/**
 * Dispatch/combine simulation speed (issue: per-chunk work off xstate and off the heap): DeepEP's
 * normal benchmark, sizes-only, at EP64 and EP256 — events per second per worker against the bare
 * heap loop measured in the same run (target >= 1/6), wall time (guides: EP64 < 10 s, EP256 < 60 s)
 * and peak resident memory. `EP_BENCH_RANKS=64,256` picks the sizes.
 */
import { availableParallelism } from 'node:os';
import { runDeepepBenchmark } from '../src/ep/normal/deepep-benchmark.js';
import { bareHeapEventsPerSec, table } from './util.js';

export default async function (): Promise<void> {
  const sizes = (process.env['EP_BENCH_RANKS'] ?? '64,256').split(',').map(Number);
  const workers = Math.min(2, availableParallelism());
  const rows: Array<Record<string, string | number>> = [];
  for (const ranks of sizes) {
    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
    const r = await runDeepepBenchmark({ ranks, workers });
    clearInterval(timer);
    const perWorker = r.events / workers / (r.wallMs / 1e3);
    const heap = bareHeapEventsPerSec(2_000_000);
    rows.push({
      ranks, events: r.events, 'wall s': r.wallMs / 1e3, 'events/s/worker': perWorker, 'bare heap/s': heap,
      ratio: perWorker / heap, 'peak RSS MB': peak / 2 ** 20,
      'dispatch RDMA GB/s': r.dispatch.rdmaGBps ?? 0, 'combine RDMA GB/s': r.combine.rdmaGBps ?? 0,
    });
  }
  table(rows);
  console.log('targets: events/s/worker >= 1/6 of the bare heap; EP64 under 10 s, EP256 under 60 s (guide figures)');
}
