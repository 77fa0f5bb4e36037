/**
 * Runtime core figures, each against a baseline measured in the same run:
 * - payload bytes/s through allToAll (real data; only the simulated part is timed) vs one thread's
 *   Uint8Array.prototype.set of the same bytes (target >= 0.5);
 * - scheduler events/s per worker (sizes-only allToAll on many ranks) vs a bare typed-array heap
 *   loop (target >= 1/6);
 * - speed-up of 2 workers over 1 on the same run, digests checked identical (target >= 1.6x);
 * - worker threads that pay for themselves (paired A/B: 1 and 2 workers alternate in the same run,
 *   `BENCH_REPS` repetitions, medians of the per-pair ratios): the EP64 DeepEP benchmark
 *   (sizes-only) and a runTraffic replay of the 16,256-flow EP128 set of the SimGrid peer data
 *   (target >= 1.5x each, identical timeline digests); main-thread messages per window (target 0).
 * - the link model's cost: events per transfer (sizes-only allToAll, 64 ranks) and the wall time of
 *   DeepEP's EP64 benchmark, next to the figures of the model before credits (processor-sharing
 *   ports, measured on main at 66a4261 on this 2-core machine; that model is not kept, so they are
 *   not re-measured here). `RUNTIME_BENCH_EP64=0` skips the EP64 run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createCluster, allToAll, H800, runDeepepBenchmark, runTraffic } from '../src/index.js';
import { A2A_SIGNAL } from '../src/ep/all-to-all-op.js';
import { timelineDigest } from '../src/sim/timeline.js';
import { bareHeapEventsPerSec, nowMs, table } from './util.js';
import { deepepEp64, eventsPerTransfer } from './link-figures.js';

/** Before the credit model (main at 66a4261): events per transfer (deterministic) and EP64 wall time. */
const BEFORE = { eventsPerTransfer: 6912 / 4032, ep64WallS: 245.2, ep64Events: 23_589_374 };

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
  await workersPayOff();
  await linkModelCost();
}

/** The peer flow sets (SimGrid): the copy in test/fixtures, unless EXPERTMESH_PEERS names another folder. */
function peerFlows(): { name: string; nodes: number; gpusPerNode: number; flows: [number, number, number][] }[] | null {
  const candidates = [process.env['EXPERTMESH_PEERS'], 'test/fixtures'];
  for (const c of candidates) {
    if (!c) continue;
    const f = new URL(`${c.replace(/\/$/, '')}/simgrid-flows.json`, `file://${process.cwd()}/`);
    if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { cases: never[] }).cases;
  }
  return null;
}

