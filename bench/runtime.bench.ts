/**
 * Runtime core figures (issue 14: a lean hot path), each against a baseline measured in the same run;
 * nothing here asserts on wall-clock time (tests do not either): the targets are printed beside the
 * ratios.
 *
 * 1. `allToAll` payload bytes/s (real data, 16 ranks, only the simulated part timed) vs one thread's
 *    `Uint8Array.prototype.set` of the same bytes (target >= 0.5). `BENCH_ONLY=a2a` runs only these.
 * 2. Engine events/s per worker (sizes-only allToAll, 128 ranks, 1 and 2 workers) vs a bare
 *    typed-array heap loop (target >= 1/4), by wall time and by the host threads' own CPU time (the
 *    second does not move with the machine's load); 2 workers vs 1 on the same timeline digest.
 * 3. Events per transfer: sizes-only allToAll (64 ranks), `runTraffic` replays of the DeepEP-like
 *    SimGrid flow sets (8 to 64 ranks, SimGrid's link parameters, with the completion against
 *    SimGrid's and the ratio to the counts before credits), DeepEP's EP64 benchmark.
 * 4. Heap bytes allocated per event on the steady path (a second, warmed-up run on the in-process
 *    transport, where the engine runs on this thread and V8's GC profiler sees it): a sizes-only
 *    allToAll and a DeepEP-like dispatch + combine (16 ranks, two nodes); and in the host worker
 *    threads of a 2-worker DeepEP-like run with a timeline (EP32, `BENCH_ALLOC_RANKS`), by V8's
 *    sampling heap profiler in each host (the cluster's `hostHeapSampling`), with the sites that
 *    allocate per event. `BENCH_ONLY=alloc` runs only these; `BENCH_ONLY=alloc-hosts` the last alone.
 * 5. DeepEP's benchmark in a child process each (so `peakRssBytes` is its own): EP64 with and
 *    without the timeline digest, wall and CPU time, peak RSS, simulated HBM per rank; EP128 with
 *    `BENCH_EP128=1` (target: under 4 GB peak RSS). `BENCH_EP64=0` skips the EP runs;
 *    `BENCH_EP_RANKS=16` runs a smaller one instead of EP64. `BENCH_BEFORE=<dir>` (a checkout of an
 *    earlier commit, built: `<dir>/dist`) also runs that build's benchmark in the same run, before
 *    this one's, for a before/after of wall time, CPU, events and kernel times. `BENCH_ONLY=ep` runs
 *    only these.
 * 6. Main-thread messages per window (target 0); with `BENCH_AB=1`, worker threads that pay for
 *    themselves (paired A/B, `BENCH_REPS` repetitions): the EP128 flow set's `runTraffic` replay and
 *    the EP64 benchmark, 1 vs 2 workers (minutes each).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg, availableParallelism } from 'node:os';
import { createCluster, allToAll, H800, runDeepepBenchmark, runTraffic, createExpertParallel, type HostRunStats } from '../src/index.js';
import { A2A_SIGNAL } from '../src/ep/all-to-all-op.js';
import { deepepTopk } from '../src/ep/deepep-inputs.js';
import type { DeepepBenchResult } from '../src/ep/normal/deepep-benchmark.js';
import { bareHeapEventsPerSec, nowMs, table } from './util.js';
import { heapAllocated, sampledAllocation } from './alloc.js';

/** Two runs' {@link HostRunStats} of one host, added. */
function sumStats(a: HostRunStats, b: HostRunStats): HostRunStats {
  return {
    busyMs: a.busyMs + b.busyMs, waitMs: a.waitMs + b.waitMs, sleeps: a.sleeps + b.sleeps, emptyWindows: a.emptyWindows + b.emptyWindows,
    onCpuMs: a.onCpuMs + b.onCpuMs, runQueueMs: a.runQueueMs + b.runQueueMs,
  };
}

/** Before the credit model (main at 66a4261): events per transfer (deterministic) and EP64 wall time. */
const BEFORE: { eventsPerTransfer: number; ep64WallS: number; ep64Events: number; trafficEventsPerTransfer: Record<number, number> } = {
  eventsPerTransfer: 6912 / 4032, ep64WallS: 245.2, ep64Events: 23_589_374,
  // runTraffic on the DeepEP-like flow sets, SimGrid's link parameters (issue 11).
  trafficEventsPerTransfer: { 16: 3.8, 32: 3.6 },
};

/** allToAll calls before the timed ones (2 until the compiler's warm-up was seen in the timed part). */
const A2A_WARMUP_CALLS = 24;

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const MiB = 2 ** 20;

