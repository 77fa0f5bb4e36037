/**
 * @module
 * The expert-parallel layer API, mirroring DeepEP's `Buffer`: a dispatch layout, `dispatch` (notify
 * step + kernel), `runExperts`, `combine` on the dispatch's handle, or `moeLayer` for the whole
 * thing. Inputs and outputs are per rank; the kernels run as tasks of the GPU actors.
 */
import { checkDeepepGpusPerNode, checkExpertsDivisible, checkRowBytes } from '../hardware/shape-rules.js';
import { fail, showValue } from '../errors.js';
import { checkCluster, type Cluster, type RunOptions } from '../cluster/cluster.js';
import type { HostRunStats } from '../actors/host-messages.js';
import type { HostHeapProfile } from '../actors/heap-sampler.js';
import { getDispatchLayout, type DispatchLayout } from '../routing/layout.js';
import { DEFAULT_NUM_SMS, defaultEpConfigs, resolveEpConfigs, type EpConfig } from './normal/ep-config.js';
import {
  layoutOf, notifyStride, ringRegionSizes, ringNames, R_COMBINE_BIAS, R_COMBINE_IN, R_COMBINE_OUT, R_IN, R_NOTIFY, R_NOTIFY_OUT,
  R_NOTIFY_SIG, R_RECV, R_TOPK, type EpArgs,
} from './ep-args.js';
import { packRecords, unpackRecords, type DispatchX, type ReceivedTokens } from './ep-records-io.js';
import { combineRecordBytes, type DispatchDtype } from './records.js';
import { epRankBytes } from './estimate.js';
import { fromBF16Bits, toBF16Bits } from '../kernels/bf16.js';
import { expertFfn } from '../kernels/ffn.js';
import type { NotifyResult } from './normal/notify-op.js';
// The operations this module runs register themselves when loaded: in-process hosts find them in
// the registry (worker threads load every operation through their entry shell).
import './normal/notify-op.js';
import './normal/intranode-dispatch-op.js';
import './normal/intranode-combine-op.js';
import './normal/internode-dispatch-op.js';
import './normal/internode-combine-op.js';
import { applyLocalExperts, chargeCompute, decodeRows, expertsTimeUs, type Expert, type ExpertsResult, type RunExpertsOptions } from './experts.js';
import {
  isLowLatencyDispatch, LowLatencyEp, type LowLatencyCombineInput, type LowLatencyCombineResult, type LowLatencyDispatchInput,
  type LowLatencyDispatchResult, type LowLatencyOptions,
} from './low-latency/low-latency-ep.js';

/** Options of {@link createExpertParallel}. */
export interface ExpertParallelOptions {
  /** Routed experts, spread contiguously over the ranks (must be divisible by the rank count). */
  numExperts: number;
  /** Hidden size (a multiple of 128 for FP8 payloads). */
  hidden: number;
  /** Experts per token (default 8). */
  topk?: number;
  /** Payload of dispatch: 'bf16' (default) or 'fp8' with per-128 scales. Combine is always BF16. */
  dtype?: DispatchDtype;
  /** Dispatch kernel config (default: DeepEP's for this rank count, with `numSms`). */
  dispatchConfig?: Partial<EpConfig>;
  /** Combine kernel config (default: DeepEP's for this rank count, with `numSms`). */
  combineConfig?: Partial<EpConfig>;
  /** SMs for both kernels when their configs do not say (default 20, DeepEP's default). */
  numSms?: number;
  /** `numRecvTokensPerExpert` is rounded up to a multiple of this (default 1). */
  expertAlignment?: number;
  /** Move no payload bytes: same tasks, chunks and flow control, timing only (default false). */
  sizesOnly?: boolean;
  /**
   * Enable DeepEP's low-latency kernels (`lowLatencyDispatch` / `lowLatencyCombine`, decode) with
   * buffers for `maxDispatchTokensPerRank` tokens per rank (at most 256). With it, a shape the normal
   * kernels' asserts refuse (more than 24 nodes) is still created; its normal dispatch throws.
   */
  lowLatency?: LowLatencyOptions;
}

