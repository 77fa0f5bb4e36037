/**
 * The cases of the API property test (test/property/api-coded-errors.test.ts): valid arguments for
 * every exported function, and the arbitraries that break them one value at a time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import fc from 'fast-check';
import * as api from '../../src/index.js';
import { oddValue } from '../../fuzz/targets.js';

// ---------------------------------------------------------------- odd values and mutations

/** Odd values for any argument: oddValue's, plus typed arrays, functions, symbols and bigints. */
export const oddArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: oddValue },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      new Float32Array([NaN, 1]), new Float64Array(0), new Uint8Array(3), new Int32Array([-1, 2 ** 31 - 1]), new Uint16Array(1),
      () => 1, Symbol('odd'), 10n, [NaN], [[1, 2], [3]], [-1], { length: 2 ** 31 }, new Date(0),
    ),
  },
);

type TypedArray = Float32Array | Float64Array | Uint8Array | Uint16Array | Int32Array | Uint32Array;
export const isTyped = (v: unknown): v is TypedArray => ArrayBuffer.isView(v) && !(v instanceof DataView);
const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Array.isArray(v));

/** Paths into a value (plain objects, arrays up to their first 3 elements), to depth 4. */
function pathsOf(v: unknown, p: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(p);
  // Frozen fixtures (the library's own results shared between cases) are replaced whole, never changed inside.
  if (p.length < 4 && isPlain(v) && !Object.isFrozen(v)) {
    const keys = Array.isArray(v) ? v.slice(0, 3).map((_, i) => i) : Object.keys(v);
    for (const k of keys) pathsOf((v as Record<string | number, unknown>)[k], [...p, k], out);
  }
  return out;
}

/** Same-type wrong values for a typed array: wrong length, empty, NaN-filled, another type. */
function typedOdd(t: TypedArray, pick: number): unknown {
  const C = t.constructor as new (n: number) => TypedArray;
  switch (pick % 4) {
    case 0: return new C(t.length + 1);
    case 1: return new C(0);
    case 2: return new C(t.length).fill(t instanceof Float32Array || t instanceof Float64Array ? NaN : 255);
    default: return t instanceof Float32Array ? new Float64Array(t.length) : new Float32Array(t.length);
  }
}

/**
 * Arguments for a call: the valid ones with one value (at any depth) replaced by an odd value or
 * removed, or odd values in every position.
 */
export function argsArb(base: () => unknown[], opaque: readonly number[] = []): fc.Arbitrary<unknown[]> {
  const sample = base();
  const paths = pathsOf(sample).filter((p) => p.length > 0 && !(p.length > 1 && opaque.includes(p[0] as number)));
  if (paths.length === 0) return fc.array(oddArg, { maxLength: 3 });
  const one = fc.tuple(fc.integer({ min: 0, max: paths.length - 1 }), oddArg, fc.nat(8), fc.nat()).map(([i, odd, how, pick]) => {
    const args = base();
    const path = paths[i]!;
    let o = args as unknown as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
    const key = path[path.length - 1]!;
    const cur = o[key];
    if (how === 0) delete o[key];
    else if (how === 1 && isTyped(cur)) o[key] = typedOdd(cur, pick);
    else o[key] = odd;
    return args;
  });
  return fc.oneof({ weight: 5, arbitrary: one }, { weight: 1, arbitrary: fc.array(oddArg, { maxLength: sample.length + 1 }) });
}

// ---------------------------------------------------------------- valid arguments

let dir: string;
let cluster: api.Cluster;
let tiny: api.Scenario;
let plan: api.MoePlan;
let scheduledPlan: api.MoePlan;
/** A cluster of the tiny scenario's shape (2 ranks), for its plans. */
let cluster2: api.Cluster;
let steps: api.MoeStepsResult;
let result: api.ScenarioResult;
let bench: api.DeepepBenchResult;
let trace: api.TraceDocument;
let report: api.ReportData;
let pool: api.KernelPool;

