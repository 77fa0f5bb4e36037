/**
 * @module
 * One schedule across the cluster as one operation: every rank's stream machine runs the same
 * schedule (`streams.run`), compute kernels as timed work on their stream's SMs (the compute model,
 * for the SMs the partition gives them) and dispatch/combine as DeepEP's kernels on the
 * communication SMs, each micro-batch and layer with its own regions (scope `L<l>.mb<m>.`).
 *
 * Sizes-only: the kernels move no payload bytes (same tasks, chunks and flow control). The notify
 * step runs once per micro-batch before the schedule (its counts are the same for every layer of a
 * step) and is reported apart.
 */
import { fail } from '../errors.js';
import type { Cluster, RunOptions } from '../cluster/cluster.js';
import type { StreamsRunArgs, StreamsRunResult, KernelWork, KernelSpan } from '../actors/stream-runner.js';
import { notifyStride, ringRegionSizes, ringNames, R_NOTIFY, R_NOTIFY_OUT, R_NOTIFY_SIG, R_TOPK, type EpArgs } from '../ep/ep-args.js';
import { validateEpConfig, type EpConfig } from '../ep/normal/ep-config.js';
import { checkFormat, groupedExpertsTimeUs, type ComputeFormat } from '../kernels/compute-model.js';
import { layerComputeUs, type LayerDims } from '../kernels/layer-compute.js';
import { DEEPSEEK_V3_MLA } from '../kernels/mla-attention.js';
// The operations a schedule runs (in-process hosts find them in the registry).
import '../actors/stream-runner.js';
import '../ep/normal/notify-op.js';
import '../ep/normal/intranode-dispatch-op.js';
import '../ep/normal/intranode-combine-op.js';
import '../ep/normal/internode-dispatch-op.js';
import '../ep/normal/internode-combine-op.js';
import { checkSchedule, COMM_KINDS, streamSpecs, type KernelKind, type Schedule } from './schedule.js';
import { checkArray, checkInt, checkObject, checkTypedArray } from '../validate.js';
import { checkCluster } from '../cluster/cluster.js';

/** The model and routing one scheduled step runs. */
export interface ScheduledStepInput {
  /** Per rank `[tokens][topk]` physical expert slots (-1 for none); slots are contiguous per rank. */
  slots: Int32Array[];
  /** Expert slots per rank. */
  slotsPerRank: number;
  topk: number;
  hidden: number;
  moeIntermediate: number;
  /** Routed experts of the model (the gate's outputs). */
  routedExperts: number;
  sharedExperts: number;
  format: ComputeFormat;
  /** Kernel configs of dispatch and combine; their `numSms` is replaced by the communication SMs. */
  dispatchConfig: EpConfig;
  combineConfig: EpConfig;
  /** SMs dispatch and combine run on. */
  commSms: number;
  /** Prompt length the tokens are split into for attention (reference assumption: 4096). */
  promptLen: number;
}

/** One kernel as it ran: its schedule entry plus where and when. */
export interface ScheduledKernelRun extends KernelSpan {
  rank: number;
  kind: KernelKind;
  layer: number;
  mb: number;
}

/** What running a schedule gives back. */
export interface ScheduleRun {
  /** Every kernel on every rank, rank by rank in completion order. */
  kernels: ScheduledKernelRun[];
  startUs: number;
  endUs: number;
  /** The notify step of every micro-batch (before the schedule), us. */
  notifyUs: number;
  /** Per micro-batch and rank, compute-model time of each compute kernel kind, us. */
  computeUs: Array<Record<'attn' | 'gate' | 'shared' | 'experts', number[]>>;
  /** Tokens per rank of each micro-batch. */
  tokensPerMb: number[][];
}

/** Region-name prefix of a layer's micro-batch. */
export const scopeOf = (layer: number, mb: number): string => `L${checkInt(layer, 'layer')}.mb${checkInt(mb, 'mb')}.`;

/** Split each rank's tokens into `n` contiguous micro-batches (the first ones one token larger). */
function splitTokens(slots: Int32Array[], topk: number, n: number): Int32Array[][] {
  return Array.from({ length: n }, (_, m) =>
    slots.map((s) => {
      const T = s.length / topk;
      const base = Math.floor(T / n), extra = T % n;
      const lo = m * base + Math.min(m, extra);
      const len = base + (m < extra ? 1 : 0);
      return s.subarray(lo * topk, (lo + len) * topk);
    }),
  );
}