/** Virtual-time breakdown of a dispatch or combine, us. */
export interface KernelTiming {
  /**
   * Notify step (launch, barriers, count exchange, host wait, counter clean); for a cached dispatch
   * DeepEP's cached notify (launch, barrier, clean, barrier); 0 for combine.
   */
  notifyUs: number;
  /** The kernel's launch cost (`kernelLaunchUs`), charged before it starts; not in `kernelUs`. */
  launchUs: number;
  /** Kernel time: the slowest rank, from kernel start (after its launch) to its last task's end. */
  kernelUs: number;
  /** Kernel time per rank. */
  perRankUs: number[];
  /** Virtual time at which the kernel started. */
  startUs: number;
  /** Events processed and synchronisation windows of the kernel. */
  events: number;
  windows: number;
  /** Transfers the kernel issued (events per transfer is the simulation's cost figure). */
  transfers: number;
  /** CPU time each host thread spent in the kernel, ms (NaN where the platform does not tell). */
  hostCpuMs: number[];
  /** Where each host's wall time went in the kernel (its windows, the barriers, waiting for a CPU), by host. */
  hostStats: HostRunStats[];
  /** What each host's thread allocated in the kernel's run, by host (only with the cluster's `hostHeapSampling`). */
  hostHeap?: HostHeapProfile[];
  /**
   * The dispatch's notify step (or cached notify) as a run of its own: its events, windows,
   * transfers and host figures, which the kernel's fields above do not count. Absent for combine.
   */
  notify?: NotifyRunStats;
}

/** What the notify step's run cost the simulation: as {@link KernelTiming}'s fields of the same names. */
export interface NotifyRunStats {
  events: number;
  windows: number;
  transfers: number;
  hostCpuMs: number[];
  hostStats: HostRunStats[];
  hostHeap?: HostHeapProfile[];
}

/** Reusable result of a dispatch: what combine (and a cached dispatch) need. */
export interface DispatchHandle {
  readonly id: number;
  readonly numTokens: number[];
  readonly numRecv: number[];
  readonly topkIdx: Int32Array[];
  /** Notify counts received per rank ([src rank][channels + local experts]). */
  readonly notifyCounts: Int32Array[];
  readonly numRecvTokensPerExpert: number[][];
}

/** Input of {@link ExpertParallel.dispatch}. */
export interface DispatchInput {
  /** Per rank payload (omit in sizes-only mode). */
  x?: DispatchX[];
  /** Per rank [tokens][topk] expert ids, -1 for none. */
  topkIdx: Int32Array[];
  /** Per rank [tokens][topk] weights. */
  topkWeights?: ArrayLike<number>[];
  /** Accepted for DeepEP parity; the kernels derive the same layout themselves. */
  layout?: DispatchLayout[];
  /** Reuse a previous dispatch's counts (cached dispatch): skips the notify step. */
  handle?: DispatchHandle;
}

/** Per-rank output of a dispatch (real-data mode), plus the handle and timing. */
export interface DispatchResult {
  /** Per rank; empty arrays in sizes-only mode. */
  recv: ReceivedTokens[];
  /** Per rank, received tokens per local expert, aligned to `expertAlignment`. */
  numRecvTokensPerExpert: number[][];
  handle: DispatchHandle;
  timing: KernelTiming;
}

/** Input of {@link ExpertParallel.combine}. */
export interface CombineInput {
  /** Per rank [rows][hidden] expert outputs in receive order, already weighted (BF16 bits or float32). */
  x?: Array<Uint16Array | Float32Array>;
  handle: DispatchHandle;
  /** Optional per rank [tokens][hidden] bias added to every combined row. */
  bias?: Array<Uint16Array | Float32Array>;
}

export interface CombineResult {
  /** Per rank [tokens][hidden] BF16 bits (empty in sizes-only mode). */
  x: Uint16Array[];
  timing: KernelTiming;
}

/** The expert-parallel layer of one cluster. Create with {@link createExpertParallel}. */
export class ExpertParallel {
  readonly numExperts: number;
  readonly hidden: number;
  readonly topk: number;
  readonly dtype: DispatchDtype;
  readonly dispatchConfig: EpConfig;
  readonly combineConfig: EpConfig;
  readonly expertAlignment: number;
  readonly sizesOnly: boolean;
  readonly numNodes: number;
  private handles = 0;
  private notifyOf = -1;
  /** The low-latency kernels' state (with the `lowLatency` option). */
  private readonly ll: LowLatencyEp | null;
  /** With `lowLatency`: why the normal kernels cannot run this shape, if they cannot. */
  private readonly normalRefused: unknown = null;

