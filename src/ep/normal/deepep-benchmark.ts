/**
 * @module
 * DeepEP's normal-kernel benchmark, reproduced: DeepEP's inputs, the default (or swept) configs,
 * dispatch then combine on the dispatch's handle, kernel time with the notify step excluded, and
 * bandwidth counted exactly as DeepEP's test counts it (logical bytes, same-node traffic included).
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fail, showValue } from '../../errors.js';
import { breakRule, checkExpertsDivisible, checkRowBytes } from '../../hardware/shape-rules.js';
import { checkEstimate, type RunEstimate } from '../../cluster/host-limits.js';
import { estimateEpRun } from '../estimate.js';
import { createCluster } from '../../cluster/cluster.js';
import type { HardwareProfile } from '../../hardware/profile.js';
import { loadHardwareProfile } from '../../hardware/profile-file.js';
import { createExpertParallel, type ExpertParallel, type DispatchResult } from '../expert-parallel.js';
import type { HostRunStats } from '../../actors/host-messages.js';
import { deepepTopk } from '../deepep-inputs.js';
import { benchmarkRowBytes, type DispatchDtype } from '../records.js';
import { resolveEpConfigs, type EpConfig } from './ep-config.js';
import { measureUtilisation, type Utilisation } from '../utilisation.js';
import { checkArray, checkInt, checkOneOf, stamp } from '../../validate.js';
import { LINK_SHARING_MODES, type LinkSharing } from '../../sim/message-port.js';

/** What {@link checkMade} calls a benchmark result. */
export const BENCH_RESULT = 'a benchmark result';

export interface DeepepBenchOptions {
  /** Only 'normal' (the high-throughput kernels) is modelled. */
  mode?: 'normal';
  ranks: number;
  /** SMs for both kernels (default 24, as DeepEP's test uses). */
  sms?: number;
  tokens?: number;
  hidden?: number;
  topk?: number;
  experts?: number;
  dtype?: DispatchDtype;
  /** Move real payload bytes (default: sizes only). */
  payload?: boolean;
  /**
   * Sweep chunk sizes over the ranges and ring sizes of DeepEP's tests and report the best (the
   * default figures are kept in `defaults`). Costly: up to 88 dispatch and 49 combine runs.
   */
  tune?: boolean;
  workers?: number;
  /** Host transport (default worker threads). */
  transport?: 'worker' | 'in-process';
  /**
   * How link ports share their bandwidth (default 'fluid'; 'message': one transfer at a time per
   * sender port, streams in turn, no credits; see ClusterConfig.linkSharing).
   */
  linkSharing?: LinkSharing;
  seed?: number;
  /** A profile, a built-in name or a path to a JSON profile file (default H800). */
  hardware?: HardwareProfile | string;
  /**
   * Config fields that override DeepEP's defaults for the rank count (`source: 'given'`), e.g. a
   * combine ring that DeepEP's asserts accept where the nearest entry's does not (EP40). `--tune`
   * sweeps from these.
   */
  dispatchConfig?: Partial<EpConfig>;
  combineConfig?: Partial<EpConfig>;
  /**
   * Record the timeline and measure rank 0's utilisation per kernel (SMs, NVLink and NIC ports) and
   * the resource that binds (the sensitivity bench). Default false.
   */
  utilisation?: boolean;
  /** Called with progress lines (for stderr). */
  onProgress?: (line: string) => void;
  /** Aborts the run. */
  signal?: AbortSignal;
  /**
   * Record the timeline of every kernel run and report its digest (default true). Costs memory per
   * transfer while a kernel runs (each kernel's timeline is folded into the digest and dropped).
   */
  timelineDigest?: boolean;
}

export interface KernelFigures {
  /** Rank 0's kernel time, us (as DeepEP prints it). */
  timeUs: number;
  /** RDMA bandwidth of rank 0, GB/s; null within one node. */
  rdmaGBps: number | null;
  /** NVLink bandwidth of rank 0, GB/s. */
  nvlGBps: number;
  /** Min and max over ranks. */
  minTimeUs: number;
  maxTimeUs: number;
  rdmaGBpsMin: number | null;
  rdmaGBpsMax: number | null;
  nvlGBpsMin: number;
  nvlGBpsMax: number;
  /** The config used (the best one when tuning, `source: 'tuned'`). */
  config: EpConfig;
}

