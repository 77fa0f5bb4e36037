/**
 * @module
 * DeepEP's low-latency benchmark (`tests/test_low_latency.py`), reproduced: 128 tokens per rank,
 * hidden 7168, top-8 of 288 experts (256 where the rank count does not divide 288), scores i.i.d.
 * with no group limit and 10 random top-k entries masked to -1 per rank; FP8 dispatch, BF16
 * combine on the dispatch's handle. Timing and bandwidth as the test counts them: kernel time of
 * each launch with the kernels back to back on each rank's stream (a second iteration, each kernel
 * starting where the previous one left its rank), dispatch bytes = (token, expert) pairs x 7,408 B,
 * combine bytes = pairs x 14,336 B (`hidden + hidden / 128 * 4 + 16` and `2 * hidden` per pair),
 * rank 0's figures as each rank prints its own. A second pass in hook mode gives the send / receive split (the test's "send/recv time").
 */
import { availableParallelism } from 'node:os';
import { fail, showValue } from '../../errors.js';
import { breakRule, checkExpertsDivisible } from '../../hardware/shape-rules.js';
import { createCluster } from '../../cluster/cluster.js';
import type { HardwareProfile } from '../../hardware/profile.js';
import { loadHardwareProfile } from '../../hardware/profile-file.js';
import { MULBERRY32_INCREMENT, mulberry32Uniform } from '../../routing/rng.js';
import { checkInt, checkNumber, checkObject, checkOneOf, checkString } from '../../validate.js';
import { createExpertParallel } from '../expert-parallel.js';
import type { DispatchDtype } from '../records.js';
import { lowLatencyLaunch, lowLatencyRdmaSizeHint, LL_HEADER_BYTES, LL_MAX_TOKENS_PER_RANK, LL_SCALE_GROUP } from './layout.js';
import type { LowLatencyTiming } from './low-latency-ep.js';
import type { HostBenchStats } from '../normal/deepep-benchmark.js';
import { LINK_SHARING_MODES, type LinkSharing } from '../../sim/message-port.js';