  constructor(readonly cluster: Cluster, o: ExpertParallelOptions) {
    checkCluster(cluster, 'createExpertParallel');
    if (typeof o !== 'object' || o === null) fail('E_CONFIG', `createExpertParallel: options must be an object, got ${showValue(o)}`, { argument: 'options' });
    const R = cluster.numRanks;
    const int = (v: unknown, f: string, min = 1) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail('E_CONFIG', `createExpertParallel: '${f}' must be an integer >= ${min}, got ${showValue(v)}`, { field: f, value: v });
      return v;
    };
    this.numExperts = int(o.numExperts, 'numExperts');
    checkDeepepGpusPerNode(cluster.config.gpusPerNode, 'createExpertParallel', 'cluster gpusPerNode');
    checkExpertsDivisible(this.numExperts, R, 'createExpertParallel');
    this.hidden = int(o.hidden, 'hidden');
    this.topk = int(o.topk ?? 8, 'topk');
    if (this.topk > this.numExperts) fail('E_CONFIG', `createExpertParallel: topk ${this.topk} exceeds numExperts ${this.numExperts}`, { field: 'topk', value: this.topk });
    this.dtype = o.dtype ?? 'bf16';
    if (this.dtype !== 'bf16' && this.dtype !== 'fp8') fail('E_CONFIG', `createExpertParallel: dtype must be 'bf16' or 'fp8', got ${showValue(this.dtype)}`, { field: 'dtype', value: this.dtype });
    if (this.dtype === 'fp8' && this.hidden % 128 !== 0) fail('E_CONFIG', `createExpertParallel: FP8 payloads need hidden divisible by 128, got ${this.hidden}`, { field: 'hidden', value: this.hidden });
    checkRowBytes(this.hidden, this.dtype, 'createExpertParallel');
    this.expertAlignment = int(o.expertAlignment ?? 1, 'expertAlignment');
    this.sizesOnly = o.sizesOnly ?? false;
    this.numNodes = cluster.config.nodes;
    const given = { ...(o.dispatchConfig ? { dispatch: o.dispatchConfig } : {}), ...(o.combineConfig ? { combine: o.combineConfig } : {}) };
    let cfg: { dispatch: EpConfig; combine: EpConfig };
    try {
      cfg = resolveEpConfigs(R, this.numNodes, o.numSms ?? DEFAULT_NUM_SMS, given);
    } catch (e) {
      // A low-latency layer keeps the shape; only its normal kernels are refused (DeepEP's asserts).
      if (o.lowLatency === undefined || o.dispatchConfig || o.combineConfig || o.numSms !== undefined) throw e;
      this.normalRefused = e;
      cfg = defaultEpConfigs(R, DEFAULT_NUM_SMS, this.numNodes);
    }
    this.dispatchConfig = cfg.dispatch;
    this.combineConfig = cfg.combine;
    if (this.combineConfig.numSms !== this.dispatchConfig.numSms)
      fail('E_CONFIG', `createExpertParallel: combineConfig.numSms (${this.combineConfig.numSms}) must equal dispatchConfig.numSms (${this.dispatchConfig.numSms}): combine walks the dispatch's channels`, { field: 'combineConfig.numSms', value: this.combineConfig.numSms });
    this.ll = o.lowLatency === undefined ? null : new LowLatencyEp(cluster, { numExperts: this.numExperts, hidden: this.hidden, topk: this.topk, sizesOnly: this.sizesOnly }, o.lowLatency);
  }

  private lowLatencyState(where: string): LowLatencyEp {
    if (!this.ll) fail('E_ARGUMENT', `${where}: the layer was created without the 'lowLatency' option ({ maxDispatchTokensPerRank })`, { argument: 'lowLatency' });
    return this.ll;
  }

  /** `lowLatencyRdmaSizeHint` of this layer's low-latency buffers, bytes per rank (null without `lowLatency`). */
  get lowLatencyRdmaBytes(): number | null {
    return this.ll ? this.ll.rdmaBytes : null;
  }

  /**
   * DeepEP's `low_latency_dispatch` (decode): one message per (token, chosen expert) into worst-case
   * per-(local expert, source rank) slots, cast to FP8 on the fly; NVLink stores within a node, RDMA
   * across; received rows packed per local expert. With `returnRecvHook` only the send phase runs
   * and `hook()` runs the receive phase (no SM is held in between).
   */
  lowLatencyDispatch(input: LowLatencyDispatchInput, run: RunOptions = {}): Promise<LowLatencyDispatchResult> {
    return this.lowLatencyState('lowLatencyDispatch').dispatch(input, run);
  }

  /** DeepEP's `low_latency_combine`: packed expert outputs back to their tokens, reduced with the top-k weights. */
  lowLatencyCombine(input: LowLatencyCombineInput, run: RunOptions = {}): Promise<LowLatencyCombineResult> {
    return this.lowLatencyState('lowLatencyCombine').combine(input, run);
  }

  /**
   * Simulated HBM per rank on a dispatch's counts: what DeepEP would allocate for this layer (top-k
   * ids, notify counts, both kernels' rings and the records in and out, sized from the handle's
   * token and received-row counts), whether or not this run moves payload bytes. Host memory is
   * another matter: a sizes-only run registers no payload regions at all.
   */
  simulatedHbmBytes(handle: DispatchHandle): number[] {
    const c = this.cluster;
    const l = {
      ranks: c.numRanks, gpusPerNode: c.config.gpusPerNode, hidden: this.hidden, topk: this.topk, experts: this.numExperts,
      dtype: this.dtype, dispatch: this.dispatchConfig, combine: this.combineConfig,
    };
    return handle.numTokens.map((T, r) => epRankBytes(l, T, handle.numRecv[r]!, true));
  }

  /** DeepEP's `get_dispatch_layout`, per rank. */
  getDispatchLayout(topkIdx: Int32Array[]): DispatchLayout[] {
    this.checkPerRank(topkIdx, 'topkIdx', 'getDispatchLayout');
    const shape = { numRanks: this.cluster.numRanks, gpusPerNode: this.cluster.config.gpusPerNode };
    return topkIdx.map((t) => getDispatchLayout(t, this.topk, this.numExperts, shape));
  }

  private checkPerRank(a: unknown[] | undefined, name: string, where: string): void {
    if (!Array.isArray(a) || a.length !== this.cluster.numRanks)
      fail('E_ARGUMENT', `${where}: '${name}' must be an array with one entry per rank (${this.cluster.numRanks}), got ${Array.isArray(a) ? `length ${a.length}` : typeof a}`, { argument: name });
  }

  private args(numTokens: number[]): EpArgs {
    return {
      numExperts: this.numExperts, topk: this.topk, hidden: this.hidden, dtype: this.dtype,
      dispatch: this.dispatchConfig, combine: this.combineConfig, sizesOnly: this.sizesOnly, numTokens,
      expertAlignment: this.expertAlignment,
    };
  }

  /** Register (or reuse) a kernel's ring regions and zero its counters. */
  private prepareRings(kernel: 'd' | 'c', a: EpArgs): void {
    const c = this.cluster;
    const names = ringNames(kernel);
    const counters = new Set([names.nvlCtrl, names.rdmaCtrl, names.local, names.meta]);
    for (let r = 0; r < c.numRanks; r++)
      for (const { name, bytes } of ringRegionSizes(kernel, a, c.numRanks, c.config.gpusPerNode)) {
        const reg = c.ensureRegion(r, name, bytes);
        if (counters.has(name)) reg.i32.fill(0);
      }
  }

  /**
   * Dispatch every rank's tokens to the ranks holding their experts. Runs the notify step (unless a
   * handle is given), then the normal dispatch kernel (intranode on one node, two-hop otherwise).
   */
  async dispatch(input: DispatchInput, run: RunOptions = {}): Promise<DispatchResult> {
    const c = this.cluster;
    const R = c.numRanks;
    const where = 'dispatch';
    if (this.normalRefused) throw this.normalRefused;
    this.checkPerRank(input?.topkIdx, 'topkIdx', where);
    if (!this.sizesOnly) this.checkPerRank(input.x, 'x', where);
    if (input.topkWeights !== undefined) this.checkPerRank(input.topkWeights as unknown[], 'topkWeights', where);
    const numTokens = input.topkIdx.map((t, r) => {
      if (!(t instanceof Int32Array) || t.length % this.topk !== 0)
        fail('E_ARGUMENT', `dispatch: topkIdx[${r}] must be an Int32Array of [tokens][${this.topk}], got length ${(t as Int32Array)?.length}`, { argument: `topkIdx[${r}]` });
      for (let i = 0; i < t.length; i++)
        if (t[i]! < -1 || t[i]! >= this.numExperts || !Number.isInteger(t[i]))
          fail('E_ROUTING', `dispatch: topkIdx[${r}][${Math.floor(i / this.topk)}][${i % this.topk}] = ${t[i]} is outside [-1, ${this.numExperts})`, { argument: `topkIdx[${r}]`, value: t[i] });
      return t.length / this.topk;
    });
    if (input.handle && input.handle.numTokens.some((n, r) => n !== numTokens[r]))
      fail('E_ARGUMENT', 'dispatch: the handle was made for other token counts; a cached dispatch needs the same routing', { argument: 'handle' });
    const a = this.args(numTokens);
    const L = layoutOf(a);
    for (let r = 0; r < R; r++) {
      const T = numTokens[r]!;
      const topk = c.ensureRegion(r, R_TOPK, Math.max(4, T * this.topk * 4));
      new Int32Array(topk.buffer, 0, T * this.topk).set(input.topkIdx[r]!);
      const w = input.topkWeights?.[r];
      if (w !== undefined && w.length !== T * this.topk)
        fail('E_ARGUMENT', `dispatch: topkWeights[${r}] has length ${w.length}, expected ${T * this.topk}`, { argument: `topkWeights[${r}]` });
      if (!this.sizesOnly) packRecords(c.ensureRegion(r, R_IN, Math.max(16, T * L.bytes)), L, r, T, input.x![r], input.topkIdx[r]!, w, where);
      const stride = notifyStride(a, R) * 4 * R;
      c.ensureRegion(r, R_NOTIFY, stride);
      c.ensureRegion(r, R_NOTIFY_OUT, stride);
      c.ensureRegion(r, R_NOTIFY_SIG, 8);
    }
    let notifyUs = 0;
    let notify: NotifyRunStats;
    let handle = input.handle;
    if (!handle) {
      const n = await c.run<NotifyResult>('ep.notify', a, run);
      notifyUs = n.timeUs;
      notify = notifyRunStats(n);
      const align = (v: number) => Math.ceil(v / this.expertAlignment) * this.expertAlignment;
      handle = {
        id: ++this.handles,
        numTokens,
        numRecv: n.results.map((x) => x.numRecv),
        topkIdx: input.topkIdx.map((t) => t.slice()),
        notifyCounts: Array.from({ length: R }, (_, r) => Int32Array.from(c.region(r, R_NOTIFY).i32)),
        numRecvTokensPerExpert: n.results.map((x) => x.perExpert.map(align)),
      };
      this.notifyOf = handle.id;
    } else {
      this.restoreNotify(handle);
      // DeepEP's cached notify: barrier, copy the stored prefix matrix and clean, barrier.
      const n = await c.run('ep.notify.cached', a, run);
      notifyUs = n.timeUs;
      notify = notifyRunStats(n);
    }
    for (let r = 0; r < R; r++) if (!this.sizesOnly) c.ensureRegion(r, R_RECV, Math.max(16, handle.numRecv[r]! * L.bytes));
    this.prepareRings('d', a);
    const op = this.numNodes === 1 ? 'ep.dispatch.intranode' : 'ep.dispatch.internode';
    const k = await c.run(op, a, run);
    const recv = this.sizesOnly
      ? []
      : Array.from({ length: R }, (_, r) => unpackRecords(c.region(r, R_RECV), L, handle.numRecv[r]!, r, this.numExperts / R));
    return { recv, numRecvTokensPerExpert: handle.numRecvTokensPerExpert, handle, timing: { ...timingOf(k, notifyUs, c.config.hardware.kernelLaunchUs), notify } };
  }

  /** Put a handle's counts back in place if another dispatch has run since. */
  private restoreNotify(h: DispatchHandle): void {
    if (this.notifyOf === h.id) return;
    const c = this.cluster;
    for (let r = 0; r < c.numRanks; r++) {
      c.region(r, R_NOTIFY).i32.set(h.notifyCounts[r]!);
      const T = h.numTokens[r]!;
      new Int32Array(c.ensureRegion(r, R_TOPK, Math.max(4, T * this.topk * 4)).buffer, 0, T * this.topk).set(h.topkIdx[r]!);
    }
    this.notifyOf = h.id;
  }

  /**
   * Combine expert outputs back to the tokens' ranks on a dispatch's handle: a plain sum of the
   * rows (callers weight them first), FP32 accumulation, BF16 out, plus an optional bias.
   */
  async combine(input: CombineInput, run: RunOptions = {}): Promise<CombineResult> {
    const c = this.cluster;
    const R = c.numRanks;
    const h = input?.handle;
    if (this.normalRefused) throw this.normalRefused;
    if (!h || !Array.isArray(h.numRecv)) fail('E_ARGUMENT', 'combine: a handle from dispatch() is required', { argument: 'handle' });
    this.restoreNotify(h);
    const a = { ...this.args(h.numTokens), hasBias: input.bias !== undefined };
    const rec = combineRecordBytes(this.hidden);
    const H = this.hidden;
    if (!this.sizesOnly) {
      this.checkPerRank(input.x, 'x', 'combine');
      for (let r = 0; r < R; r++) {
        const rows = h.numRecv[r]!;
        const y = input.x![r]!;
        if (!(y instanceof Uint16Array || y instanceof Float32Array) || y.length !== rows * H)
          fail('E_ARGUMENT', `combine: x[${r}] must hold ${rows} x ${H} values (BF16 bits or float32), got length ${(y as Uint16Array)?.length}`, { argument: `x[${r}]` });
        const reg = c.ensureRegion(r, R_COMBINE_IN, Math.max(16, rows * rec));
        writeBf16Rows(reg.u8, rec, y, rows, H);
        c.ensureRegion(r, R_COMBINE_OUT, Math.max(16, h.numTokens[r]! * H * 2));
        if (input.bias) {
          const b = input.bias[r];
          const n = h.numTokens[r]! * H;
          if (!(b instanceof Uint16Array || b instanceof Float32Array) || b.length !== n)
            fail('E_ARGUMENT', `combine: bias[${r}] must hold ${h.numTokens[r]} x ${H} values (BF16 bits or float32)`, { argument: `bias[${r}]` });
          const f = new Float32Array(c.ensureRegion(r, R_COMBINE_BIAS, Math.max(16, n * 4)).buffer, 0, n);
          for (let i = 0; i < n; i++) f[i] = b instanceof Uint16Array ? fromBF16Bits(b[i]!) : b[i]!;
        }
      }
    }
    this.prepareRings('c', a);
    const op = this.numNodes === 1 ? 'ep.combine.intranode' : 'ep.combine.internode';
    const k = await c.run(op, a, run);
    const out: Uint16Array[] = [];
    if (!this.sizesOnly)
      for (let r = 0; r < R; r++) {
        const T = h.numTokens[r]!;
        out.push(new Uint16Array(c.region(r, R_COMBINE_OUT).buffer.slice(0, T * H * 2)));
      }
    return { x: out, timing: timingOf(k, 0, c.config.hardware.kernelLaunchUs) };
  }

  /**
   * Run each rank's local experts on a dispatch's rows (weighted), charging compute-model time. On a
   * low-latency dispatch: on its packed rows, outputs unweighted in the same packed layout (the
   * low-latency combine weights them).
   */
  async runExperts(d: DispatchResult | LowLatencyDispatchResult, experts: readonly Expert[], opts: RunExpertsOptions = {}, run: RunOptions = {}): Promise<ExpertsResult> {
    if (isLowLatencyDispatch(d)) return this.lowLatencyState('runExperts').runExperts(d, experts, opts, run);
    if (this.sizesOnly) fail('E_ARGUMENT', 'runExperts: not available in sizes-only mode (no payload); charge compute with the compute model instead', {});
    if (!Array.isArray(experts) || experts.length !== this.numExperts)
      fail('E_ARGUMENT', `runExperts: 'experts' must list ${this.numExperts} experts, got ${Array.isArray(experts) ? experts.length : typeof experts}`, { argument: 'experts' });
    const R = this.cluster.numRanks;
    const epr = this.numExperts / R;
    const y: Float32Array[] = [];
    const perRankUs: number[] = [];
    for (let r = 0; r < R; r++) {
      const res = applyLocalExperts(d.recv[r]!, r, epr, this.hidden, this.topk, experts);
      y.push(res.y);
      const first = experts[r * epr];
      const inter = opts.intermediate ?? (first && typeof first !== 'function' ? first.intermediate : 2048);
      perRankUs.push(expertsTimeUs(this.cluster, res.tokensPerExpert, this.hidden, opts, inter));
    }
    const timeUs = await chargeCompute(this.cluster, perRankUs, run);
    return { y, perRankUs, timeUs };
  }

  /** A whole MoE layer in one call: dispatch, experts, combine, plus the shared expert. */
  async moeLayer(input: MoeLayerInput, run: RunOptions = {}): Promise<MoeLayerResult> {
    const d = await this.dispatch({ x: input.x, topkIdx: input.topkIdx, topkWeights: input.topkWeights }, run);
    const e = await this.runExperts(d, input.experts, input.expertOptions, run);
    let bias: Float32Array[] | undefined;
    const se = input.sharedExpert;
    if (se) {
      // The shared expert runs on each token's own rank, overlapped with the routed path; its output
      // joins the combined rows as the combine's bias.
      bias = input.x.map((x, r) => {
        const T = input.topkIdx[r]!.length / this.topk;
        const xf = decodeRows(x, T, this.hidden);
        return typeof se === 'function' ? se(xf, T, -1) : expertFfn(xf, T, se);
      });
    }
    const c = await this.combine({ x: e.y, handle: d.handle, ...(bias ? { bias } : {}) }, run);
    const timing = {
      notifyUs: d.timing.notifyUs, dispatchUs: d.timing.kernelUs, expertsUs: e.timeUs, combineUs: c.timing.kernelUs,
      totalUs: d.timing.notifyUs + d.timing.kernelUs + e.timeUs + c.timing.kernelUs,
    };
    return { y: c.x, dispatch: d, combine: c, experts: e, timing };
  }
}


