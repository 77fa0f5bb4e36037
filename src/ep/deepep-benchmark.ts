/**
 * @module
 * DeepEP's normal-kernel benchmark, reproduced: DeepEP's inputs, the default (or swept) configs,
 * dispatch then combine on the dispatch's handle, kernel time with the notify step excluded, and
 * bandwidth counted exactly as DeepEP's test counts it (logical bytes, same-node traffic included).
 */
import { fail } from '../errors.js';
import { createCluster } from '../cluster/cluster.js';
import { getHardwareProfile, type HardwareProfile } from '../hardware/profile.js';
import { createExpertParallel, type ExpertParallel, type DispatchResult } from './expert-parallel.js';
import { deepepTopk } from './deepep-inputs.js';
import { benchmarkRowBytes, type DispatchDtype } from './records.js';
import type { EpConfig } from './ep-config.js';

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
  /** Sweep chunk sizes as DeepEP's test does and report the best. */
  tune?: boolean;
  workers?: number;
  /** Host transport (default worker threads). */
  transport?: 'worker' | 'in-process';
  seed?: number;
  hardware?: HardwareProfile | string;
  /** Called with progress lines (for stderr). */
  onProgress?: (line: string) => void;
  /** Aborts the run. */
  signal?: AbortSignal;
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
  /** The config used (the best one when tuning). */
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
  notifyUs: number;
  dispatch: KernelFigures;
  combine: KernelFigures;
  /** Events processed by the simulation (dispatch + combine of the reported configs). */
  events: number;
  wallMs: number;
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