/** Options of {@link runLowLatencyBenchmark}. */
export interface LowLatencyBenchOptions {
  ranks: number;
  /** Tokens per rank (default 128, DeepEP's test); also `maxDispatchTokensPerRank`. */
  tokens?: number;
  hidden?: number;
  topk?: number;
  /** Routed experts (default 288 where the rank count divides it, else 256). */
  experts?: number;
  /** Dispatch payload (default fp8; combine is always bf16). */
  dtype?: DispatchDtype;
  /** Also run both kernels in hook mode for the send / receive split (default true). */
  hook?: boolean;
  seed?: number;
  workers?: number;
  transport?: 'worker' | 'in-process';
  hardware?: HardwareProfile | string;
  /**
   * How link ports share their bandwidth. Default 'message' here (one transfer at a time per sender
   * port, streams in turn, no credits): the low-latency kernels move one- or two-packet messages,
   * which a port arbitrates per packet, and the fluid model's per-message rate cascades cost
   * O(streams) each (docs/low-latency.md, "The benchmark"). 'fluid' is the cluster default; see
   * ClusterConfig.linkSharing.
   */
  linkSharing?: LinkSharing;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

/** One kernel's figures, rank 0's as DeepEP prints them, with the spread over ranks. */
export interface LowLatencyKernelFigures {
  /** Rank 0's kernel time (both phases in one launch), us: the second iteration, back to back. */
  timeUs: number;
  /** Rank 0's bytes (pairs x 7,408 B or x 14,336 B) / time, GB/s. */
  GBps: number;
  /** Rank 0's bytes as DeepEP counts them. */
  bytes: number;
  minTimeUs: number;
  maxTimeUs: number;
  /** Mean kernel time over the ranks, us. */
  meanTimeUs: number;
  /** Rank 0's kernel time in the first iteration (dispatch: the ranks launched together after the test's barrier), us. */
  firstTimeUs: number;
  /** Hook mode: rank 0's send kernel and receive kernel, us (DeepEP's "send/recv time"); null without. */
  sendUs: number | null;
  recvUs: number | null;
}

export interface LowLatencyBenchResult {
  schemaVersion: 1;
  mode: 'low-latency';
  ranks: number;
  nodes: number;
  tokens: number;
  hidden: number;
  topk: number;
  experts: number;
  /** Where `experts` comes from: DeepEP's test default 288 (the rank count divides it), 256 (it does not), or given. */
  expertsSource: 'default-288' | 'default-256' | 'given';
  dtype: DispatchDtype;
  hardware: string;
  /** How link ports shared their bandwidth in the run. */
  linkSharing: LinkSharing;
  /** DeepEP's launch: warp groups per SM, warps per group, SMs. */
  launch: { numWarpGroups: number; warpsPerGroup: number; numSms: number };
  /** `lowLatencyRdmaSizeHint` per rank, bytes. */
  rdmaBytes: number;
  dispatch: LowLatencyKernelFigures;
  combine: LowLatencyKernelFigures;
  events: number;
  windows: number;
  wallMs: number;
  /** CPU time of the whole process (every thread: main and hosts), ms: less sensitive than `wallMs` to a busy machine. */
  cpuMs: number;
  workers: number;
  /**
   * Where each host thread's time went in the reported (second-iteration) dispatch and combine, one
   * entry per host: its CPU time and where its wall time went. NaN (null in JSON) where unknown.
   */
  hostStats: { dispatch: HostBenchStats[]; combine: HostBenchStats[] };
  /** Where the run's wall time went, ms: see {@link LowLatencyPhases}. */
  phasesMs: LowLatencyPhases;
  peakRssBytes: number;
}

/** Where a low-latency benchmark's wall time went, ms (the main thread's clock). */
export interface LowLatencyPhases {
  /** Drawing the inputs (`lowLatencyTopk` for every rank), while the host workers start. */
  inputs: number;
  /** Waiting for the host workers to be ready after the inputs were drawn. */
  startupWait: number;
  /** Creating the layer (`createExpertParallel`). */
  layer: number;
  /**
   * Each call in run order: its wall time, the part the hosts ran its launches (the rest is
   * main-thread setup), its events and windows, and per host thread its CPU time, its time ready
   * but waiting for a CPU, and its time at the window barriers (NaN, null in JSON, where unknown).
   */
  calls: Array<{ name: string; wallMs: number; runWallMs: number; events: number; windows: number; hostCpuMs: number[]; hostRunQueueMs: number[]; hostWaitMs: number[] }>;
}

/**
 * DeepEP's low-latency test inputs for one rank: i.i.d. scores over every expert (no group limit),
 * top-k, then 10 random (token, k) entries set to -1 (a position may be drawn twice).
 */
export function lowLatencyTopk(tokens: number, experts: number, topk: number, rank: number, seed: number): Int32Array {
  checkInt(tokens, 'lowLatencyTopk: tokens', 1, LL_MAX_TOKENS_PER_RANK);
  checkInt(experts, 'lowLatencyTopk: experts', 1, 1 << 16);
  checkInt(topk, 'lowLatencyTopk: topk', 1, experts);
  checkInt(rank, 'lowLatencyTopk: rank', 0, 1 << 20);
  checkInt(seed, 'lowLatencyTopk: seed', 0, 2 ** 32 - 1);
  // createRng's uniform draws, with its state in this loop: a closure per rank would be a new call
  // target at each rank for V8, which recompiled this function a dozen times at 256 ranks.
  let a = (seed * 1000003 + rank * 7919 + 29) >>> 0;
  const rng = (): number => {
    a = (a + MULBERRY32_INCREMENT) >>> 0;
    return mulberry32Uniform(a);
  };
  const out = new Int32Array(tokens * topk);
  // The top k in one pass over the scores, highest first, ties in expert order (as picking the
  // highest k times, the first of equals each time): a score goes before the first kept one it beats.
  const bestS = new Float64Array(topk);
  for (let t = 0; t < tokens; t++) {
    const o = t * topk;
    let n = 0;
    for (let e = 0; e < experts; e++) {
      a = (a + MULBERRY32_INCREMENT) >>> 0;
      const x = mulberry32Uniform(a);
      if (n === topk && !(x > bestS[topk - 1]!)) continue;
      let j = n < topk ? n++ : topk - 1;
      while (j > 0 && x > bestS[j - 1]!) {
        bestS[j] = bestS[j - 1]!;
        out[o + j] = out[o + j - 1]!;
        j--;
      }
      bestS[j] = x;
      out[o + j] = e;
    }
  }
  if (tokens > 0) for (let i = 0; i < 10; i++) out[Math.floor(rng() * tokens) * topk + Math.floor(rng() * topk)] = -1;
  return out;
}

/** DeepEP's bytes per (token, expert) pair: FP8 `hidden + hidden / 128 * 4 + 16`, BF16 combine `2 * hidden`. */
export function lowLatencyPairBytes(hidden: number, kernel: 'dispatch' | 'combine', dtype: DispatchDtype = 'fp8'): number {
  checkInt(hidden, 'lowLatencyPairBytes: hidden', LL_SCALE_GROUP, 1 << 20);
  if (hidden % LL_SCALE_GROUP !== 0) fail('E_ARGUMENT', `lowLatencyPairBytes: hidden must be a multiple of ${LL_SCALE_GROUP}, got ${hidden}`, { value: hidden });
  checkOneOf(kernel, 'lowLatencyPairBytes: kernel', ['dispatch', 'combine'] as const);
  checkOneOf(dtype, 'lowLatencyPairBytes: dtype', ['fp8', 'bf16'] as const);
  if (kernel === 'combine') return 2 * hidden;
  return dtype === 'fp8' ? hidden + (hidden / LL_SCALE_GROUP) * 4 + LL_HEADER_BYTES : 2 * hidden + LL_HEADER_BYTES;
}

function resolve(o: LowLatencyBenchOptions) {
  const where = 'bench deepep --mode low-latency';
  if (typeof o !== 'object' || o === null) fail('E_ARGUMENT', `${where}: options must be an object, got ${showValue(o)}`, { value: o });
  const R = o.ranks;
  if (!Number.isInteger(R) || R < 1) fail('E_ARGUMENT', `${where}: --ranks must be a positive integer, got ${showValue(R)}`, { option: 'ranks', value: R });
  if (R < 2) breakRule('bench-min-ranks', where, `ranks ${R}`, { field: 'ranks', value: R });
  const gpn = R >= 8 ? 8 : R;
  if (R % gpn !== 0) fail('E_ARGUMENT', `${where}: --ranks ${R} must be below 8 or a multiple of 8 (8 GPUs per node)`, { option: 'ranks', value: R });
  const int = (name: keyof LowLatencyBenchOptions, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = o[name] ?? def;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      fail('E_ARGUMENT', `${where}: --${name} must be an integer in [${min}, ${max}], got ${showValue(v)}`, { option: name, value: v });
    return v;
  };
  const tokens = int('tokens', 128, 1, LL_MAX_TOKENS_PER_RANK);
  const hidden = int('hidden', 7168, 128);
  if (hidden % LL_SCALE_GROUP !== 0) fail('E_ARGUMENT', `${where}: --hidden must be a multiple of ${LL_SCALE_GROUP}, got ${hidden}`, { option: 'hidden', value: hidden });
  const topk = int('topk', 8, 1);
  const expertsSource: LowLatencyBenchResult['expertsSource'] = o.experts !== undefined ? 'given' : 288 % R === 0 ? 'default-288' : 'default-256';
  const experts = int('experts', expertsSource === 'default-256' ? 256 : 288, 1);
  if (topk > experts) fail('E_ARGUMENT', `${where}: --topk ${topk} exceeds --experts ${experts}`, { option: 'topk', value: topk });
  checkExpertsDivisible(experts, R, where, 'experts');
  const seed = int('seed', 0, 0);
  if (o.workers !== undefined) int('workers', 1, 1);
  const dtype = o.dtype ?? 'fp8';
  if (dtype !== 'fp8' && dtype !== 'bf16') fail('E_ARGUMENT', `${where}: --dtype must be fp8 or bf16, got ${showValue(dtype)}`, { option: 'dtype', value: dtype });
  const hardware = typeof o.hardware === 'string' ? loadHardwareProfile(o.hardware, `${where}: --hardware`) : (o.hardware ?? loadHardwareProfile('H800'));
  const workers = o.workers ?? Math.min(availableParallelism(), R);
  const linkSharing = checkOneOf(o.linkSharing ?? 'message', `${where}: --link-sharing`, LINK_SHARING_MODES);
  return { R, gpn, nodes: R / gpn, tokens, hidden, topk, experts, expertsSource, seed, dtype, hardware, workers, linkSharing };
}

/**
 * Run DeepEP's low-latency benchmark on a simulated cluster, sizes-only (payload bytes are not
 * moved; the timeline is real-data mode's).
 */
export async function runLowLatencyBenchmark(o: LowLatencyBenchOptions): Promise<LowLatencyBenchResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const b = resolve(o);
  // The host workers start (their threads load the modules) while this thread draws the inputs.
  const starting = createCluster({
    nodes: b.nodes, gpusPerNode: b.gpn, hardware: b.hardware, seed: b.seed, recordTimeline: false, linkSharing: b.linkSharing,
    ...(o.workers ? { workers: o.workers } : {}), ...(o.transport ? { transport: o.transport } : {}),
  });
  o.onProgress?.(`building inputs for ${b.R} ranks`);
  let topkIdx: Int32Array[];
  try {
    topkIdx = Array.from({ length: b.R }, (_, r) => lowLatencyTopk(b.tokens, b.experts, b.topk, r, b.seed));
  } catch (e) {
    await starting.then((c) => c.close(), () => undefined);
    throw e;
  }
  const t1 = performance.now();
  const cluster = await starting;
  const t2 = performance.now();
  try {
    const ep = await createExpertParallel(cluster, {
      numExperts: b.experts, hidden: b.hidden, topk: b.topk, sizesOnly: true, lowLatency: { maxDispatchTokensPerRank: b.tokens },
    });
    const t3 = performance.now();
    const calls: LowLatencyPhases['calls'] = [];
    const run = o.signal ? { signal: o.signal } : {};
    const useFp8 = b.dtype === 'fp8';
    let events = 0;
    let windows = 0;
    let callStart = performance.now();
    const add = (t: LowLatencyTiming, name: string) => {
      events += t.events;
      windows += t.windows;
      const now = performance.now();
      calls.push({
        name, wallMs: now - callStart, runWallMs: t.runWallMs, events: t.events, windows: t.windows, hostCpuMs: t.hostCpuMs.slice(),
        hostRunQueueMs: t.hostStats.map((h) => h.runQueueMs), hostWaitMs: t.hostStats.map((h) => h.waitMs),
      });
      callStart = now;
    };
    // DeepEP's test runs dispatch and combine back to back on each rank's stream (after a large
    // GEMM and a barrier that line the ranks up), and times each kernel per rank: a kernel starts when
    // the rank's previous one ended, so it also waits for peers the previous kernel left behind. The
    // first iteration starts together; the second, timed, starts each kernel where the previous left
    // each rank (the routing is the same every iteration, so the pattern repeats).
    const after = (t: LowLatencyTiming) => {
      const least = Math.min(...t.endPerRankUs);
      return t.endPerRankUs.map((e) => e - least);
    };
    o.onProgress?.('dispatch and combine, first iteration');
    callStart = performance.now();
    const d0 = await ep.lowLatencyDispatch({ topkIdx, useFp8 }, run);
    add(d0.timing, 'dispatch 1');
    const c0 = await ep.lowLatencyCombine({ handle: d0.handle, launchDelayUs: after(d0.timing) }, run);
    add(c0.timing, 'combine 1');
    o.onProgress?.('dispatch and combine, back to back');
    const d = await ep.lowLatencyDispatch({ topkIdx, useFp8, launchDelayUs: after(c0.timing) }, run);
    add(d.timing, 'dispatch 2');
    const c = await ep.lowLatencyCombine({ handle: d.handle, launchDelayUs: after(d.timing) }, run);
    add(c.timing, 'combine 2');
    let hd: LowLatencyTiming | null = null;
    let hc: LowLatencyTiming | null = null;
    if (o.hook ?? true) {
      o.onProgress?.('dispatch, hook mode');
      callStart = performance.now();
      const d2 = await ep.lowLatencyDispatch({ topkIdx, useFp8, returnRecvHook: true }, run);
      await d2.hook(run);
      hd = d2.timing;
      add(hd, 'dispatch hook');
      o.onProgress?.('combine, hook mode');
      callStart = performance.now();
      const c2 = await ep.lowLatencyCombine({ handle: d2.handle, returnRecvHook: true }, run);
      await c2.hook(run);
      hc = c2.timing;
      add(hc, 'combine hook');
    }
    // DeepEP counts every (token, expert) pair that is not -1.
    const pairs = topkIdx.map((t) => t.reduce((n, e) => n + (e >= 0 ? 1 : 0), 0));
    const fig = (t: LowLatencyTiming, first: LowLatencyTiming, h: LowLatencyTiming | null, kernel: 'dispatch' | 'combine'): LowLatencyKernelFigures => {
      const bytes = pairs[0]! * lowLatencyPairBytes(b.hidden, kernel, b.dtype);
      return {
        timeUs: t.perRankUs[0]!, GBps: bytes / (t.perRankUs[0]! * 1e3), bytes, minTimeUs: Math.min(...t.perRankUs), maxTimeUs: Math.max(...t.perRankUs),
        meanTimeUs: t.perRankUs.reduce((x, y) => x + y, 0) / t.perRankUs.length, firstTimeUs: first.perRankUs[0]!,
        sendUs: h ? h.sendPerRankUs[0]! : null, recvUs: h && h.recvPerRankUs ? h.recvPerRankUs[0]! : null,
      };
    };
    return {
      schemaVersion: 1, mode: 'low-latency', ranks: b.R, nodes: b.nodes, tokens: b.tokens, hidden: b.hidden, topk: b.topk, experts: b.experts,
      expertsSource: b.expertsSource, dtype: b.dtype, hardware: b.hardware.name, linkSharing: b.linkSharing, launch: lowLatencyLaunch(b.experts, b.hardware.smCount),
      rdmaBytes: lowLatencyRdmaSizeHint(b.tokens, b.hidden, b.R, b.experts),
      dispatch: fig(d.timing, d0.timing, hd, 'dispatch'), combine: fig(c.timing, c0.timing, hc, 'combine'), events, windows, wallMs: performance.now() - t0,
      cpuMs: cpuMsSince(cpu0), workers: cluster.config.workers, hostStats: { dispatch: hostBenchStats(d.timing), combine: hostBenchStats(c.timing) },
      phasesMs: { inputs: t1 - t0, startupWait: t2 - t1, layer: t3 - t2, calls }, peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    await cluster.close();
  }
}

function hostBenchStats(t: LowLatencyTiming): HostBenchStats[] {
  return t.hostStats.map((s, w) => ({ cpuMs: t.hostCpuMs[w] ?? NaN, ...s }));
}

/** User + system CPU time of the process since `start`, ms. */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e3;
}