function notifyRunStats(n: NotifyRunStats): NotifyRunStats {
  return { events: n.events, windows: n.windows, transfers: n.transfers, hostCpuMs: n.hostCpuMs, hostStats: n.hostStats, ...(n.hostHeap ? { hostHeap: n.hostHeap } : {}) };
}

/**
 * A kernel's figures: its launch cost comes first and is not kernel time (a profiler's kernel time
 * starts on the GPU). A rank's kernel ends when its warps do (`kernelEndUs` in the op's result,
 * where the NIC may still hold work requests), else when the rank's operation does.
 */
function timingOf(
  k: { startUs: number; rankTimeUs: number[]; results: unknown[]; events: number; windows: number; transfers: number; hostCpuMs: number[]; hostStats: HostRunStats[]; hostHeap?: HostHeapProfile[] }, notifyUs: number, launchUs: number,
): KernelTiming {
  // Ends from the operation's start, on its own clock (durations: exact whatever ran before).
  const ends = k.rankTimeUs.map((e, r) => {
    const own = (k.results[r] as { kernelEndUs?: unknown } | undefined)?.kernelEndUs;
    return typeof own === 'number' ? own : e;
  });
  const perRankUs = ends.map((e) => e - launchUs);
  return { notifyUs, launchUs, kernelUs: Math.max(...ends) - launchUs, perRankUs, startUs: k.startUs + launchUs, events: k.events, windows: k.windows, transfers: k.transfers, hostCpuMs: k.hostCpuMs, hostStats: k.hostStats, ...(k.hostHeap ? { hostHeap: k.hostHeap } : {}) };
}