const tinyScenario = () => ({
  cluster: { nodes: 1, gpusPerNode: 2, transport: 'in-process', workers: 1 },
  model: { numExperts: 4, numGroups: 2, topkGroups: 1, topk: 2, hidden: 128, moeIntermediateSize: 32, tokensPerRank: 4 },
});
const gateConfig = () => ({ scoreFunc: 'sigmoid', numExperts: 8, topk: 2, numGroups: 4, topkGroups: 2, routeScale: 1 });
/** A hardware profile the arbitraries may change (the built-ins are frozen). */
const hw = () => ({ ...api.H800, peakTflops: { ...api.H800.peakTflops } });
const placement = () => api.contiguousPlacement(8, 4, 2);
const layout = () => api.noRedundancyLayout(8, 4, 2);
const load2d = () => [[4, 1, 3, 2, 5, 1, 2, 2], [1, 1, 1, 1, 2, 2, 2, 2]];
const topkRows = () => [[0, 1], [2, 3], [4, 7], [6, 5]];
const eplbPlan = () => api.rebalanceExperts(load2d(), 8, 4, 2, 4);
const f32 = (n: number, f = (i: number) => ((i * 37) % 11) / 11 - 0.5) => Float32Array.from({ length: n }, (_, i) => f(i));
const weights = () => ({ hidden: 128, intermediate: 128, gate: f32(128 * 128), up: f32(128 * 128), down: f32(128 * 128) });
const epCfg = () => ({ numSms: 4, nvlChunk: 2, nvlBuffer: 8, rdmaChunk: 2, rdmaBuffer: 8 });
const schedule = () => api.buildSchedule('serial', 1, 132, 24);
const scheduleInput = () => {
  const cfg = api.defaultEpConfigs(4, 24, 1);
  return {
    slots: Array.from({ length: 4 }, (_, r) => Int32Array.from({ length: 8 }, (_, i) => (r * 8 + i) % 8)), slotsPerRank: 2, topk: 2, hidden: 128,
    moeIntermediate: 64, routedExperts: 8, sharedExperts: 1, format: 'fp8', dispatchConfig: cfg.dispatch, combineConfig: cfg.combine, commSms: 24, promptLen: 64,
  };
};
const phase = () => ({ step: 1, phase: 'dispatch', startUs: 0, endUs: 10, records: [], compute: [[0, 5]] });
const benchOpts = () => ({ ranks: 2, tokens: 4, hidden: 128, topk: 2, experts: 4, sms: 2, dtype: 'bf16', transport: 'in-process', workers: 1 });
const estimate = () => api.estimateDeepepBenchmark({ ranks: 2, tokens: 8, hidden: 128, topk: 2, experts: 8, sms: 4, dtype: 'bf16' });
const streamInput = () => ({ rank: 0, smCount: 8, streams: [{ name: 'comm', sms: 2, launches: [{ id: 'a', waits: [] }] }, { name: 'compute', sms: 6, launches: [{ id: 'b', waits: ['a'] }] }] });
const tracePath = () => join(dir, `t${Math.floor(Math.random() * 1e9)}.json`);

export interface Case {
  /** Valid arguments (a fresh copy per call). */
  args: () => unknown[];
  /** How to call it (default: the export with the arguments). */
  call?: (a: unknown[]) => unknown;
  /** Runs (default 60; fewer for the ones that run a cluster). */
  runs?: number;
  /**
   * Arguments that are the library's own results (a plan, phases, a run or benchmark result, a
   * report): replaced whole, never changed inside (their insides are not user input; the functions
   * check they were made by the library).
   */
  opaque?: number[];
}
const ctor = (C: new (...a: never[]) => unknown) => (a: unknown[]) => new C(...(a as never[]));
/**
 * Arguments with an odd string in place of the path a function writes (argument 0) moved into the
 * temporary directory: a relative path would otherwise be written in the repository.
 */
const inDir = (a: unknown[]): unknown[] => (typeof a[0] === 'string' && !isAbsolute(a[0]) ? [join(dir, a[0]), ...a.slice(1)] : a);