/**
 * One thread's copy of the bytes allToAll moves, in chunks of `chunk` bytes, with
 * `Uint8Array.prototype.set` from a plain buffer into a shared one (as the first version of this
 * bench) or between two shared ones (as the engine copies between registered regions).
 */
function memcpy(totalBytes: number, chunk: number, sharedSource: boolean): () => number {
  const src = new Uint8Array(sharedSource ? new SharedArrayBuffer(totalBytes) : new ArrayBuffer(totalBytes)).fill(1);
  const dst = new Uint8Array(new SharedArrayBuffer(totalBytes)).fill(2);
  const once = () => {
    const s = nowMs();
    for (let o = 0; o < totalBytes; o += chunk) dst.set(src.subarray(o, Math.min(o + chunk, totalBytes)), o);
    return nowMs() - s;
  };
  once();
  once();
  return once;
}

/**
 * allToAll's simulated part against the memcpy of its bytes, in alternating pairs (both see the same
 * machine load): medians of the times and of the per-pair ratios.
 */
async function a2aVsMemcpy(transport: 'worker' | 'in-process', sharedSource: boolean): Promise<{ a2aMs: number; memMs: number; ratio: number; bestRatio: number; bytes: number; digest: string }> {
  const nodes = 2, gpus = 8, B = 1 << 18; // 16 ranks, 256 KiB per pair: 60 MiB per call
  const n = nodes * gpus;
  const bytes = n * (n - 1) * B;
  const c = await createCluster({ nodes, gpusPerNode: gpus, hardware: H800, workers: transport === 'worker' ? 2 : 1, transport, seed: 1, recordTimeline: false });
  try {
    // Warm-up: the first calls page-fault fresh memory, and the next ones are still compiling the
    // runtime's code (each call runs little of it, so the engine, host and actor functions reach
    // the optimising compiler only over some 20 calls; its background threads then take the 2
    // cores from the copies). A builtin memcpy has neither cost: the figure is steady throughput.
    for (let i = 0; i < A2A_WARMUP_CALLS; i++) await allToAll(c, { bytesPerPair: B });
    const copy = memcpy(bytes, B, sharedSource);
    const a: number[] = [], m: number[] = [], ratio: number[] = [];
    let digest = '';
    for (let i = 0; i < 9; i++) {
      const r = await allToAll(c, { bytesPerPair: B });
      const mm = copy();
      a.push(r.wallMs.simulate);
      m.push(mm);
      ratio.push(mm / r.wallMs.simulate);
      digest = r.receivedDigest;
    }
    // Best of each too: on a machine shared with other work the copies alone vary several-fold
    // run to run, and the fastest runs are the ones least disturbed.
    return { a2aMs: median(a), memMs: median(m), ratio: median(ratio), bestRatio: Math.min(...m) / Math.min(...a), bytes, digest };
  } finally {
    await c.close();
  }
}

/** CPU time of the bare heap loop on this thread: events per CPU-second (the load-independent baseline). */
function bareHeapEventsPerCpuSec(events: number): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const wall = bareHeapEventsPerSec(events);
  const c = process.cpuUsage(c0);
  // bareHeapEventsPerSec runs the loop twice (warm-up, then timed): half the CPU is the timed run.
  return { wall, cpu: events / ((c.user + c.system) / 2 / 1e6) };
}

/**
 * `runTraffic` on the DeepEP-like SimGrid flow sets with SimGrid's link parameters (as
 * test/unit/sim/simgrid-flows.test.ts): events per transfer against the counts before the credit
 * model (issue 11: at most 1.5x of them), and the completion against SimGrid's.
 * `BENCH_ONLY=traffic` runs these rows alone.
 */
async function trafficEventsPerTransfer(say: (r: Record<string, string | number>) => void): Promise<void> {
  const sg = { ...H800, name: 'simgrid', nvlinkGBps: 160, nvlinkLatencyUs: 2, ibGBps: 50, ibLatencyUs: 4 };
  for (const set of (peerFlows() ?? []).filter((c) => c.name.startsWith('deepep_dispatch') && c.nodes <= 8)) {
    const c = await createCluster({ nodes: set.nodes, gpusPerNode: set.gpusPerNode, hardware: sg, workers: 1, transport: 'in-process' });
    try {
      const r = await runTraffic(c, set.flows.map(([src, dst, bytes]) => ({ src, dst, bytes })));
      const ranks = set.nodes * set.gpusPerNode;
      const before = BEFORE.trafficEventsPerTransfer[ranks];
      const perTransfer = r.events / r.transfers;
      const err = set.simgridUs ? ` (completion ${(100 * (r.timeUs / set.simgridUs - 1)).toFixed(2)}% vs SimGrid)` : '';
      say({ figure: `events per transfer: runTraffic ${set.name} (${ranks} ranks, ${set.flows.length} flows)${err}`, value: perTransfer, baseline: before ?? '-', ratio: before ? perTransfer / before : '-', target: before ? '<= 1.5' : 'report' });
    } finally {
      await c.close();
    }
  }

}