export interface DeepepBenchResult {
  schemaVersion: 1;
  mode: 'normal';
  ranks: number;
  nodes: number;
  sms: number;
  dtype: DispatchDtype;
  tokens: number;
  hidden: number;
  /** Hardware profile name. */
  hardware: string;
  /** How link ports shared their bandwidth in the run. */
  linkSharing: LinkSharing;
  notifyUs: number;
  /** Events the notify step took (first dispatch; not in `events`, which counts the kernels'). */
  notifyEvents: number;
  /** True when `dispatch` and `combine` are the best of DeepEP's sweep (`--tune`). */
  tuned: boolean;
  dispatch: KernelFigures;
  combine: KernelFigures;
  /** With `tuned`: the default configs' figures, and how many configs were run and refused by DeepEP's asserts. */
  defaults?: { dispatch: KernelFigures; combine: KernelFigures };
  sweep?: { dispatchRuns: number; combineRuns: number; refused: number };
  /** With `utilisation`: rank 0's busy fractions per kernel (default configs) and what binds. */
  utilisation?: { dispatch: Utilisation; combine: Utilisation };
  /** Events processed by the simulation (dispatch + combine of the reported configs). */
  events: number;
  /** CPU time of the whole process (every thread: main and hosts), ms: less sensitive than `wallMs` to a busy machine. */
  cpuMs: number;
  /** Transfers issued by the same kernels: `events / transfers` is the simulation's cost per transfer. */
  transfers: number;
  wallMs: number;
  /**
   * SHA-256 over the canonical timelines of every kernel run, in run order (tuning runs included);
   * the same whatever the number of workers. Null when timelines were not recorded.
   */
  timelineDigest: string | null;
  /** Synchronisation windows of the reported dispatch and the default combine. */
  windows: number;
  /** Host worker threads used. */
  workers: number;
  /**
   * Where each host thread's time went in the reported dispatch and the default combine (the runs
   * `windows` counts), one entry per host: its CPU time and {@link HostRunStats} (its windows, the
   * barriers, on a CPU and waiting for one). NaN (null in JSON) where the platform does not tell.
   * `notify`: the same for the first dispatch's notify step (a run of its own).
   */
  hostStats: { dispatch: HostBenchStats[]; combine: HostBenchStats[]; notify: HostBenchStats[] };
  /**
   * Where the run's wall time went, ms: see {@link NormalBenchPhases}. Always set by
   * {@link runDeepepBenchmark}; optional so that results written by hand (for a report) need not.
   */
  phasesMs?: NormalBenchPhases;
  /** Peak resident memory of the process (every thread), bytes: host memory actually used. */
  peakRssBytes: number;
  /**
   * Simulated HBM on the busiest rank, bytes: what DeepEP would allocate for the reported configs'
   * buffers and tensors on this run's counts (payload or sizes-only alike), within `hbmCapacityBytes`.
   */
  simulatedHbmBytes: number;
  /** The profile's HBM per rank, bytes. */
  hbmCapacityBytes: number;
}

/**
 * Where a normal benchmark's wall time went, ms (the main thread's clock), in run order; they add up
 * to `wallMs`.
 */
export interface NormalBenchPhases {
  /** Drawing the inputs (`deepepTopk` for every rank), while the host workers start. */
  inputs: number;
  /** Waiting for the host workers to be ready after the inputs were drawn. */
  startupWait: number;
  /** Creating the layer (`createExpertParallel`). */
  layer: number;
  /** The first dispatch: its notify and the kernel (with `tune`, and the dispatch sweep). */
  dispatch: number;
  /**
   * From the dispatch's end to the default combine's (which starts right after the dispatch; the
   * dispatch's figures and the fold of its timeline into the digest overlap it); with `tune`, and
   * the combine sweep.
   */
  combine: number;
  /** After the kernels: the simulated HBM figure, the last timeline's fold, closing the hosts. */
  tail: number;
}