/** The result as the text `bench deepep --mode low-latency` prints. */
export function formatLowLatencyResult(r: LowLatencyBenchResult): string {
  checkLowLatencyResult(r);
  const k = (name: string, f: LowLatencyKernelFigures) =>
    `[${name}] rank 0: ${f.timeUs.toFixed(1)} us, ${f.GBps.toFixed(1)} GB/s; time over ranks ${f.minTimeUs.toFixed(1)}-${f.maxTimeUs.toFixed(1)} us` +
    (f.sendUs !== null && f.recvUs !== null ? `; hook mode send ${f.sendUs.toFixed(1)} + recv ${f.recvUs.toFixed(1)} us` : '') + '\n';
  return (
    `DeepEP low-latency kernels, ${r.ranks} ranks (${r.nodes} node${r.nodes > 1 ? 's' : ''}), ${r.tokens} tokens x hidden ${r.hidden}, top-${r.topk} of ${r.experts} experts (${r.expertsSource}), dispatch ${r.dtype}, ${r.hardware}${r.linkSharing === 'message' ? ', message link sharing' : ''}\n` +
    `launch: ${r.launch.numSms} SMs, ${r.launch.numWarpGroups} warp group(s) x ${r.launch.warpsPerGroup} warps; RDMA buffer ${r.rdmaBytes} B per rank\n` +
    k('dispatch', r.dispatch) + k('combine', r.combine) +
    `simulated ${r.events} events in ${(r.wallMs / 1000).toFixed(1)} s wall\n`
  );
}