export default async function (): Promise<void> {
  console.log(`1-minute load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`);
  const rows: Array<Record<string, string | number>> = [];
  const say = (r: Record<string, string | number>) => {
    rows.push(r);
    const v = typeof r['value'] === 'number' ? Number(r['value']).toPrecision(4) : r['value'];
    console.log(`${r['figure']}: ${v} (ratio ${typeof r['ratio'] === 'number' ? Number(r['ratio']).toFixed(3) : r['ratio']}, target ${r['target']})`);
  };
  if (process.env['BENCH_ONLY'] === 'traffic') {
    await trafficEventsPerTransfer(say);
    table(rows);
    return;
  }
  if (process.env['BENCH_ONLY'] === 'ep') {
    deepepRuns(say);
    table(rows);
    return;
  }
  if (process.env['BENCH_ONLY'] === 'alloc-hosts') {
    await hostWorkerAllocation(say);
    table(rows);
    return;
  }
  if (process.env['BENCH_ONLY'] === 'alloc') {
    await steadyAllocation(say);
    table(rows);
    return;
  }

  // 1. Payload through allToAll vs memcpy (2 workers; and in-process, one thread: the engine's own
  // overhead over the copies it makes).
  for (const [transport, shared] of [['worker', false], ['worker', true], ['in-process', true]] as const) {
    const x = await a2aVsMemcpy(transport, shared);
    say({
      figure: `allToAll payload GB/s (16 ranks, 256 KiB/pair, ${transport === 'worker' ? '2 workers' : 'in-process'}) vs memcpy ${shared ? 'shared -> shared' : 'plain -> shared'}`,
      value: x.bytes / x.a2aMs / 1e6, baseline: x.bytes / x.memMs / 1e6, ratio: x.ratio, target: '>= 0.5',
    });
    console.log(`  best of 9 each: ratio ${x.bestRatio.toFixed(3)}`);
    if (transport === 'worker' && !shared) console.log(`  allToAll digest ${x.digest.slice(0, 16)}`);
  }
  if (process.env['BENCH_ONLY'] === 'a2a') {
    table(rows);
    return;
  }

  // 2. Events per second per worker, and 2 workers vs 1: DeepEP's kernels (a cached dispatch and a
  // combine, sizes-only, EP32 x 512 tokens), where the engine's events are per chunk and per port
  // change (a uniform allToAll settles many transfers per event: too few events to time).
  const eventsRun = async (workers: number) => {
    const R = 32, T = 512, E = 256;
    const c = await createCluster({ nodes: R / 8, gpusPerNode: 8, hardware: H800, workers, recordTimeline: true });
    try {
      const ep = await createExpertParallel(c, { numExperts: E, hidden: 7168, topk: 8, dtype: 'fp8', numSms: 24, sizesOnly: true });
      const topkIdx = Array.from({ length: R }, (_, r) => deepepTopk({ numRanks: R, gpusPerNode: 8, tokens: T, experts: E, topk: 8 }, r, 0));
      const d = await ep.dispatch({ topkIdx }); // warm-up, and the handle
      await ep.combine({ handle: d.handle });
      await c.foldTimeline(() => {});
      const ms: number[] = [], cpu: number[] = [];
      let events = 0, tl = '', transfers = 0, windows = 0;
      let stats: HostRunStats[] = [];
      for (let i = 0; i < 3; i++) {
        const s = nowMs();
        const dd = await ep.dispatch({ topkIdx, handle: d.handle });
        const cc = await ep.combine({ handle: d.handle });
        ms.push(nowMs() - s);
        cpu.push(dd.timing.hostCpuMs.concat(cc.timing.hostCpuMs).reduce((a, b) => a + b, 0));
        events = dd.timing.events + cc.timing.events;
        transfers = dd.timing.transfers + cc.timing.transfers;
        windows = dd.timing.windows + cc.timing.windows;
        stats = dd.timing.hostStats.map((s, w) => sumStats(s, cc.timing.hostStats[w]!));
        const h = createHash('sha256');
        await c.foldTimeline((b) => h.update(b));
        tl = h.digest('hex');
      }
      return { ms: median(ms), cpuMs: median(cpu), events, transfers, tl, windows, stats };
    } finally {
      await c.close();
    }
  };
  const w1 = await eventsRun(1);
  const w2 = await eventsRun(2);
  if (w1.tl !== w2.tl) throw new Error(`timeline digests differ between 1 and 2 workers: ${w1.tl} vs ${w2.tl}`);
  // Long enough (2M events) that the baseline itself is stable run to run.
  const heap = bareHeapEventsPerCpuSec(Math.max(w1.events, 2_000_000));
  const perWorker1 = w1.events / (w1.ms / 1e3);
  const perWorker2 = w2.events / 2 / (w2.ms / 1e3);
  const perCpu1 = w1.events / (w1.cpuMs / 1e3);
  const perCpu2 = w2.events / (w2.cpuMs / 1e3);
  say({ figure: 'bare typed-array heap loop events/s (wall; per CPU-second)', value: `${heap.wall.toExponential(3)}; ${heap.cpu.toExponential(3)}`, baseline: '-', ratio: 1, target: 'baseline' });
  say({ figure: 'engine events/s per worker, 1 worker (EP32 x 512 dispatch + combine), wall', value: perWorker1, baseline: heap.wall, ratio: perWorker1 / heap.wall, target: '>= 0.25' });
  say({ figure: 'engine events/s per worker, 2 workers, wall', value: perWorker2, baseline: heap.wall, ratio: perWorker2 / heap.wall, target: '>= 0.25' });
  say({ figure: 'engine events per host-thread CPU-second, 1 worker', value: perCpu1, baseline: heap.cpu, ratio: perCpu1 / heap.cpu, target: '>= 0.25' });
  say({ figure: 'engine events per host-thread CPU-second, 2 workers', value: perCpu2, baseline: heap.cpu, ratio: perCpu2 / heap.cpu, target: '>= 0.25' });
  say({ figure: 'speed-up 2 workers vs 1 (same timeline digest), wall', value: w1.ms / w2.ms, baseline: 1, ratio: w1.ms / w2.ms, target: '>= 1.6' });
  console.log(`  ${w1.events} events, ${w1.transfers} transfers per dispatch + combine (${(w1.events / w1.transfers).toFixed(2)} per transfer); ${w1.ms.toFixed(0)} ms (1 worker) vs ${w2.ms.toFixed(0)} ms (2 workers); host CPU ${w1.cpuMs.toFixed(0)} vs ${w2.cpuMs.toFixed(0)} ms`);
  // Where the 2 workers' wall time went (last repetition): the barrier share and its sleeps do not
  // depend on the machine's load as much as wall time; the run-queue share is the load itself.
  for (const [w, s] of w2.stats.entries()) {
    console.log(`  2 workers, host ${w}: ${w2.windows} windows (${s.emptyWindows} empty), busy ${s.busyMs.toFixed(0)} ms, at barriers ${s.waitMs.toFixed(0)} ms (${s.sleeps} sleeps, ${(s.sleeps / w2.windows).toFixed(2)} per window); on a CPU ${s.onCpuMs.toFixed(0)} ms, waiting for one ${s.runQueueMs.toFixed(0)} ms`);
  }

  // 3. Events per transfer.
  const e64 = await a2aEventsPerTransfer(8);
  say({ figure: 'events per transfer: sizes-only allToAll, 64 ranks', value: e64, baseline: BEFORE.eventsPerTransfer, ratio: e64 / BEFORE.eventsPerTransfer, target: 'report (before credits: 1.71)' });
  await trafficEventsPerTransfer(say);

  // 4. Heap allocation on the steady path.
  await steadyAllocation(say);

  // 5. DeepEP's benchmark, each size in a child process.
  deepepRuns(say);

  // 6. Workers that pay for themselves.
  await workersPayOff(say);
  console.log('\nsummary');
  table(rows);
}