export const CASES: Record<string, Case> = {
  // errors
  ExpertmeshError: { args: () => ['E_ARGUMENT', 'message', { a: 1 }], call: ctor(api.ExpertmeshError) },
  fromWireError: { args: () => [{ code: 'E_ARGUMENT', message: 'm', data: {} }] },
  // routing
  validateGateConfig: { args: () => [gateConfig()] },
  gateLogits: { args: () => [f32(2 * 4), f32(8 * 4), 2, 4, 8] },
  gate: { args: () => [f32(2 * 4), f32(8 * 4), null, 2, 4, gateConfig()] },
  gateFromLogits: { args: () => [f32(2 * 8), f32(8), 2, gateConfig(), { placement: placement(), maxNodes: 1 }] },
  contiguousPlacement: { args: () => [8, 4, 2] },
  placementFromSlots: { args: () => [[0, 1, 2, 3, 4, 5, 6, 7], 8, 4, 2] },
  validatePlacement: { args: () => [placement(), 8] },
  getDispatchLayout: { args: () => [Int32Array.from([0, 1, 2, 7]), 2, 8, { numRanks: 4, gpusPerNode: 2 }] },
  biasBalancingStep: { args: () => [new Float64Array(8), 0.01, 8, () => [Int32Array.from([0, 1, 2, 3])]] },
  expertLoad: { args: () => [Int32Array.from([0, 1, 1, 7]), 8] },
  maxOverMean: { args: () => [[1, 2, 3]] },
  simulateBiasBalancing: { args: () => [{ config: gateConfig(), steps: 3, tokensPerStep: 16, gamma: 0.01, skew: 1, seed: 1 }] },
  updateBias: { args: () => [new Float64Array(4), [1, 2, 3, 4], 0.01] },
  // balancer
  balancedPacking: { args: () => [load2d(), 4] },
  replicateExperts: { args: () => [load2d(), 10] },
  rebalanceExperts: { args: () => [load2d(), 8, 4, 2, 4] },
  slotGpu: { args: () => [layout(), 3] },
  gpuNode: { args: () => [layout(), 3] },
  layerLayout: { args: () => [eplbPlan(), 1, 4, 2] },
  layoutFromPhy2log: { args: () => [[0, 1, 2, 3, 4, 5, 6, 7], 8, 4, 2] },
  noRedundancyLayout: { args: () => [8, 4, 2] },
  layoutPlacement: { args: () => [layout()] },
  expectedGpuLoads: { args: () => [layout(), [1, 2, 3, 4, 5, 6, 7, 8]] },
  imbalance: { args: () => [[1, 2, 3]] },
  routeToReplicas: { args: () => [topkRows(), layout(), { policy: 'round-robin' }] },
  routeDynamic: { args: () => [topkRows(), layout(), { activePerGpu: 2 }] },
  withSharedExpert: { args: () => [topkRows(), 8] },
  withSharedExpertLoad: { args: () => [load2d(), 16] },
  ExpertLoadRecorder: { args: () => [2, 8, 4], call: ctor(api.ExpertLoadRecorder) },
  weightMoveCost: { args: () => [[[0, 1, 2, 3, 4, 5, 6, 7]], [[1, 0, 2, 3, 4, 5, 6, 7]], 4, 2, 1024] },
  PeriodicRebalancer: {
    args: () => [{ numLayers: 2, numExperts: 8, numReplicas: 8, numGroups: 4, numNodes: 2, numGpus: 4, intervalSteps: 2, windowSteps: 2, bytesPerExpert: 1024 }],
    call: ctor(api.PeriodicRebalancer),
  },
  loadsFromRecords: { args: () => [[{ layer: 0, expert: 1, tokens: 3 }], { numLayers: 1, numExperts: 4 }] },
  loadTraceFromJson: { args: () => ['[{"layer":0,"expert":1,"tokens":3}]', { numLayers: 1, numExperts: 2 }] },
  loadTraceFromCsv: { args: () => ['layer,expert,tokens\n0,1,3\n', { numLayers: 1, numExperts: 2 }] },
  loadTraceToJson: { args: () => [load2d()] },
  loadTraceToCsv: { args: () => [load2d()] },
  zipfPopularity: { args: () => [2, 8, 1.1, 7] },
  sampleTopk: { args: () => [[0.5, 0.25, 0.125, 0.125], 4, 2, 7] },
  countExpertTokens: { args: () => [topkRows(), 8] },
  // kernels
  encodeE4M3: { args: () => [1.5, { overflow: 'saturate' }] },
  decodeE4M3: { args: () => [0x38] },
  encodeE5M2: { args: () => [1.5, { overflow: 'saturate' }] },
  decodeE5M2: { args: () => [0x3c] },
  encodeE4M3Array: { args: () => [f32(4), { overflow: 'saturate' }] },
  decodeE4M3Array: { args: () => [new Uint8Array(4), new Float32Array(4)] },
  encodeE5M2Array: { args: () => [f32(4), { overflow: 'saturate' }] },
  decodeE5M2Array: { args: () => [new Uint8Array(4), new Float32Array(4)] },
  toBF16Bits: { args: () => [1.5] },
  fromBF16Bits: { args: () => [0x3fc0] },
  roundBF16: { args: () => [1.1] },
  toBF16Array: { args: () => [f32(4), new Uint16Array(4)] },
  fromBF16Array: { args: () => [new Uint16Array(4), new Float32Array(4)] },
  roundBF16Array: { args: () => [f32(4)] },
  quantizePerTile: { args: () => [f32(2 * 128), 2, 128] },
  quantizePerBlock: { args: () => [f32(128 * 128), 128, 128] },
  tileToColumnQuant: { args: () => [new Uint8Array(2 * 128), new Float32Array(2).fill(1), 2, 128] },
  dequantizePerTile: { args: () => [new Uint8Array(2 * 128), new Float32Array(2).fill(1), 2, 128] },
  dequantizePerBlock: { args: () => [new Uint8Array(128 * 128), new Float32Array(1).fill(1), 128, 128] },
  fp8Gemm: { args: () => [new Uint8Array(2 * 128), new Float32Array(2).fill(1), new Uint8Array(128 * 128), new Float32Array(1).fill(1), 2, 128, 128] },
  f32Gemm: { args: () => [f32(2 * 3), f32(4 * 3), 2, 4, 3] },
  swigluInPlace: { args: () => [f32(4), f32(4)] },
  expertFfn: { args: () => [f32(2 * 128), 2, weights()] },
  expertFfnFp8: { args: () => [f32(2 * 128), 2, api.quantizeExpertWeights(weights())] },
  quantizeExpertWeights: { args: () => [weights()] },
  combine: { args: () => [f32(2 * 2 * 4), 2, 2, 4, { weights: f32(4, () => 0.5) }] },
  kernelTimeUs: { args: () => [hw(), { flops: 1e9, bytes: 1e6, format: 'fp8' }, { sms: 100 }] },
  gemmCost: { args: () => [{ m: 128, n: 256, k: 512, format: 'fp8' }] },
  gemmTimeUs: { args: () => [hw(), { m: 128, n: 256, k: 512, format: 'fp8' }] },
  measuredGemmUs: { args: () => [hw(), { m: 128, n: 256, k: 512, format: 'fp8' }] },
  planGroupedGemm: { args: () => [hw(), { ms: [128, 64], n: 256, k: 512, format: 'fp8' }] },
  groupedGemmTimeUs: { args: () => [hw(), { ms: [128, 64], n: 256, k: 512, format: 'fp8' }] },
  expertTimeUs: { args: () => [hw(), { tokens: 64, hidden: 256, intermediate: 128, format: 'fp8' }] },
  groupedExpertsTimeUs: { args: () => [hw(), { tokensPerExpert: [64, 32], hidden: 256, intermediate: 128, format: 'fp8' }] },
  mlaPrefillAttentionUs: { args: () => [hw(), { tokens: 64, promptLen: 128 }] },
  mlaDecodeAttentionUs: { args: () => [hw(), { tokens: 8, contextLen: 256 }] },
  layerComputeUs: { args: () => [hw(), { phase: 'prefill', tokens: 64, expertTokens: [32, 16], layer: 'moe' }] },
  createKernelPool: { args: () => [{ threads: 1, inlineBelowFlops: Infinity }], call: (a) => api.createKernelPool(a[0] as never).destroy() },
  KernelPool: { args: () => [{ threads: 1, inlineBelowFlops: Infinity }], call: (a) => new api.KernelPool(a[0] as never).destroy() },
  'KernelPool#quantizePerTile': { args: () => [f32(2 * 128), 2, 128], call: (a) => pool.quantizePerTile(...(a as [Float32Array, number, number])) },
  runKernelTask: { args: () => [{ op: 'f32Gemm', a: f32(2 * 3), b: f32(4 * 3), m: 2, n: 4, k: 3 }] },
  // hardware
  getHardwareProfile: { args: () => ['H800'] },
  hardwareProfileNames: { args: () => [] },
  validateHardwareProfile: { args: () => [{ ...api.H800, peakTflops: { ...api.H800.peakTflops } }, 'here'] },
  builtInHardwareSources: { args: () => ['H100'] },
  resolveHardware: { args: () => [{ extends: 'H100', ibGBps: { value: 25, source: 's' } }, 'here'] },
  loadHardwareProfile: { args: () => [{ extends: 'H800', nvlinkGBps: 100 }] },
  // cluster
  createCluster: { args: () => [{ nodes: 1, gpusPerNode: 2, hardware: 'H800', transport: 'in-process', workers: 1, timeoutMs: 5000, maxVirtualUs: 1e6 }], runs: 40 },
  Cluster: { args: () => [{ nodes: 1, gpusPerNode: 2, hardware: 'H800', transport: 'in-process', workers: 1 }], call: async (a) => void (await new api.Cluster(a[0] as never).close()), runs: 40 },
  'Cluster#register': { args: () => [1, 'r', 64], call: (a) => { cluster.register(...(a as [number, string, number])); cluster.unregister(a[0] as number, a[1] as string); } },
  'Cluster#snapshot': { args: () => [1], call: (a) => cluster.snapshot(a[0] as number) },
  // A run whose operation fails leaves its ranks failed: each call on a cluster of its own.
  'Cluster#run': {
    args: () => ['traffic', { perRank: [[], []], expected: [0, 0] }],
    call: async (a) => {
      const c = await api.createCluster({ nodes: 1, gpusPerNode: 2, hardware: 'H800', transport: 'in-process', workers: 1 });
      try {
        for (let r = 0; r < 2; r++) c.register(r, 'traffic.signal', 4);
        return await c.run(a[0] as string, a[1]);
      } finally {
        await c.close();
      }
    },
    runs: 20,
  },
  createStreamMachine: { args: () => [2] },
  checkStreams: { args: () => [streamInput()] },
  streamStates: { args: () => [{ value: 'drained', context: { streams: [{ name: 'comm' }] } }] },
  // schedule
  buildSchedule: { args: () => ['two-batch-overlap', 2, 132, 24] },
  serialSchedule: { args: () => [2, 132] },
  twoBatchOverlapSchedule: { args: () => [2, 132, 24] },
  streamSpecs: { args: () => [schedule()] },
  kernelId: { args: () => [0, 1, 'dispatch'] },
  scopeOf: { args: () => [0, 1] },
  runSchedule: { args: () => [cluster, schedule(), scheduleInput()], call: (a) => api.runSchedule(...(a as Parameters<typeof api.runSchedule>)), runs: 20 },
  simulatedFigures: { args: () => [schedule(), [], 2, 0, 100] },
  stepFigures: { args: () => [{ layers: 2, makespanUs: 0, layerUs: 1000, commUs: 800, exposedCommUs: 200, exposedCommUsPerMb: [], smBusyShare: {} }, 500, 16384, 8] },
  // expert parallel
  allToAll: { args: () => [cluster, { bytesPerPair: 64, seed: 1, sizesOnly: true }], runs: 30 },
  runTraffic: { args: () => [cluster, [{ src: 0, dst: 1, bytes: 64, atUs: 0 }]], runs: 30 },
  createExpertParallel: { args: () => [cluster, { numExperts: 8, hidden: 128, topk: 2, dtype: 'bf16', numSms: 4, sizesOnly: true }], runs: 30 },
  ExpertParallel: { args: () => [cluster, { numExperts: 8, hidden: 128, topk: 2, dtype: 'bf16', numSms: 4, sizesOnly: true }], call: ctor(api.ExpertParallel), runs: 30 },
  defaultEpConfigs: { args: () => [16, 24, 2] },
  resolveEpConfigs: { args: () => [16, 2, 24, { dispatch: { nvlChunk: 4 } }] },
  validateEpConfig: { args: () => [epCfg(), 2, 'dispatch'] },
  combineWarpsPerForwarder: { args: () => [2] },
  deepepConfigRanks: { args: () => [] },
  dispatchRecordLayout: { args: () => [128, 2, 'fp8'] },
  combineRecordBytes: { args: () => [128] },
  benchmarkRowBytes: { args: () => [128, 'bf16'] },
  estimateDeepepBenchmark: { args: () => [{ ranks: 2, tokens: 8, hidden: 128, topk: 2, experts: 8, sms: 4, dtype: 'bf16' }] },
  runDeepepBenchmark: { args: () => [benchOpts()], runs: 30 },
  runDeepepSmsSweep: { args: () => [benchOpts(), [2, 4]], runs: 20 },
  lowLatencyRdmaSizeHint: { args: () => [128, 7168, 8, 288] },
  lowLatencySizes: { args: () => [128, 7168, 288] },
  lowLatencyLaunch: { args: () => [288, 132] },
  isLowLatencyDispatch: { args: () => [{ kind: 'low-latency-dispatch' }] },
  lowLatencyTopk: { args: () => [4, 8, 2, 0, 1] },
  lowLatencyPairBytes: { args: () => [128, 'dispatch', 'fp8'] },
  runLowLatencyBenchmark: { args: () => [{ ranks: 2, tokens: 4, hidden: 128, topk: 2, experts: 4, transport: 'in-process', workers: 1 }], runs: 20 },
  formatLowLatencyResult: {
    args: () => [{
      ranks: 2, nodes: 1, tokens: 4, hidden: 128, topk: 2, experts: 4, expertsSource: 'given', dtype: 'fp8', hardware: 'H800', rdmaBytes: 4096, events: 10, wallMs: 1,
      launch: { numSms: 4, numWarpGroups: 1, warpsPerGroup: 32 },
      dispatch: { timeUs: 1, GBps: 1, minTimeUs: 1, maxTimeUs: 1, sendUs: null, recvUs: null },
      combine: { timeUs: 1, GBps: 1, minTimeUs: 1, maxTimeUs: 1, sendUs: 0.5, recvUs: 0.5 },
    }],
  },
  estimateProblems: { args: () => [estimate()] },
  formatEstimate: { args: () => [estimate()] },
  // timeline
  timelineDigest: { args: () => [new Float64Array(api.TIMELINE_FIELDS.length)] },
  timelineRecords: { args: () => [new Float64Array(api.TIMELINE_FIELDS.length)] },
  // scenario
  parseScenario: { args: () => [tinyScenario(), 'here'] },
  loadScenario: { args: () => [tinyScenario()] },
  checkScenarioOf: { args: () => [api.loadScenario(tinyScenario())] },
  planScenario: { args: () => [api.loadScenario(tinyScenario())] },
  estimateScenario: { args: () => [api.loadScenario(tinyScenario())] },
  dispatchBytesPerToken: { args: () => [api.loadScenario(tinyScenario())] },
  combineBytesPerToken: { args: () => [api.loadScenario(tinyScenario())] },
  runScenario: { args: () => [api.loadScenario(tinyScenario())], runs: 20 },
  runMoeSteps: { opaque: [1], args: () => [cluster2, plan], call: (a) => api.runMoeSteps(...(a as Parameters<typeof api.runMoeSteps>)), runs: 20 },
  runScheduledSteps: { opaque: [1], args: () => [cluster2, scheduledPlan], call: (a) => api.runScheduledSteps(...(a as Parameters<typeof api.runScheduledSteps>)), runs: 20 },
  routingFigures: { opaque: [0], args: () => [plan] },
  planLoads: { opaque: [0], args: () => [plan] },
  deepepBandwidth: { opaque: [0, 1], args: () => [plan, [...steps.phases], 0] },
  // trace
  resolveTraceOptions: { args: () => [{ detail: 'full', every: 2, maxLanes: 4, ranks: [0] }] },
  TraceBuilder: { args: () => [4, 2, { detail: 'sampled' }], call: ctor(api.TraceBuilder) },
  'TraceBuilder#phase': { args: () => [phase()], call: (a) => new api.TraceBuilder(4, 2).phase(a[0] as never) },
  TraceWriter: { args: () => [tracePath()], call: (a) => new api.TraceWriter(inDir(a)[0] as string).abandon() },
  TraceRecorder: { args: () => [tracePath(), { numRanks: 4, gpusPerNode: 2 }, { detail: 'sampled' }], call: (a) => new api.TraceRecorder(...(inDir(a) as [string, api.TraceShape])).close() },
  writeTrace: { args: () => [tracePath(), { numRanks: 4, gpusPerNode: 2, phases: [phase()] }], call: (a) => api.writeTrace(...(inDir(a) as Parameters<typeof api.writeTrace>)) },
  validateTrace: { args: () => [structuredClone(trace.traceEvents)] },
  summarizeTrace: { args: () => [structuredClone(trace)] },
  readTraceFile: { args: () => [join(dir, 'trace.json')] },
  // report
  runReport: { opaque: [0], args: () => [result, structuredClone(trace), [{ heading: 'a', text: 'b' }]] },
  traceReport: { args: () => [structuredClone(trace), 'name', [{ heading: 'a', text: 'b' }]] },
  benchReport: { args: () => [[structuredClone(bench)], []] },
  smSweepRows: { args: () => [[structuredClone(bench)]] },
  renderReportHtml: { args: () => [structuredClone(report)], runs: 15 },
  writeReport: { args: () => [join(dir, 'r.html'), structuredClone(report)], call: (a) => api.writeReport(...(inDir(a) as Parameters<typeof api.writeReport>)), runs: 15 },
  reportPlots: { args: () => [structuredClone(report)] },
};