/** 1 vs 2 workers, alternating in this run; medians of per-pair ratios. */
async function workersPayOff(): Promise<void> {
  const reps = Number(process.env['BENCH_REPS'] ?? 3);
  const load = loadavg()[0]!.toFixed(1);
  const rows: Array<Record<string, string | number>> = [];
  const say = (r: Record<string, string | number>) => {
    rows.push(r);
    console.log(`${r['figure']}: ${r['value']} (ratio ${Number(r['ratio']).toFixed(3)}, target ${r['target']})`);
  };

  // runTraffic replay of the EP128 DeepEP-like flow set (16 nodes x 8, 16,256 flows).
  const set = peerFlows()?.find((c) => c.flows.length === 16_256);
  if (set) {
    const flows = set.flows.map(([src, dst, bytes]) => ({ src, dst, bytes }));
    const open = (workers: number) => createCluster({ nodes: set.nodes, gpusPerNode: set.gpusPerNode, hardware: H800, workers });
    const c1 = await open(1), c2 = await open(2);
    try {
      await runTraffic(c1, flows);
      await runTraffic(c2, flows); // warm-up (JIT, pages)
      const t1: number[] = [], t2: number[] = [], ratio: number[] = [], cpuRatio: number[] = [];
      let d1 = '', d2 = '', windows = 0;
      for (let i = 0; i < reps; i++) {
        let s = nowMs();
        const a = await runTraffic(c1, flows);
        t1.push(nowMs() - s);
        s = nowMs();
        const b = await runTraffic(c2, flows);
        t2.push(nowMs() - s);
        ratio.push(t1[i]! / t2[i]!);
        // Independent of how loaded the machine is: the one worker's CPU time over the busier
        // worker's (what 2 workers would gain with a core each and free barriers).
        cpuRatio.push(a.hostCpuMs[0]! / Math.max(...b.hostCpuMs));
        d1 = a.timelineDigest;
        d2 = b.timelineDigest;
        windows = b.windows;
        console.log(`  rep ${i}: ${t1[i]!.toFixed(0)} ms vs ${t2[i]!.toFixed(0)} ms wall; thread CPU ${a.hostCpuMs.join('/')} ms vs ${b.hostCpuMs.join('/')} ms; ${b.windows} windows`);
      }
      if (d1 !== d2) throw new Error(`runTraffic EP128: timeline digests differ between 1 and 2 workers: ${d1} vs ${d2}`);
      say({ figure: `runTraffic EP128 ${set.flows.length} flows: ms 1 worker / 2 workers`, value: `${median(t1).toFixed(0)} / ${median(t2).toFixed(0)}`, baseline: 1, ratio: median(ratio), target: '>= 1.5' });
      say({ figure: `runTraffic EP128: CPU of 1 worker / busier of 2 (${windows} windows)`, value: median(cpuRatio), baseline: 1, ratio: median(cpuRatio), target: '>= 1.5' });
      console.log(`runTraffic EP128 digest ${d1.slice(0, 16)} (1 and 2 workers)`);
    } finally {
      await c1.close();
      await c2.close();
    }
  } else console.log('runTraffic EP128: peer flow set not found (set EXPERTMESH_PEERS); skipped');

  // Main-thread messages per window: a small and a large run take the same number of messages.
  const c = await createCluster({ nodes: 16, gpusPerNode: 8, hardware: H800, workers: 2, recordTimeline: false });
  try {
    const per: string[] = [];
    let perWindow = 0;
    for (const bytes of [1 << 10, 1 << 16]) {
      await allToAll(c, { bytesPerPair: bytes, sizesOnly: true });
      for (let r = 0; r < c.numRanks; r++) Atomics.store(c.region(r, A2A_SIGNAL).i32, 0, 0);
      const r = await c.run('a2a', { bytesPerPair: bytes, seed: 0, sizesOnly: true });
      // Per run: 'op' and 'run' to each host and their replies; anything beyond is per window.
      perWindow = Math.max(perWindow, (r.mainThreadMessages - 4 * c.config.workers) / r.windows);
      per.push(`${r.mainThreadMessages} messages / ${r.windows} windows`);
    }
    say({ figure: `main-thread messages per window (${per.join(', ')})`, value: perWindow, baseline: 0, ratio: perWindow, target: '0' });
  } finally {
    await c.close();
  }

  // The EP64 DeepEP benchmark (sizes-only), as `bench deepep --ranks 64` runs it.
  if (process.env['BENCH_EP64'] !== '0') {
    const t1: number[] = [], t2: number[] = [], ratio: number[] = [];
    let g1 = '', g2 = '';
    const epReps = Number(process.env['BENCH_EP64_REPS'] ?? 2);
    for (let i = 0; i < epReps; i++) {
      const a = await runDeepepBenchmark({ mode: 'normal', ranks: 64, workers: 1 });
      const b = await runDeepepBenchmark({ mode: 'normal', ranks: 64, workers: 2 });
      t1.push(a.wallMs);
      t2.push(b.wallMs);
      ratio.push(a.wallMs / b.wallMs);
      g1 = a.timelineDigest!;
      g2 = b.timelineDigest!;
      console.log(`EP64 rep ${i}: ${(a.wallMs / 1e3).toFixed(1)} s (1 worker, ${a.windows} windows) vs ${(b.wallMs / 1e3).toFixed(1)} s (2 workers, ${b.windows} windows); peak RSS ${(b.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
    }
    if (g1 !== g2) throw new Error(`EP64: timeline digests differ between 1 and 2 workers: ${g1} vs ${g2}`);
    say({ figure: 'DeepEP EP64 benchmark: s 1 worker / 2 workers', value: `${(median(t1) / 1e3).toFixed(1)} / ${(median(t2) / 1e3).toFixed(1)}`, baseline: 1, ratio: median(ratio), target: '>= 1.5' });
    console.log(`EP64 timeline digest ${g1.slice(0, 16)} (1 and 2 workers)`);
  }
  table(rows);
  console.log(`paired A/B over ${reps} repetitions (EP64: ${process.env['BENCH_EP64_REPS'] ?? 2}); 1-minute load average at start ${load} on ${(await import('node:os')).availableParallelism()} cores`);
}

/** The link model's cost against the figures before credits. */
async function linkModelCost(): Promise<void> {
  const e = await eventsPerTransfer();
  const rows: Array<Record<string, string | number>> = [
    { figure: 'events per transfer (64-rank sizes-only allToAll)', before: BEFORE.eventsPerTransfer, after: e.events / e.transfers, ratio: e.events / e.transfers / BEFORE.eventsPerTransfer, target: '<= 1.5' },
  ];
  if (process.env['RUNTIME_BENCH_EP64'] !== '0') {
    const d = await deepepEp64();
    rows.push({ figure: 'EP64 DeepEP benchmark wall s (2 workers)', before: BEFORE.ep64WallS, after: d.wallMs / 1e3, ratio: d.wallMs / 1e3 / BEFORE.ep64WallS, target: 'report' });
    rows.push({ figure: 'EP64 DeepEP benchmark events', before: BEFORE.ep64Events, after: d.events, ratio: d.events / BEFORE.ep64Events, target: 'report' });
  }
  table(rows);
}