/**
 * DeepEP's benchmark, each size in a child process; with `BENCH_BEFORE`, the earlier build's EP run
 * first, in the same run.
 */
function deepepRuns(say: (r: Record<string, string | number>) => void): void {
  const beforeRoot = process.env['BENCH_BEFORE'];
  let after: DeepepBenchResult | null = null; // this build's run with the digest, reused below
  if (beforeRoot && process.env['BENCH_EP64'] !== '0') {
    const ranks = Number(process.env['BENCH_EP_RANKS'] ?? 64);
    const b = deepepChild(ranks, true, beforeRoot);
    // This build from its own dist too (run `npm run build` first), so both start alike.
    if (!existsSync('dist/cli/main.js')) throw new Error('BENCH_BEFORE: build this checkout first (npm run build)');
    const a = (after = deepepChild(ranks, true, '.'));
    if (a && b) {
      const row = (run: string, r: DeepepBenchResult) => ({
        run, 'wall s': r.wallMs / 1e3, 'CPU s': r.cpuMs / 1e3, events: r.events, 'events/transfer': r.events / r.transfers,
        'dispatch us': r.dispatch.timeUs, 'combine us': r.combine.timeUs, 'peak RSS MiB': r.peakRssBytes / MiB,
        digest: r.timelineDigest ? r.timelineDigest.slice(0, 16) : '-',
      });
      table([row(`EP${ranks} before (${beforeRoot})`, b), row(`EP${ranks} this build`, a)]);
      say({ figure: `DeepEP EP${ranks} wall s, this build vs BENCH_BEFORE (same run)`, value: a.wallMs / 1e3, baseline: b.wallMs / 1e3, ratio: a.wallMs / b.wallMs, target: 'report' });
      say({ figure: `DeepEP EP${ranks} events, this build vs BENCH_BEFORE`, value: a.events, baseline: b.events, ratio: a.events / b.events, target: 'report' });
    }
  }
  if (process.env['BENCH_EP64'] !== '0') {
    const ep: Array<Record<string, string | number>> = [];
    const base = Number(process.env['BENCH_EP_RANKS'] ?? 64);
    const sizes: Array<[number, boolean]> = [[base, true], [base, false]];
    if (process.env['BENCH_EP128'] === '1') sizes.push([128, true]);
    for (const [ranks, withDigest] of sizes) {
      const r = after && ranks === base && withDigest ? after : deepepChild(ranks, withDigest);
      if (!r) continue;
      ep.push({
        run: `EP${ranks}${withDigest ? '' : ' --no-timeline-digest'}`, 'wall s': r.wallMs / 1e3, 'CPU s': r.cpuMs / 1e3, events: r.events,
        'events/transfer': r.events / r.transfers, 'peak RSS MiB': r.peakRssBytes / MiB, 'sim HBM/rank MiB': r.simulatedHbmBytes / MiB,
        digest: r.timelineDigest ? r.timelineDigest.slice(0, 16) : '-',
      });
      if (ranks === base && withDigest) {
        say({ figure: `events per transfer: DeepEP EP${ranks} benchmark`, value: r.events / r.transfers, baseline: '-', ratio: r.events / r.transfers, target: 'report' });
        if (ranks === 64) say({ figure: 'DeepEP EP64 benchmark wall s (2 workers)', value: r.wallMs / 1e3, baseline: BEFORE.ep64WallS, ratio: r.wallMs / 1e3 / BEFORE.ep64WallS, target: '< 10 s' });
      }
      if (ranks === 128) say({ figure: 'DeepEP EP128 benchmark peak RSS GB', value: r.peakRssBytes / 1e9, baseline: 4, ratio: r.peakRssBytes / 4e9, target: '< 4 GB (ratio < 1)' });
    }
    table(ep);
  }
}