/** One host thread in one kernel run: its CPU time, ms, and where its wall time went. */
export interface HostBenchStats extends HostRunStats {
  /** CPU time of the host's thread in the kernel, ms. */
  cpuMs: number;
}

function hostBenchStats(t: { hostCpuMs: number[]; hostStats: HostRunStats[] }): HostBenchStats[] {
  return t.hostStats.map((s, w) => ({ cpuMs: t.hostCpuMs[w] ?? NaN, ...s }));
}

/** User + system CPU time of the process since `start`, ms. */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e3;
}

function figures(perRankUs: number[], rdmaBytes: number[] | null, nvlBytes: number[], config: EpConfig): KernelFigures {
  const gbps = (b: number, us: number) => b / (us * 1e3);
  const nvl = nvlBytes.map((b, r) => gbps(b, perRankUs[r]!));
  const rdma = rdmaBytes ? rdmaBytes.map((b, r) => gbps(b, perRankUs[r]!)) : null;
  return {
    timeUs: perRankUs[0]!,
    rdmaGBps: rdma ? rdma[0]! : null,
    nvlGBps: nvl[0]!,
    minTimeUs: Math.min(...perRankUs),
    maxTimeUs: Math.max(...perRankUs),
    rdmaGBpsMin: rdma ? Math.min(...rdma) : null,
    rdmaGBpsMax: rdma ? Math.max(...rdma) : null,
    nvlGBpsMin: Math.min(...nvl),
    nvlGBpsMax: Math.max(...nvl),
    config,
  };
}

/** The benchmark's options, checked, with defaults. */
function resolveBench(o: DeepepBenchOptions) {
  if (typeof o !== 'object' || o === null) fail('E_ARGUMENT', `bench deepep: options must be an object, got ${showValue(o)}`, { value: o });
  const R = o.ranks;
  if (!Number.isInteger(R) || R < 1) fail('E_ARGUMENT', `bench deepep: --ranks must be a positive integer, got ${showValue(R)}`, { option: 'ranks', value: R });
  if (R < 2) breakRule('bench-min-ranks', 'bench deepep', `ranks ${R}`, { field: 'ranks', value: R });
  const gpn = R >= 8 ? 8 : R;
  if (R % gpn !== 0) fail('E_ARGUMENT', `bench deepep: --ranks ${R} must be below 8 or a multiple of 8 (8 GPUs per node)`, { option: 'ranks', value: R });
  const nodes = R / gpn;
  const int = (name: keyof DeepepBenchOptions, def: number, min: number): number => {
    const v = o[name] ?? def;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
      fail('E_ARGUMENT', `bench deepep: --${name} must be an integer >= ${min}, got ${showValue(v)}`, { option: name, value: v });
    return v;
  };
  const sms = int('sms', 24, 2);
  if (sms % 2 !== 0) fail('E_ARGUMENT', `bench deepep: --sms must be even (two SMs per channel), got ${sms}`, { option: 'sms', value: sms });
  const tokens = int('tokens', 4096, 1);
  const hidden = int('hidden', 7168, 1);
  const topk = int('topk', 8, 1);
  const experts = int('experts', 256, 1);
  if (topk > experts) fail('E_ARGUMENT', `bench deepep: --topk ${topk} exceeds --experts ${experts}`, { option: 'topk', value: topk });
  const seed = int('seed', 0, 0);
  if (o.workers !== undefined) int('workers', 1, 1);
  const dtype = o.dtype ?? 'fp8';
  if (dtype !== 'fp8' && dtype !== 'bf16') fail('E_ARGUMENT', `bench deepep: --dtype must be fp8 or bf16, got ${showValue(dtype)}`, { option: 'dtype', value: dtype });
  if (dtype === 'fp8' && hidden % 128 !== 0) fail('E_ARGUMENT', `bench deepep: --hidden must be a multiple of 128 for fp8, got ${hidden}`, { option: 'hidden', value: hidden });
  checkExpertsDivisible(experts, R, 'bench deepep', 'experts');
  checkRowBytes(hidden, dtype, 'bench deepep');
  const hardware = typeof o.hardware === 'string' ? loadHardwareProfile(o.hardware, 'bench deepep: --hardware') : (o.hardware ?? loadHardwareProfile('H800'));
  // DeepEP's asserts refuse a shape before anything runs (EP256: the combine's 24-node limit).
  const given = { ...(o.dispatchConfig ? { dispatch: o.dispatchConfig } : {}), ...(o.combineConfig ? { combine: o.combineConfig } : {}) };
  const configs = resolveEpConfigs(R, nodes, sms, given);
  const workers = o.workers ?? Math.min(availableParallelism(), R);
  const linkSharing = checkOneOf(o.linkSharing ?? 'fluid', 'bench deepep: --link-sharing', LINK_SHARING_MODES);
  return { R, gpn, nodes, sms, tokens, hidden, topk, experts, dtype, seed, hardware, workers, configs, linkSharing };
}