/** Rows each physical slot receives from `slots`. */
function slotLoads(slots: Int32Array[], numSlots: number): Int32Array {
  const load = new Int32Array(numSlots);
  for (const s of slots) for (let i = 0; i < s.length; i++) if (s[i]! >= 0) load[s[i]!]!++;
  return load;
}

/**
 * Run `schedule` once on every rank of `cluster` for the routing of `input` (sizes-only).
 * @throws ExpertmeshError `E_CONFIG` for a bad schedule or kernel config, and whatever the run fails with.
 */
export async function runSchedule(cluster: Cluster, schedule: Schedule, input: ScheduledStepInput, run: RunOptions = {}): Promise<ScheduleRun> {
  checkCluster(cluster, 'runSchedule');
  checkSchedule(schedule);
  checkObject(input, 'input');
  const R = cluster.numRanks;
  const slots = checkArray(input.slots, 'input.slots');
  for (let r = 0; r < slots.length; r++) checkTypedArray(slots[r], `input.slots[${r}]`, Int32Array);
  for (const k of ['slotsPerRank', 'topk', 'hidden', 'moeIntermediate', 'routedExperts', 'commSms', 'promptLen'] as const) checkInt(input[k], `input.${k}`, 1);
  checkInt(input.sharedExperts, 'input.sharedExperts', 0);
  checkFormat(input.format);
  checkObject(input.dispatchConfig, 'input.dispatchConfig');
  checkObject(input.combineConfig, 'input.combineConfig');
  const nodes = cluster.config.nodes;
  const gpn = cluster.config.gpusPerNode;
  const hw = cluster.config.hardware;
  if (input.slots.length !== R) fail('E_ARGUMENT', `runSchedule: 'slots' needs one entry per rank (${R}), got ${input.slots.length}`, { argument: 'slots' });
  const numSlots = input.slotsPerRank * R;
  const cfg = (c: EpConfig, which: string) => validateEpConfig({ ...c, numSms: input.commSms }, nodes, which.replace(/Config$/, ''));
  const dispatch = cfg(input.dispatchConfig, 'dispatchConfig');
  const combine = cfg(input.combineConfig, 'combineConfig');
  const mbSlots = splitTokens(input.slots, input.topk, schedule.microBatches);
  const args: EpArgs[] = mbSlots.map((s) => ({
    numExperts: numSlots, topk: input.topk, hidden: input.hidden, dtype: input.format === 'fp8' ? 'fp8' : 'bf16',
    dispatch, combine, sizesOnly: true, numTokens: s.map((x) => x.length / input.topk), expertAlignment: 1,
  }));

  // Regions: every (layer, micro-batch) its own routing, counts and rings, counters zeroed.
  for (let l = 0; l < schedule.layers; l++)
    for (let m = 0; m < schedule.microBatches; m++) {
      const sc = scopeOf(l, m);
      const a = args[m]!;
      const stride = notifyStride(a, R) * 4 * R;
      for (let r = 0; r < R; r++) {
        const T = a.numTokens[r]!;
        const topk = cluster.ensureRegion(r, sc + R_TOPK, Math.max(4, T * input.topk * 4));
        new Int32Array(topk.buffer, 0, T * input.topk).set(mbSlots[m]![r]!);
        for (const [name, bytes] of [[R_NOTIFY, stride], [R_NOTIFY_OUT, stride], [R_NOTIFY_SIG, 8]] as const)
          cluster.ensureRegion(r, sc + name, bytes).i32.fill(0);
        for (const k of ['d', 'c'] as const) {
          const names = ringNames(k);
          const counters = new Set([names.nvlCtrl, names.rdmaCtrl, names.local, names.meta]);
          for (const { name, bytes } of ringRegionSizes(k, a, R, gpn)) {
            const reg = cluster.ensureRegion(r, sc + name, bytes);
            if (counters.has(name)) reg.i32.fill(0);
          }
        }
      }
    }

  // The notify step of every micro-batch, all starting together (one stream each), then its counts
  // copied to the micro-batch's other layers.
  const t0 = cluster.nowUs;
  const notify: StreamsRunArgs = {
    smCount: hw.smCount,
    streams: args.map((_, m) => ({ name: `notify mb${m}`, sms: 1, launches: [{ id: `notify.mb${m}`, waits: [] }] })),
    work: Object.fromEntries(args.map((a, m) => [`notify.mb${m}`, { kind: 'op', op: 'ep.notify', args: a, scope: scopeOf(0, m) } satisfies KernelWork])),
  };
  await cluster.run('streams.run', notify, run);
  const notifyUs = cluster.nowUs - t0;
  for (let l = 1; l < schedule.layers; l++)
    for (let m = 0; m < schedule.microBatches; m++)
      for (let r = 0; r < R; r++) cluster.region(r, scopeOf(l, m) + R_NOTIFY).i32.set(cluster.region(r, scopeOf(0, m) + R_NOTIFY).i32);

  // Compute-model times per micro-batch and rank, for the SMs of the stream each kind runs on.
  const smsOf = (kind: KernelKind) => schedule.streams[schedule.kernels.find((k) => k.kind === kind)?.stream ?? 0]!.sms;
  const dims: LayerDims = {
    hidden: input.hidden, mla: DEEPSEEK_V3_MLA, denseIntermediate: 18432, moeIntermediate: input.moeIntermediate,
    routedExperts: input.routedExperts, topK: input.topk, sharedExperts: input.sharedExperts,
  };
  const computeUs = mbSlots.map((s, m) => {
    const load = slotLoads(s, numSlots);
    const out = { attn: [] as number[], gate: [] as number[], shared: [] as number[], experts: [] as number[] };
    for (let r = 0; r < R; r++) {
      const T = args[m]!.numTokens[r]!;
      const ks = layerComputeUs(hw, { phase: 'prefill', tokens: T, contextLen: input.promptLen, sms: smsOf('attn'), format: input.format, dims, expertTokens: [] }).kernels;
      const sum = (keep: (name: string, i: number) => boolean) => ks.reduce((a, k, i) => (keep(k.name, i) ? a + k.us : a), 0);
      // ATTN: the attention block and the FFN norm; then the gate; SHARED: the shared expert and the residual.
      const norm = ks.findIndex((k) => k.name === 'ffn_norm');
      out.attn.push(sum((_, i) => i <= norm));
      out.gate.push(sum((n) => n === 'gate'));
      out.shared.push(sum((n) => n.startsWith('shared') || n === 'ffn residual'));
      const mine = Array.from(load.subarray(r * input.slotsPerRank, (r + 1) * input.slotsPerRank));
      out.experts.push(groupedExpertsTimeUs(hw, { tokensPerExpert: mine, hidden: input.hidden, intermediate: input.moeIntermediate, format: input.format }, { sms: smsOf('experts') }));
    }
    return out;
  });

  const work: Record<string, KernelWork> = {};
  for (const k of schedule.kernels) {
    if (COMM_KINDS.has(k.kind)) {
      const kernel = k.kind === 'dispatch' ? 'dispatch' : 'combine';
      work[k.id] = { kind: 'op', op: `ep.${kernel}.${nodes === 1 ? 'intranode' : 'internode'}`, args: args[k.mb]!, scope: scopeOf(k.layer, k.mb) };
    } else work[k.id] = { kind: 'compute', us: computeUs[k.mb]![k.kind as 'attn']! };
  }
  const specs = streamSpecs(schedule);
  // Lockstep: one operation per kernel (each starts on every rank once the previous one is over).
  const parts: StreamsRunArgs[] = schedule.lockstep
    ? schedule.kernels.map((k) => ({
      smCount: hw.smCount,
      streams: specs.map((st, i) => ({ ...st, launches: i === k.stream ? [{ id: k.id, waits: [] }] : [] })),
      work: { [k.id]: work[k.id]! },
    }))
    : [{ smCount: hw.smCount, streams: specs, work }];
  const byId = new Map(schedule.kernels.map((k) => [k.id, k]));
  const kernels: ScheduledKernelRun[][] = Array.from({ length: R }, () => []);
  const startUs = cluster.nowUs;
  for (const part of parts) {
    const res = await cluster.run<StreamsRunResult>('streams.run', part, run);
    res.results.forEach((x, rank) => {
      for (const s of x.spans) {
        const k = byId.get(s.id)!;
        kernels[rank]!.push({ ...s, rank, kind: k.kind, layer: k.layer, mb: k.mb });
      }
    });
  }
  return { kernels: kernels.flat(), startUs, endUs: cluster.nowUs, notifyUs, computeUs, tokensPerMb: args.map((a) => a.numTokens) };
}