/** Events per issued transfer of a sizes-only allToAll on `nodes` x 8 ranks, one worker. */
async function a2aEventsPerTransfer(nodes: number): Promise<number> {
  const c = await createCluster({ nodes, gpusPerNode: 8, hardware: H800, workers: 1, transport: 'in-process', recordTimeline: false });
  try {
    const r = await allToAll(c, { bytesPerPair: 1 << 16, sizesOnly: true });
    return r.events / r.transfers;
  } finally {
    await c.close();
  }
}

/** Heap bytes per event of a warmed-up second run, in-process (the engine on this thread). */
async function steadyAllocation(say: (r: Record<string, string | number>) => void): Promise<void> {
  {
    const c = await createCluster({ nodes: 8, gpusPerNode: 8, hardware: H800, workers: 1, transport: 'in-process', recordTimeline: false });
    try {
      const args = { bytesPerPair: 1 << 16, seed: 0, sizesOnly: true };
      await allToAll(c, args);
      await allToAll(c, args);
      for (let r = 0; r < c.numRanks; r++) Atomics.store(c.region(r, A2A_SIGNAL).i32, 0, 0);
      let events = 0, transfers = 0;
      const a = await heapAllocated(async () => {
        const r = await c.run('a2a', args);
        events = r.events;
        transfers = r.transfers;
      });
      say({ figure: `heap bytes per event (ratio column: per transfer), steady sizes-only allToAll (64 ranks, ${events} events, ${a.gcs} GCs)`, value: a.bytes / events, baseline: '-', ratio: a.bytes / transfers, target: '0 (ratio: per transfer)' });
    } finally {
      await c.close();
    }
  }
  // DeepEP-like EP16: the whole run per event (the operation's setup, O(tasks + tokens), included),
  // and per additional event between 512 and 2048 tokens (the same tasks, four times the chunks:
  // what the steady path allocates per event). One unmeasured pair first: the first DeepEP runs of
  // the process also allocate the JIT's own objects (code, feedback, deoptimization data), which
  // made the 512-token run's figure the larger one and the difference negative.
  await steadyDeepep(512);
  await steadyDeepep(2048);
  const small = await steadyDeepep(512);
  say({ figure: `heap bytes per event (ratio column: per transfer), steady DeepEP dispatch + combine (EP16 x 512 tokens, ${small.events} events, ${small.gcs} GCs)`, value: small.bytes / small.events, baseline: '-', ratio: small.bytes / small.transfers, target: '0 (ratio: per transfer)' });
  const large = await steadyDeepep(2048);
  const perEvent = (large.bytes - small.bytes) / (large.events - small.events);
  say({ figure: `heap bytes per additional event (ratio column: per additional transfer), DeepEP EP16, 2048 vs 512 tokens (${large.events} events)`, value: perEvent, baseline: '-', ratio: (large.bytes - small.bytes) / (large.transfers - small.transfers), target: '0 (ratio: per transfer)' });
  // The same difference from V8's sampling heap profiler: the GC profiler's figure above moves by a
  // few bytes per event with when collections happen; the sampled one does not.
  const sSmall = await steadyDeepep(512, 'sampled');
  const sLarge = await steadyDeepep(2048, 'sampled');
  say({ figure: `sampled heap bytes per additional event (ratio column: per additional transfer), DeepEP EP16, 2048 vs 512 tokens (V8 sampling heap profiler, every 32 B)`, value: (sLarge.bytes - sSmall.bytes) / (sLarge.events - sSmall.events), baseline: '-', ratio: (sLarge.bytes - sSmall.bytes) / (sLarge.transfers - sSmall.transfers), target: '0 (ratio: per transfer)' });
  await hostWorkerAllocation(say);
}