/**
 * What the benchmark will need (host memory, simulated HBM per rank, events), before any work.
 * @throws ExpertmeshError `E_ARGUMENT` / `E_CONFIG` for bad options.
 */
export function estimateDeepepBenchmark(o: DeepepBenchOptions): RunEstimate {
  const b = resolveBench(o);
  const sweeps = o.tune ? [...sweepDispatch(b.R, b.nodes, b.configs.dispatch)].length + [...sweepCombine(b.R, b.nodes, b.configs.combine)].length + 2 : 0;
  return estimateEpRun({
    what: 'bench deepep', ranks: b.R, gpusPerNode: b.gpn, tokens: b.tokens, hidden: b.hidden, topk: b.topk, experts: b.experts,
    dtype: b.dtype, sizesOnly: !(o.payload ?? false), numSms: b.sms, kernelRuns: 1 + sweeps, recordTimeline: o.timelineDigest ?? true, trace: 'none',
    workers: b.workers, hardware: b.hardware, lower: '--tokens, --ranks or --hidden',
  });
}

/**
 * Run DeepEP's normal benchmark on a simulated cluster. Checks {@link estimateDeepepBenchmark}
 * first: over a limit it throws `E_LIMIT` before starting anything.
 */
export async function runDeepepBenchmark(o: DeepepBenchOptions): Promise<DeepepBenchResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  checkEstimate(estimateDeepepBenchmark(o));
  const { R, gpn, nodes, sms, tokens, hidden, topk, experts, dtype, seed, hardware, linkSharing } = resolveBench(o);
  const withDigest = o.timelineDigest ?? true;
  const digest = createHash('sha256');
  // The host workers start (their threads load the modules) while this thread draws the inputs.
  const starting = createCluster({ nodes, gpusPerNode: gpn, hardware, seed, recordTimeline: withDigest || o.utilisation === true, recordTraces: o.utilisation === true, linkSharing, ...(o.workers ? { workers: o.workers } : {}), ...(o.transport ? { transport: o.transport } : {}) });
  const shape = { numRanks: R, gpusPerNode: gpn, tokens, experts, topk };
  o.onProgress?.(`building inputs for ${R} ranks`);
  let topkIdx: Int32Array[];
  try {
    topkIdx = Array.from({ length: R }, (_, r) => deepepTopk(shape, r, seed));
  } catch (e) {
    await starting.then((c) => c.close(), () => undefined);
    throw e;
  }
  const tInputs = performance.now();
  const cluster = await starting;
  const tStarted = performance.now();
  /** The timelines taken and not yet folded into the digest, in run order. */
  let folding = Promise.resolve();
  try {
    const payload = o.payload ?? false;
    const mkEp = (d = o.dispatchConfig, c = o.combineConfig) =>
      createExpertParallel(cluster, { numExperts: experts, hidden, topk, dtype, numSms: sms, sizesOnly: !payload, ...(d ? { dispatchConfig: d } : {}), ...(c ? { combineConfig: c } : {}) });
    const x = payload ? topkIdx.map((t) => makePayload(t.length / topk, hidden, dtype)) : undefined;
    const w = topkIdx.map((t) => new Float32Array(t.length).fill(1 / topk));
    let ep = await mkEp();
    const tLayer = performance.now();
    o.onProgress?.('notify + dispatch');
    const run = o.signal ? { signal: o.signal } : {};
    // Each kernel's timeline is taken from the hosts as soon as it ends, so at most two are ever
    // held. With `utilisation`, the same timeline (and the SMs' activity slices) give rank 0's busy fractions.
    const fold = async (): Promise<Utilisation | null> => {
      if (!withDigest && !o.utilisation) return null;
      if (!o.utilisation) {
        // Streamed: the canonical timeline is never built, only each host's records and order. It is
        // folded while the next kernel starts and runs (the main thread only waits for it then), a
        // block per turn of the event loop, so the next kernel's messages are not held up; in run order.
        const t = await cluster.takeTimelineBlocks();
        folding = folding.then(() => foldInTurns(t.blocks, (b) => digest.update(b)));
        return null;
      }
      const t = await cluster.takeTimeline();
      if (withDigest) digest.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      return o.utilisation ? measureUtilisation(t, await cluster.takeActivities(), 0, hardware) : null;
    };
    let d = await ep.dispatch({ topkIdx, topkWeights: w, ...(x ? { x } : {}) }, run);
    const notifyRun = d.timing.notify!;
    const utilD = await fold();
    const yOf = (dd: DispatchResult) => payload ? dd.recv.map((rv) => rv.recvX instanceof Uint16Array ? rv.recvX : new Float32Array(rv.recvSrc.length / 2 * hidden)) : undefined;
    // Without a sweep the combine (default configs, this dispatch's handle) starts now: its plans
    // and its run overlap the dispatch's figures below. Awaited below with no await before it.
    if (!o.tune) o.onProgress?.('combine');
    const early = o.tune ? null : ep.combine({ handle: d.handle, ...(payload ? { x: yOf(d)! } : {}) }, run);
    early?.catch(() => undefined); // a throw before the await below must not leave it unhandled
    const notifyUs = d.timing.notifyUs;
    const layouts = ep.getDispatchLayout(topkIdx);
    const rowD = benchmarkRowBytes(hidden, dtype);
    const rowC = benchmarkRowBytes(hidden, 'bf16');
    const rdmaTokens = layouts.map((l) => l.numTokensPerRdmaRank.reduce((a, b) => a + b, 0));
    const nvlRows = d.handle.numRecv;
    const dispatchFig = (dd: DispatchResult, cfg: EpConfig) =>
      figures(dd.timing.perRankUs, nodes > 1 ? rdmaTokens.map((n) => n * rowD) : null, nvlRows.map((n) => n * rowD), cfg);
    const defD = dispatchFig(d, ep.dispatchConfig);
    let best = defD;
    let events = d.timing.events;
    let refused = 0;
    let dispatchRuns = 0;
    let combineRuns = 0;
    const tag = (f: KernelFigures): KernelFigures => ({ ...f, config: { ...f.config, source: 'tuned' } });
    if (o.tune) {
      let bestT: KernelFigures | null = null;
      for (const cfg of sweepDispatch(R, nodes, ep.dispatchConfig)) {
        let e2: ExpertParallel;
        try {
          e2 = await mkEp(cfg, undefined);
        } catch {
          refused++;
          continue;
        }
        const dd = await e2.dispatch({ topkIdx, topkWeights: w, handle: d.handle, ...(x ? { x } : {}) }, run);
        await fold();
        dispatchRuns++;
        const f = dispatchFig(dd, e2.dispatchConfig);
        o.onProgress?.(`dispatch ${JSON.stringify(cfg)}: ${f.timeUs.toFixed(1)} us`);
        if (!bestT || f.timeUs < bestT.timeUs) bestT = f;
      }
      if (bestT) best = tag(bestT);
      ep = await mkEp(best.config, undefined);
      d = await ep.dispatch({ topkIdx, topkWeights: w, handle: d.handle, ...(x ? { x } : {}) }, run);
      await fold();
    }
    const tDispatch = performance.now();
    if (o.tune) o.onProgress?.('combine');
    const y = yOf(d);
    const combineFig = (us: number[], cfg: EpConfig) => figures(us, nodes > 1 ? rdmaTokens.map((n) => n * rowC) : null, nvlRows.map((n) => n * rowC), cfg);
    const defEp = o.tune ? await mkEp() : ep;
    if (o.utilisation && o.tune) await cluster.takeActivities(); // drop what the tuning runs recorded
    const c = await (early ?? defEp.combine({ handle: d.handle, ...(y ? { x: y } : {}) }, run));
    const utilC = await fold();
    const defC = combineFig(c.timing.perRankUs, defEp.combineConfig);
    let bestC = defC;
    events += c.timing.events;
    const transfers = d.timing.transfers + c.timing.transfers;
    if (o.tune) {
      let bestT: KernelFigures | null = null;
      for (const cfg of sweepCombine(R, nodes, defEp.combineConfig)) {
        let e2: ExpertParallel;
        try {
          e2 = await mkEp(best.config, cfg);
        } catch {
          refused++;
          continue;
        }
        const cc = await e2.combine({ handle: d.handle, ...(y ? { x: y } : {}) }, run);
        await fold();
        combineRuns++;
        const f = combineFig(cc.timing.perRankUs, e2.combineConfig);
        o.onProgress?.(`combine ${JSON.stringify(cfg)}: ${f.timeUs.toFixed(1)} us`);
        if (!bestT || f.timeUs < bestT.timeUs) bestT = f;
      }
      if (bestT) bestC = tag(bestT);
    }
    const tCombine = performance.now();
    const simulatedHbmBytes = Math.max(...(await mkEp(best.config, bestC.config)).simulatedHbmBytes(d.handle));
    // Nothing runs on the hosts any more: their threads end while the last timeline folds.
    await Promise.all([folding, cluster.close()]);
    const tEnd = performance.now();
    const phasesMs: NormalBenchPhases = {
      inputs: tInputs - t0, startupWait: tStarted - tInputs, layer: tLayer - tStarted, dispatch: tDispatch - tLayer, combine: tCombine - tDispatch, tail: tEnd - tCombine,
    };
    return stamp({
      schemaVersion: 1, mode: 'normal', ranks: R, nodes, sms, dtype, tokens, hidden, hardware: hardware.name, linkSharing, notifyUs, notifyEvents: notifyRun.events, tuned: o.tune === true,
      dispatch: best, combine: bestC,
      ...(o.tune ? { defaults: { dispatch: defD, combine: defC }, sweep: { dispatchRuns, combineRuns, refused } } : {}),
      ...(utilD && utilC ? { utilisation: { dispatch: utilD, combine: utilC } } : {}),
      events, transfers, wallMs: tEnd - t0, cpuMs: cpuMsSince(cpu0),
      timelineDigest: withDigest ? digest.digest('hex') : null, windows: d.timing.windows + c.timing.windows,
      workers: cluster.config.workers, hostStats: { dispatch: hostBenchStats(d.timing), combine: hostBenchStats(c.timing), notify: hostBenchStats(notifyRun) }, phasesMs, peakRssBytes: process.resourceUsage().maxRSS * 1024,
      simulatedHbmBytes, hbmCapacityBytes: hardware.hbmBytes,
    }, BENCH_RESULT);
  } finally {
    // A run that failed may leave a fold going: let it end (it reads only the records taken).
    await Promise.all([cluster.close(), folding.catch(() => undefined)]);
  }
}