/** Run DeepEP's normal benchmark on a simulated cluster. */
export async function runDeepepBenchmark(o: DeepepBenchOptions): Promise<DeepepBenchResult> {
  const t0 = performance.now();
  const R = o.ranks;
  if (!Number.isInteger(R) || R < 1) fail('E_ARGUMENT', `bench deepep: --ranks must be a positive integer, got ${R}`, { option: 'ranks', value: R });
  const gpn = R >= 8 ? 8 : R;
  if (R % gpn !== 0) fail('E_ARGUMENT', `bench deepep: --ranks ${R} must be below 8 or a multiple of 8 (8 GPUs per node)`, { option: 'ranks', value: R });
  const nodes = R / gpn;
  const sms = o.sms ?? 24;
  const tokens = o.tokens ?? 4096;
  const hidden = o.hidden ?? 7168;
  const topk = o.topk ?? 8;
  const experts = o.experts ?? 256;
  const dtype = o.dtype ?? 'fp8';
  const seed = o.seed ?? 0;
  if (experts % R !== 0) fail('E_ARGUMENT', `bench deepep: --experts ${experts} must be divisible by --ranks ${R}`, { option: 'experts', value: experts });
  const hardware = typeof o.hardware === 'string' ? getHardwareProfile(o.hardware) : (o.hardware ?? getHardwareProfile('H800'));
  const cluster = await createCluster({ nodes, gpusPerNode: gpn, hardware, seed, recordTimeline: false, ...(o.workers ? { workers: o.workers } : {}), ...(o.transport ? { transport: o.transport } : {}) });
  try {
    const shape = { numRanks: R, gpusPerNode: gpn, tokens, experts, topk };
    o.onProgress?.(`building inputs for ${R} ranks`);
    const topkIdx = Array.from({ length: R }, (_, r) => deepepTopk(shape, r, seed));
    const payload = o.payload ?? false;
    const mkEp = (d?: Partial<EpConfig>, c?: Partial<EpConfig>) =>
      createExpertParallel(cluster, { numExperts: experts, hidden, topk, dtype, numSms: sms, sizesOnly: !payload, ...(d ? { dispatchConfig: d } : {}), ...(c ? { combineConfig: c } : {}) });
    const x = payload ? topkIdx.map((t) => makePayload(t.length / topk, hidden, dtype)) : undefined;
    const w = topkIdx.map((t) => new Float32Array(t.length).fill(1 / topk));
    let ep = await mkEp();
    o.onProgress?.('notify + dispatch');
    const run = o.signal ? { signal: o.signal } : {};
    let d = await ep.dispatch({ topkIdx, topkWeights: w, ...(x ? { x } : {}) }, run);
    const notifyUs = d.timing.notifyUs;
    const layouts = ep.getDispatchLayout(topkIdx);
    const rowD = benchmarkRowBytes(hidden, dtype);
    const rowC = benchmarkRowBytes(hidden, 'bf16');
    const rdmaTokens = layouts.map((l) => l.numTokensPerRdmaRank.reduce((a, b) => a + b, 0));
    const nvlRows = d.handle.numRecv;
    const dispatchFig = (dd: DispatchResult, cfg: EpConfig) =>
      figures(dd.timing.perRankUs, nodes > 1 ? rdmaTokens.map((n) => n * rowD) : null, nvlRows.map((n) => n * rowD), cfg);
    let best = dispatchFig(d, ep.dispatchConfig);
    let events = d.timing.events;
    if (o.tune) {
      for (const cfg of sweepDispatch(nodes)) {
        let e2: ExpertParallel;
        try {
          e2 = await mkEp(cfg, undefined);
        } catch {
          continue;
        }
        const dd = await e2.dispatch({ topkIdx, topkWeights: w, handle: d.handle, ...(x ? { x } : {}) }, run);
        const f = dispatchFig(dd, e2.dispatchConfig);
        o.onProgress?.(`dispatch ${JSON.stringify(cfg)}: ${f.timeUs.toFixed(1)} us`);
        if (f.timeUs < best.timeUs) best = f;
      }
      ep = await mkEp(best.config, undefined);
      d = await ep.dispatch({ topkIdx, topkWeights: w, handle: d.handle, ...(x ? { x } : {}) }, run);
    }
    o.onProgress?.('combine');
    const y = payload ? d.recv.map((rv) => rv.recvX instanceof Uint16Array ? rv.recvX : new Float32Array(rv.recvSrc.length / 2 * hidden)) : undefined;
    const combineFig = (us: number[], cfg: EpConfig) => figures(us, nodes > 1 ? rdmaTokens.map((n) => n * rowC) : null, nvlRows.map((n) => n * rowC), cfg);
    const c = await ep.combine({ handle: d.handle, ...(y ? { x: y } : {}) }, run);
    let bestC = combineFig(c.timing.perRankUs, ep.combineConfig);
    events += c.timing.events;
    if (o.tune) {
      for (const cfg of sweepCombine(nodes)) {
        let e2: ExpertParallel;
        try {
          e2 = await mkEp(best.config, cfg);
        } catch {
          continue;
        }
        const cc = await e2.combine({ handle: d.handle, ...(y ? { x: y } : {}) }, run);
        const f = combineFig(cc.timing.perRankUs, e2.combineConfig);
        o.onProgress?.(`combine ${JSON.stringify(cfg)}: ${f.timeUs.toFixed(1)} us`);
        if (f.timeUs < bestC.timeUs) bestC = f;
      }
    }
    return {
      schemaVersion: 1, mode: 'normal', ranks: R, nodes, sms, dtype, tokens, hidden, notifyUs,
      dispatch: best, combine: bestC, events, wallMs: performance.now() - t0,
    };
  } finally {
    await cluster.close();
  }
}

/** DeepEP's test sweep for dispatch: NVLink chunk 4-44 step 4 (x RDMA chunk 4-32 step 4 internode). */
function* sweepDispatch(nodes: number): Generator<Partial<EpConfig>> {
  for (let nvl = 4; nvl <= 44; nvl += 4) {
    if (nodes === 1) yield { nvlChunk: nvl };
    else for (let rdma = 4; rdma <= 32; rdma += 4) yield { nvlChunk: nvl, rdmaChunk: rdma };
  }
}

/** DeepEP's test sweep for combine: NVLink chunk 1-7 (x RDMA chunk 8-32 step 4 internode). */
function* sweepCombine(nodes: number): Generator<Partial<EpConfig>> {
  for (let nvl = 1; nvl <= 7; nvl++) {
    if (nodes === 1) yield { nvlChunk: nvl };
    else for (let rdma = 8; rdma <= 32; rdma += 4) yield { nvlChunk: nvl, rdmaChunk: rdma };
  }
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