function writeBf16Rows(dst: Uint8Array, rec: number, y: Uint16Array | Float32Array, rows: number, H: number): void {
  const v = new Uint16Array(dst.buffer, dst.byteOffset, (rows * rec) / 2);
  const stride = rec / 2;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < H; j++) v[i * stride + j] = y instanceof Uint16Array ? y[i * H + j]! : toBF16Bits(y[i * H + j]!);
}


/** Input of {@link ExpertParallel.moeLayer}. */
export interface MoeLayerInput {
  /** Per rank payload. */
  x: DispatchX[];
  topkIdx: Int32Array[];
  topkWeights: ArrayLike<number>[];
  /** Routed experts, indexed by global expert id. */
  experts: readonly Expert[];
  /** Optional shared expert, applied to every token on its own rank (added to the combined rows). */
  sharedExpert?: Expert;
  /** Options of the expert step. */
  expertOptions?: RunExpertsOptions;
}

/** Result of {@link ExpertParallel.moeLayer}: per rank output rows and the phase timeline. */
export interface MoeLayerResult {
  /** Per rank [tokens][hidden] BF16 bits. */
  y: Uint16Array[];
  dispatch: DispatchResult;
  combine: CombineResult;
  experts: ExpertsResult;
  /** Virtual time per phase, us. */
  timing: { notifyUs: number; dispatchUs: number; expertsUs: number; combineUs: number; totalUs: number };
}

/** Create the expert-parallel layer of a cluster. */
export async function createExpertParallel(cluster: Cluster, options: ExpertParallelOptions): Promise<ExpertParallel> {
  return new ExpertParallel(cluster, options);
}