/** Pass `blocks` to `sink` one per turn of the event loop (whatever else is due runs between them). */
async function foldInTurns(blocks: Iterable<Uint8Array>, sink: (bytes: Uint8Array) => void): Promise<void> {
  for (const b of blocks) {
    sink(b);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Run the benchmark once per SM count (`--sms 8,16,20,24,32`), one row each, in order.
 */
export async function runDeepepSmsSweep(o: DeepepBenchOptions, sms: number[]): Promise<{ schemaVersion: 1; mode: 'normal'; ranks: number; sweep: 'sms'; rows: DeepepBenchResult[] }> {
  checkArray(sms, 'sms');
  if (sms.length === 0) fail('E_ARGUMENT', 'runDeepepSmsSweep: sms must list at least one SM count', { argument: 'sms' });
  // Every count checked before the first run.
  for (let i = 0; i < sms.length; i++) estimateDeepepBenchmark({ ...o, sms: checkInt(sms[i], `sms[${i}]`, 2) });
  const rows: DeepepBenchResult[] = [];
  for (const n of sms) {
    o.onProgress?.(`--sms ${n}`);
    rows.push(await runDeepepBenchmark({ ...o, sms: n }));
  }
  return { schemaVersion: 1, mode: 'normal', ranks: o.ranks, sweep: 'sms', rows };
}

/** Rank counts whose internode tests use a 720-slot NVLink ring (reference §2); the others 512. */
const RING_720 = new Set([24, 48, 96, 144, 160]);

/** DeepEP's RDMA ring in its tests, 128 slots, aligned up to the chunk as its `Config` does. */
const rdmaRing = (chunk: number) => Math.ceil(128 / chunk) * chunk;

/**
 * DeepEP's test sweep for dispatch (reference §2). Intranode: NVLink ring 256, chunk 4-32 step 2
 * plus the default. Internode: NVLink ring 512 (720 for 24, 48, 96, 144, 160 ranks), RDMA ring 128,
 * NVLink chunk 4-44 step 4 x RDMA chunk 4-32 step 4.
 */
export function* sweepDispatch(ranks: number, nodes: number, def: EpConfig): Generator<Partial<EpConfig>> {
  if (nodes === 1) {
    for (let nvl = 4; nvl <= 32; nvl += 2) yield { nvlChunk: nvl, nvlBuffer: 256 };
    if (def.nvlChunk < 4 || def.nvlChunk > 32 || def.nvlChunk % 2 !== 0) yield { nvlChunk: def.nvlChunk, nvlBuffer: 256 };
    return;
  }
  const ring = RING_720.has(ranks) ? 720 : 512;
  for (let nvl = 4; nvl <= 44; nvl += 4)
    for (let rdma = 4; rdma <= 32; rdma += 4) yield { nvlChunk: nvl, nvlBuffer: ring, rdmaChunk: rdma, rdmaBuffer: rdmaRing(rdma) };
}

/**
 * DeepEP's test sweep for combine (reference §2). Intranode: NVLink ring 256, chunk 1-16 plus the
 * default. Internode: NVLink ring 512 (720 for 24, 48, 96, 144, 160 ranks), RDMA ring 128, NVLink
 * chunk 1-7 x RDMA chunk 12-32 step 4 on 2 nodes, 8-32 step 4 otherwise.
 */
export function* sweepCombine(ranks: number, nodes: number, def: EpConfig): Generator<Partial<EpConfig>> {
  if (nodes === 1) {
    for (let nvl = 1; nvl <= 16; nvl++) yield { nvlChunk: nvl, nvlBuffer: 256 };
    if (def.nvlChunk > 16) yield { nvlChunk: def.nvlChunk, nvlBuffer: 256 };
    return;
  }
  const ring = RING_720.has(ranks) ? 720 : 512;
  for (let nvl = 1; nvl <= 7; nvl++)
    for (let rdma = nodes === 2 ? 12 : 8; rdma <= 32; rdma += 4) yield { nvlChunk: nvl, nvlBuffer: ring, rdmaChunk: rdma, rdmaBuffer: rdmaRing(rdma) };
}

function makePayload(T: number, H: number, dtype: DispatchDtype): Uint16Array | { q: Uint8Array; scales: Float32Array } {
  if (dtype === 'bf16') {
    const x = new Uint16Array(T * H);
    for (let i = 0; i < x.length; i++) x[i] = 0x3f80 + (i % 64);
    return x;
  }
  const q = new Uint8Array(T * H);
  for (let i = 0; i < q.length; i++) q[i] = i % 0x7e;
  return { q, scales: new Float32Array((T * H) / 128).fill(1) };
}