/** Freeze the plain parts of a value (typed arrays cannot be frozen and are left as they are). */
function deepFreeze<T>(v: T): T {
  if (isPlain(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

export async function setUpFixtures(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'expertmesh-api-'));

  cluster = await api.createCluster({ nodes: 1, gpusPerNode: 4, hardware: 'H800', transport: 'in-process', workers: 1 });
  tiny = api.loadScenario(tinyScenario());
  plan = api.planScenario(tiny);
  scheduledPlan = api.planScenario(api.loadScenario({ ...tinyScenario(), schedule: { kind: 'serial', layers: 1, promptLen: 4 } }));
  cluster2 = await api.createCluster({ nodes: 1, gpusPerNode: 2, hardware: 'H800', transport: 'in-process', workers: 1 });
  steps = await (async () => {
    const c = await api.createCluster({ nodes: 1, gpusPerNode: 2, hardware: 'H800', transport: 'in-process', workers: 1 });
    try {
      return await api.runMoeSteps(c, plan);
    } finally {
      await c.close();
    }
  })();
  result = await api.runScenario(tiny);
  bench = deepFreeze(await api.runDeepepBenchmark(benchOpts() as never));
  api.writeTrace(join(dir, 'trace.json'), { numRanks: 2, gpusPerNode: 2, phases: steps.phases });
  trace = api.readTraceFile(join(dir, 'trace.json'));
  report = api.traceReport(trace, 'tiny', []);
  pool = api.createKernelPool({ threads: 1, inlineBelowFlops: Infinity, inlineBelowBytes: Infinity });
}

export async function tearDownFixtures(): Promise<void> {
  await cluster?.close();
  await cluster2?.close();
  await pool?.destroy();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A call whose operation failed in a task leaves ranks failed (as a real cluster does): the shared
 * clusters are replaced then, so the next call starts from a healthy one.
 */
async function healClusters(): Promise<void> {
  const failed = (c: api.Cluster) => Array.from({ length: c.numRanks }, (_, r) => c.snapshot(r).value).includes('failed');
  if (failed(cluster)) {
    await cluster.close();
    cluster = await api.createCluster({ nodes: 1, gpusPerNode: 4, hardware: 'H800', transport: 'in-process', workers: 1 });
  }
  if (failed(cluster2)) {
    await cluster2.close();
    cluster2 = await api.createCluster({ nodes: 1, gpusPerNode: 2, hardware: 'H800', transport: 'in-process', workers: 1 });
  }
}

/** One call, bounded in wall-clock time: a hang fails as loudly as a crash. */
export async function bounded(call: () => unknown, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not return within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(call), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const show = (a: unknown[]) => a.map((x) => {
  try {
    return typeof x === 'function' ? 'fn' : isTyped(x) ? `${x.constructor.name}(${x.length})` : String(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).slice(0, 100);
  } catch {
    return Object.prototype.toString.call(x);
  }
}).join(', ');


/**
 * Check one case: its valid arguments work, and every broken form returns or throws a coded error
 * (each call bounded in wall-clock time).
 */
export async function checkCase(name: string, c: Case, numRuns = c.runs ?? 60): Promise<void> {
  const fn = (api as Record<string, unknown>)[name] as ((...a: unknown[]) => unknown) | undefined;
  const call = c.call ?? ((a: unknown[]) => fn!(...a));
  await bounded(() => call(c.args()), 30_000);
  await fc.assert(fc.asyncProperty(argsArb(c.args, c.opaque), async (a) => {
    let r: unknown;
    try {
      r = await bounded(() => call(a), 30_000);
    } catch (e) {
      await healClusters();
      if (!api.isExpertmeshError(e)) throw new Error(`${name}(${show(a)}) threw an uncoded ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      if (!api.ERROR_CODES.includes(e.code) || e.message.length === 0) throw new Error(`${name}(${show(a)}) threw code ${e.code} '${e.message}'`);
      return;
    }
    if (r instanceof api.Cluster) await r.close();
  }), { numRuns: Number(process.env['API_PROPERTY_RUNS'] ?? numRuns), seed: Number(process.env['API_PROPERTY_SEED'] ?? 19) });
}