/** A file's URL from the package's root (`src/...`, `dist/...`, `node_modules/...`). */
const shortUrl = (url: string) => url.replace(/^.*\/(src|dist|node_modules)\//, '$1/');
/**
 * A site as `name file:line`; without the line for files run from `src` (V8 sees tsx's compiled
 * code, whose lines are not the source's: 1 for every function of a host worker's modules).
 */
const siteName = (name: string, url: string, line: number) => (url === '' ? name : `${name} ${shortUrl(url)}${url.endsWith('.ts') ? '' : `:${line}`}`);
/** {@link HeapSite.calledFrom} (`name url:line`) as {@link siteName}. */
function shortSite(s: string): string {
  const m = /^(.*) (\S+):(\d+)$/.exec(s);
  return m ? siteName(m[1]!, m[2]!, Number(m[3])) : s;
}

/** Sampling interval of the host-worker row, bytes (V8's sampling heap profiler in each host thread). */
const HOST_SAMPLING_BYTES = 256;

/**
 * What the host worker threads allocate per event, with a timeline, on 2 workers (what the
 * in-process rows above cannot see: the cross-host packets, and the hosts' own threads): each host
 * samples its heap during each run (the cluster's `hostHeapSampling`), DeepEP-like dispatch +
 * combine at EP `BENCH_ALLOC_RANKS` (default 32) x 512 and x 2048 tokens on one cluster (its
 * threads warmed up by a pair of each first), and the difference per additional event, with the
 * sites whose allocation grew most (their growth per additional event, over both hosts; the top 8,
 * or `BENCH_ALLOC_SITES`).
 */
async function hostWorkerAllocation(say: (r: Record<string, string | number>) => void): Promise<void> {
  const R = Number(process.env['BENCH_ALLOC_RANKS'] ?? 32), E = 8 * R;
  const c = await createCluster({
    nodes: R / 8, gpusPerNode: 8, hardware: H800, workers: 2, recordTimeline: true, hostHeapSampling: { intervalBytes: HOST_SAMPLING_BYTES, topSites: 60 },
  });
  try {
    const ep = await createExpertParallel(c, { numExperts: E, hidden: 7168, topk: 8, dtype: 'fp8', numSms: 24, sizesOnly: true });
    const inputs = new Map<number, { topkIdx: Int32Array[]; handle: Awaited<ReturnType<typeof ep.dispatch>>['handle'] }>();
    const once = async (T: number) => {
      let x = inputs.get(T);
      if (!x) {
        const topkIdx = Array.from({ length: R }, (_, r) => deepepTopk({ numRanks: R, gpusPerNode: 8, tokens: T, experts: E, topk: 8 }, r, 0));
        const d = await ep.dispatch({ topkIdx });
        await ep.combine({ handle: d.handle });
        await c.foldTimeline(() => {});
        x = { topkIdx, handle: d.handle };
        inputs.set(T, x);
      }
      const d = await ep.dispatch({ topkIdx: x.topkIdx, handle: x.handle });
      const cc = await ep.combine({ handle: x.handle });
      // The timeline is handed over after each pair, as a run with a timeline does.
      await c.foldTimeline(() => {});
      const runs = [d.timing.notify!, d.timing, cc.timing];
      const sites = new Map<string, number>();
      let bytes = 0;
      for (const run of runs) {
        for (const h of run.hostHeap!) {
          bytes += h.sampledBytes;
          for (const s of h.sites) {
            const key = siteName(s.functionName, s.url, s.line) + (s.calledFrom ? ` (from ${shortSite(s.calledFrom)})` : '');
            sites.set(key, (sites.get(key) ?? 0) + s.selfBytes);
          }
        }
      }
      return { bytes, sites, events: runs.reduce((a, r) => a + r.events, 0), transfers: runs.reduce((a, r) => a + r.transfers, 0) };
    };
    await once(512);
    await once(2048);
    const small = await once(512);
    const large = await once(2048);
    const dEvents = large.events - small.events;
    say({ figure: `host-worker sampled heap bytes per event (ratio column: per transfer), DeepEP EP${R} x 512 tokens, 2 workers, timeline (${small.events} events, every ${HOST_SAMPLING_BYTES} B)`, value: small.bytes / small.events, baseline: '-', ratio: small.bytes / small.transfers, target: '0 (ratio: per transfer)' });
    say({ figure: `host-worker sampled heap bytes per additional event (ratio column: per additional transfer), DeepEP EP${R}, 2048 vs 512 tokens, 2 workers, timeline (${large.events} events)`, value: (large.bytes - small.bytes) / dEvents, baseline: '-', ratio: (large.bytes - small.bytes) / (large.transfers - small.transfers), target: '0 (ratio: per transfer)' });
    const grew = [...large.sites].map(([k, b]) => [k, (b - (small.sites.get(k) ?? 0)) / dEvents] as const).sort((a, b) => b[1] - a[1]).slice(0, Number(process.env['BENCH_ALLOC_SITES'] ?? 8));
    console.log(`  host sites, sampled bytes per additional event (both hosts; 2048 tokens: ${(large.bytes / MiB).toFixed(1)} MiB sampled in ${large.events} events):`);
    for (const [k, b] of grew) console.log(`    ${b.toFixed(2).padStart(7)}  ${k}`);
  } finally {
    await c.close();
  }
}

/**
 * Heap bytes of a warmed-up in-process DeepEP-like dispatch + combine, EP16 x `T` tokens, by the GC
 * profiler or (`sampled`) by the sampling heap profiler.
 */
async function steadyDeepep(T: number, how: 'gc' | 'sampled' = 'gc'): Promise<{ bytes: number; gcs: number; events: number; transfers: number }> {
  const R = 16, E = 64;
  const c = await createCluster({ nodes: 2, gpusPerNode: 8, hardware: H800, workers: 1, transport: 'in-process', recordTimeline: false });
  try {
    const ep = await createExpertParallel(c, { numExperts: E, hidden: 7168, topk: 8, dtype: 'fp8', numSms: 24, sizesOnly: true });
    const topkIdx = Array.from({ length: R }, (_, r) => deepepTopk({ numRanks: R, gpusPerNode: 8, tokens: T, experts: E, topk: 8 }, r, 0));
    const d = await ep.dispatch({ topkIdx });
    await ep.combine({ handle: d.handle });
    let events = 0, transfers = 0;
    const work = async () => {
      const dd = await ep.dispatch({ topkIdx, handle: d.handle });
      const cc = await ep.combine({ handle: d.handle });
      events = dd.timing.events + cc.timing.events;
      transfers = dd.timing.transfers + cc.timing.transfers;
    };
    if (how === 'sampled') return { bytes: await sampledAllocation(work), gcs: 0, events, transfers };
    const a = await heapAllocated(work);
    return { bytes: a.bytes, gcs: a.gcs, events, transfers };
  } finally {
    await c.close();
  }
}

/** `bench deepep --ranks R --json` in a child process (its own peak RSS), 2 workers; `root`: an earlier build's checkout. */
function deepepChild(ranks: number, withDigest: boolean, root?: string): DeepepBenchResult | null {
  // An earlier build runs from its own dist (its worker entries resolve there).
  const entry = root ? [`${root}/dist/cli/main.js`] : [...process.execArgv, 'src/cli/main.ts'];
  const args = [...entry, 'bench', 'deepep', '--ranks', String(ranks), '--workers', '2', '--json', ...(withDigest ? [] : ['--no-timeline-digest'])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    console.log(`EP${ranks}: child failed (${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
    return null;
  }
  return JSON.parse(r.stdout) as DeepepBenchResult;
}

/** The peer flow sets (SimGrid): the copy in test/fixtures, unless EXPERTMESH_PEERS names another folder. */
function peerFlows(): { name: string; nodes: number; gpusPerNode: number; simgridUs?: number; flows: [number, number, number][] }[] | null {
  const candidates = [process.env['EXPERTMESH_PEERS'], 'test/fixtures'];
  for (const c of candidates) {
    if (!c) continue;
    const f = new URL(`${c.replace(/\/$/, '')}/simgrid-flows.json`, `file://${process.cwd()}/`);
    if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { cases: never[] }).cases;
  }
  return null;
}

/** 1 vs 2 workers, alternating in this run; medians of per-pair ratios. */
async function workersPayOff(say: (r: Record<string, string | number>) => void): Promise<void> {
  const reps = Number(process.env['BENCH_REPS'] ?? 3);
  // runTraffic replay of the EP128 DeepEP-like flow set (16 nodes x 8, 16,256 flows).
  const set = peerFlows()?.find((c) => c.flows.length === 16_256);
  if (process.env['BENCH_AB'] !== '1') console.log('runTraffic EP128 and EP64 1 vs 2 workers: skipped (BENCH_AB=1 runs them; minutes each)');
  else if (set) {
    const flows = set.flows.map(([src, dst, bytes]) => ({ src, dst, bytes }));
    const open = (workers: number) => createCluster({ nodes: set.nodes, gpusPerNode: set.gpusPerNode, hardware: H800, workers });
    const c1 = await open(1), c2 = await open(2);
    try {
      await runTraffic(c1, flows);
      await runTraffic(c2, flows); // warm-up (JIT, pages)
      const t1: number[] = [], t2: number[] = [], ratio: number[] = [], cpuRatio: number[] = [];
      let d1 = '', d2 = '', windows = 0, perTransfer = 0;
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
        perTransfer = a.events / a.transfers;
        console.log(`  rep ${i}: ${t1[i]!.toFixed(0)} ms vs ${t2[i]!.toFixed(0)} ms wall; thread CPU ${a.hostCpuMs.join('/')} ms vs ${b.hostCpuMs.join('/')} ms; ${b.windows} windows`);
      }
      if (d1 !== d2) throw new Error(`runTraffic EP128: timeline digests differ between 1 and 2 workers: ${d1} vs ${d2}`);
      say({ figure: `events per transfer: runTraffic ${set.name} (128 ranks)`, value: perTransfer, baseline: '-', ratio: perTransfer, target: 'report' });
      say({ figure: `runTraffic EP128 ${set.flows.length} flows: ms 1 worker / 2 workers`, value: `${median(t1).toFixed(0)} / ${median(t2).toFixed(0)}`, baseline: 1, ratio: median(ratio), target: '>= 1.5' });
      say({ figure: `runTraffic EP128: CPU of 1 worker / busier of 2 (${windows} windows)`, value: median(cpuRatio), baseline: 1, ratio: median(cpuRatio), target: '>= 1.5' });
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

  // The EP64 DeepEP benchmark (sizes-only), 1 vs 2 workers: long, so only when asked.
  if (process.env['BENCH_AB'] === '1' && process.env['BENCH_EP64'] !== '0') {
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
      console.log(`EP64 rep ${i}: ${(a.wallMs / 1e3).toFixed(1)} s (1 worker, ${a.windows} windows) vs ${(b.wallMs / 1e3).toFixed(1)} s (2 workers, ${b.windows} windows)`);
    }
    if (g1 !== g2) throw new Error(`EP64: timeline digests differ between 1 and 2 workers: ${g1} vs ${g2}`);
    say({ figure: 'DeepEP EP64 benchmark: s 1 worker / 2 workers', value: `${(median(t1) / 1e3).toFixed(1)} / ${(median(t2) / 1e3).toFixed(1)}`, baseline: 1, ratio: median(ratio), target: '>= 1.5' });
  }
}
