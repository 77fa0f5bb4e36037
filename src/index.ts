/**
 * @module
 * expertmesh: an actor-model runtime that simulates expert-parallel Mixture-of-Experts clusters.
 * This is the one module users import from.
 */
// Every operation registers itself in the operation registry: in-process hosts find them there,
// as host threads do through their entry shell (host-worker.ts).
import './ops.js';
export { ExpertmeshError, isExpertmeshError, toWireError, fromWireError, ERROR_CODES } from './errors.js';
export type { ErrorCode, WireError } from './errors.js';
export * from './routing/index.js';
export * from './balancer/index.js';
export * from './kernels/index.js';
export { H800, H100, H200, getHardwareProfile, hardwareProfileNames, validateHardwareProfile, builtInHardwareSources, HARDWARE_FIELDS } from './hardware/profile.js';
export type { HardwareProfile, PeakTflops, HardwareField, HardwareSources } from './hardware/profile.js';
export { resolveHardware, loadHardwareProfile } from './hardware/profile-file.js';
export type { ResolvedHardware, HardwareSpec } from './hardware/profile-file.js';
export { createCluster, Cluster } from './cluster/cluster.js';
export type { ClusterEvents, OpResult, RunOptions } from './cluster/cluster.js';
export type { ClusterConfig, ResolvedClusterConfig } from './cluster/config.js';
/** How link ports share their bandwidth: `'fluid'` (default) or `'message'` (see {@link ClusterConfig.linkSharing}). */
export { LINK_SHARING_MODES } from './sim/message-port.js';
export type { LinkSharing } from './sim/message-port.js';
export type { RankSnapshot, GpuStateValue } from './actors/gpu-machine.js';
export type { HostRunStats } from './actors/host-messages.js';
export type { HostHeapProfile, HeapSite, HostHeapSamplingOptions } from './actors/heap-sampler.js';
export { createStreamMachine, checkStreams, streamStates } from './actors/stream-machine.js';
export type { StreamSpec, StreamLaunch, StreamMachineInput, StreamEvent, LaunchParams, StreamMachine } from './actors/stream-machine.js';
export type { StreamsRunArgs, StreamsRunResult, KernelWork, KernelSpan } from './actors/stream-runner.js';
export * from './schedule/index.js';
export { allToAll } from './ep/all-to-all.js';
export type { AllToAllOptions, AllToAllResult } from './ep/all-to-all.js';
export type { Region } from './transport/memory.js';
export { runTraffic } from './ep/traffic.js';
export type { TrafficTransfer, TrafficResult } from './ep/traffic.js';
export { TIMELINE_FIELDS, timelineDigest, timelineRecords } from './sim/timeline.js';
export type { TimelineRecord } from './sim/timeline.js';
export { PATH_NAMES, OP_NAMES } from './transport/protocol.js';
export * from './scenario/index.js';
export * from './trace/index.js';
export { createExpertParallel, ExpertParallel } from './ep/expert-parallel.js';
export type {
  ExpertParallelOptions, KernelTiming, NotifyRunStats, DispatchHandle, DispatchInput, DispatchResult, CombineInput, CombineResult,
  MoeLayerInput, MoeLayerResult,
} from './ep/expert-parallel.js';
export type { DispatchX, ReceivedTokens } from './ep/ep-records-io.js';
export type { Expert, ExpertsResult, RunExpertsOptions } from './ep/experts.js';
export { defaultEpConfigs, resolveEpConfigs, validateEpConfig, combineWarpsPerForwarder, deepepConfigRanks, DEFAULT_NUM_SMS } from './ep/normal/ep-config.js';
export type { EpConfig, EpConfigSource } from './ep/normal/ep-config.js';
export { dispatchRecordLayout, combineRecordBytes, benchmarkRowBytes } from './ep/records.js';
export type { DispatchDtype, RecordLayout } from './ep/records.js';
export { runDeepepBenchmark, runDeepepSmsSweep, estimateDeepepBenchmark } from './ep/normal/deepep-benchmark.js';
/**
 * DeepEP's low-latency (decode) kernels: `createExpertParallel(cluster, { ..., lowLatency: {
 * maxDispatchTokensPerRank } })` enables `lowLatencyDispatch` / `lowLatencyCombine` and `runExperts`
 * on the packed layout (docs/low-latency.md). `lowLatencyRdmaSizeHint(tokens, hidden, ranks,
 * experts)` is DeepEP's `get_low_latency_rdma_size_hint`; `lowLatencyLaunch(experts, sms)` its
 * launch geometry; `runLowLatencyBenchmark` is `expertmesh bench deepep --mode low-latency`.
 */
export { lowLatencyRdmaSizeHint, lowLatencySizes, lowLatencyLaunch, LL_MAX_TOKENS_PER_RANK } from './ep/low-latency/layout.js';
export type { LowLatencySizes, LowLatencyLaunch } from './ep/low-latency/layout.js';
export { isLowLatencyDispatch } from './ep/low-latency/low-latency-ep.js';
export type {
  LowLatencyOptions, LowLatencyDispatchInput, LowLatencyDispatchResult, LowLatencyRecv, LowLatencyTiming, LowLatencyHandle,
  LowLatencyCombineInput, LowLatencyCombineResult,
} from './ep/low-latency/low-latency-ep.js';
export { runLowLatencyBenchmark, lowLatencyTopk, lowLatencyPairBytes, formatLowLatencyResult } from './ep/low-latency/benchmark.js';
export type { LowLatencyBenchOptions, LowLatencyBenchResult, LowLatencyKernelFigures } from './ep/low-latency/benchmark.js';
export { estimateScenarioRun as estimateScenario } from './scenario/estimate.js';
export { formatEstimate, estimateProblems } from './cluster/host-limits.js';
export type { RunEstimate, HostBytes } from './cluster/host-limits.js';
export { SHAPE_RULES, DEEPEP_MAX_GPUS_PER_NODE, NVLINK_DOMAIN_MAX_GPUS } from './hardware/shape-rules.js';
export type { ShapeRule } from './hardware/shape-rules.js';
export type { DeepepBenchOptions, DeepepBenchResult, HostBenchStats, KernelFigures, NormalBenchPhases } from './ep/normal/deepep-benchmark.js';
export { SAMPLE_STRIDE, SERIES_NAMES, ACTIVITY_STRIDE } from './sim/timeline.js';
export { ROLE_NAMES, SM_NAMES } from './ep/sm-clock.js';
export { runReport, traceReport, benchReport, smSweepRows, renderReportHtml, writeReport, reportPlots } from './report/index.js';
export type { ReportData, ReportText, PhaseRow, UtilisationRow, RingRow, SmSweepRow, KernelRow, PlotSpec } from './report/index.js';
export type { RunLoads, DeepepBandwidth } from './scenario/result.js';
export { planLoads, deepepBandwidth } from './scenario/result.js';