/** A result to format: the fields it prints, checked (a JSON copy of a result is valid input). */
function checkLowLatencyResult(r: unknown): asserts r is LowLatencyBenchResult {
  const o = checkObject(r, 'formatLowLatencyResult: result');
  for (const k of ['ranks', 'nodes', 'tokens', 'hidden', 'topk', 'experts', 'rdmaBytes']) checkInt(o[k], `formatLowLatencyResult: result.${k}`, 0);
  for (const k of ['events', 'wallMs']) checkNumber(o[k], `formatLowLatencyResult: result.${k}`, true);
  for (const k of ['expertsSource', 'dtype', 'hardware']) checkString(o[k], `formatLowLatencyResult: result.${k}`);
  const launch = checkObject(o.launch, 'formatLowLatencyResult: result.launch');
  for (const k of ['numSms', 'numWarpGroups', 'warpsPerGroup']) checkInt(launch[k], `formatLowLatencyResult: result.launch.${k}`, 0);
  for (const kernel of ['dispatch', 'combine']) {
    const f = checkObject(o[kernel], `formatLowLatencyResult: result.${kernel}`);
    for (const k of ['timeUs', 'GBps', 'minTimeUs', 'maxTimeUs']) checkNumber(f[k], `formatLowLatencyResult: result.${kernel}.${k}`);
    for (const k of ['sendUs', 'recvUs']) if (f[k] !== null) checkNumber(f[k], `formatLowLatencyResult: result.${kernel}.${k}`);
  }
}
