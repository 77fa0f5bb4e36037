/**
 * @module
 * The main-thread side of DeepEP's low-latency kernels: `lowLatencyDispatch`, `runExperts` on the
 * packed layout and `lowLatencyCombine` of an {@link ExpertParallel} created with `lowLatency`.
 *
 * Buffers, as DeepEP runs them: one RDMA buffer per rank of `lowLatencyRdmaSizeHint` bytes (checked
 * against the profile's HBM), two buffer sets in it, and every low-latency call (dispatch or combine)
 * takes the next set in turn. Each kernel zeroes the other set's signals (its first SM does, before
 * any count goes out; expertmesh zeroes them on the main thread between runs and charges the HBM
 * write in the kernel). A call whose receive phase has not run (hook mode, `hook()` not called yet)
 * holds its set: its data and counts are still in it. So at most two results are live: a third call
 * while the set it would take is still held is refused (`E_ARGUMENT`, `data.rule` 'two-buffer-sets'),
 * and the zeroing of a set that is held waits for its hook.
 */
import { fail, showValue } from '../../errors.js';
import type { Cluster, OpResult, RunOptions } from '../../cluster/cluster.js';
import type { HostRunStats } from '../../actors/host-messages.js';
import { hostMemoryLimit, formatBytes } from '../../cluster/host-limits.js';
import { fromBF16Array, toBF16Bits } from '../../kernels/bf16.js';
import { dequantizePerTile } from '../../kernels/quantize.js';
import { chargeCompute, expertsTimeUs, type Expert, type ExpertsResult, type RunExpertsOptions } from '../experts.js';
import { expertFfn } from '../../kernels/ffn.js';
import type { DispatchDtype } from '../records.js';
import {
  LL_BUF, LL_LOCAL, LL_MAX_TOKENS_PER_RANK, LL_SCALE_GROUP, LL_WARPS_PER_SM, llCombineSrc, llCombineX, llOut, llPacked, llTopk, llWeights, llX,
  lowLatencyLaunch, lowLatencySizes, packedOffsets, PHASE_RECV, PHASE_SEND, setOffsets, type LlArgs, type LowLatencyLaunch, type LowLatencySizes,
} from './layout.js';
import './dispatch-op.js';
import './combine-op.js';

/** The `lowLatency` option of `createExpertParallel`. */
export interface LowLatencyOptions {
  /**
   * DeepEP's `num_max_dispatch_tokens_per_rank`: every (local expert, source rank) pair gets this
   * many slots; a call may carry up to this many tokens per rank. At most 256 (DeepEP's limit).
   */
  maxDispatchTokensPerRank: number;
}

/** Input of `lowLatencyDispatch`. */
export interface LowLatencyDispatchInput {
  /** Per rank [tokens][hidden] BF16 bits (omit in sizes-only mode). */
  x?: Uint16Array[];
  /** Per rank [tokens][topk] global expert ids, -1 for none; tokens <= maxDispatchTokensPerRank. */
  topkIdx: Int32Array[];
  /** Cast to FP8 with one float32 scale per 128 values on the fly (default true); false sends BF16. */
  useFp8?: boolean;
  /** Power-of-two scales (UE8M0: DeepEP's `round_scale` / `use_ue8m0`), FP8 only (default false). */
  ue8m0?: boolean;
  /** Launch the send phase only and return a hook that runs the receive phase (default false). */
  returnRecvHook?: boolean;
  /**
   * Per rank, how long after the call the rank's kernel launches (default 0 for every rank). Each
   * rank runs its kernels back to back on its own stream, so a kernel starts when the rank's
   * previous one ended: pass each rank's previous end (`timing.endPerRankUs` minus its least) to
   * time the kernel as DeepEP's test does, with the ranks apart as the previous kernel left them.
   */
  launchDelayUs?: number[];
}

/** What one rank received, packed per local expert as DeepEP's `packed_recv_x`. */
export interface LowLatencyRecv {
  /**
   * [localExperts][maxTokens * ranks][hidden]: FP8 codes plus [localExperts][maxTokens * ranks][hidden / 128]
   * float32 scales, or BF16 bits. Rows past `count[le]` of an expert are zero.
   */
  x: Uint16Array | { q: Uint8Array; scales: Float32Array };
  /** Rows received per local expert (`packed_recv_count`). */
  count: Int32Array;
  /** [localExperts][maxTokens * ranks] source token index of each packed row (`packed_recv_src_info`). */
  srcInfo: Int32Array;
  /** [localExperts][ranks][2]: (rows, first packed row) from each source rank (`packed_recv_layout_range`). */
  layoutRange: Int32Array;
}

/** Virtual-time figures of one low-latency call, us. */
export interface LowLatencyTiming {
  /** 'one-kernel': both phases in one launch (grid sync between); 'hook': two launches. */
  mode: 'one-kernel' | 'hook';
  /** Launch cost of each launch (`kernelLaunchUs`), not in the kernel times. */
  launchUs: number;
  /** Virtual time the (first) kernel started, after its launch. */
  startUs: number;
  /** Slowest rank: the kernel (one-kernel), or send kernel + receive kernel (hook; receive 0 before `hook()`). */
  kernelUs: number;
  /** Per rank, the same. */
  perRankUs: number[];
  /** Send phase per rank: to the grid sync (one-kernel), or the send kernel (hook: its SMs posting and copying; the NIC works on after it). */
  sendPerRankUs: number[];
  /** Receive phase per rank: after the grid sync, or the receive kernel (null before `hook()`). */
  recvPerRankUs: number[] | null;
  /** Per rank, the launch delay the call was given (0 without). */
  delayPerRankUs: number[];
  /** Per rank, when its kernel ended (one-kernel) or its send kernel (hook), from `startUs`: its delay plus its time. */
  endPerRankUs: number[];
  /** Slowest rank's send phase and receive phase. */
  sendUs: number;
  recvUs: number | null;
  events: number;
  windows: number;
  /** Wall time of the call's launches on the hosts (from posting the run to its reply; both kernels in hook mode), ms. */
  runWallMs: number;
  /** Per host thread, its CPU time in the call's launches, ms (send + receive kernels in hook mode; NaN where unknown). */
  hostCpuMs: number[];
  /** Per host thread, where its wall time went in the call's launches (summed over both kernels in hook mode). */
  hostStats: HostRunStats[];
}

/** A dispatch's layout, kept for its combine. */
export interface LowLatencyHandle {
  readonly id: number;
  readonly kind: 'low-latency';
  readonly numTokens: number[];
  readonly topkIdx: Int32Array[];
  /** Per rank, per (local expert le, source rank s) at `le * ranks + s`: rows received and first packed row. */
  readonly recvCount: Int32Array[];
  readonly recvBegin: Int32Array[];
  /** Per rank, per local expert, source token of each packed row (real-data mode, after the receive phase). */
  srcInfo: Int32Array[] | null;
}

/** Result of `lowLatencyDispatch`. In hook mode `recv` is filled by `hook()`. */
export interface LowLatencyDispatchResult {
  readonly kind: 'low-latency-dispatch';
  /** Per rank packed rows (empty until received; empty in sizes-only mode). */
  recv: LowLatencyRecv[];
  /** Per rank, rows received per local expert. */
  readonly recvCount: number[][];
  readonly handle: LowLatencyHandle;
  readonly timing: LowLatencyTiming;
  /** The receive phase has run. */
  readonly received: boolean;
  /** Hook mode: run the receive phase (once). One-kernel mode: does nothing, as DeepEP's empty hook. */
  hook(run?: RunOptions): Promise<void>;
}

/** Input of `lowLatencyCombine`. */
export interface LowLatencyCombineInput {
  /** Per rank [localExperts][maxTokens * ranks][hidden] expert outputs in the packed layout, BF16 bits or float32 (omit in sizes-only mode). */
  x?: Array<Uint16Array | Float32Array>;
  /** Per rank [tokens][topk] expert ids: the dispatch's (default: the handle's). */
  topkIdx?: Int32Array[];
  /** Per rank [tokens][topk] weights the rows are reduced with (required with data). */
  topkWeights?: ArrayLike<number>[];
  handle: LowLatencyHandle;
  returnRecvHook?: boolean;
  /** As `LowLatencyDispatchInput.launchDelayUs`. */
  launchDelayUs?: number[];
}

/** Result of `lowLatencyCombine`. In hook mode `x` is filled by `hook()`. */
export interface LowLatencyCombineResult {
  readonly kind: 'low-latency-combine';
  /** Per rank [tokens][hidden] BF16 bits (empty until received; empty in sizes-only mode). */
  x: Uint16Array[];
  readonly timing: LowLatencyTiming;
  readonly received: boolean;
  hook(run?: RunOptions): Promise<void>;
}

/** Whether a dispatch result comes from `lowLatencyDispatch`. */
export function isLowLatencyDispatch(d: unknown): d is LowLatencyDispatchResult {
  return typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'low-latency-dispatch';
}

/** The shape of the layer, as the low-latency side needs it. */
export interface LowLatencyShape {
  numExperts: number;
  hidden: number;
  topk: number;
  sizesOnly: boolean;
}

/** The low-latency state of one expert-parallel layer. */
export class LowLatencyEp {
  readonly maxTokens: number;
  readonly launch: LowLatencyLaunch;
  readonly sizes: LowLatencySizes;
  /** `lowLatencyRdmaSizeHint` of this layer, bytes per rank. */
  readonly rdmaBytes: number;
  private calls = 0;
  private handles = 0;
  /** Per set, the call whose receive phase is pending (it holds the set), or null. */
  private held: Array<string | null> = [null, null];
  /** Per set, its signals wait to be zeroed until its holder's receive phase has run. */
  private cleanAfterHook = [false, false];
  private registered = false;

  constructor(readonly cluster: Cluster, readonly shape: LowLatencyShape, o: LowLatencyOptions) {
    const where = 'createExpertParallel: lowLatency';
    if (typeof o !== 'object' || o === null) fail('E_CONFIG', `${where} must be an object { maxDispatchTokensPerRank }, got ${showValue(o)}`, { field: 'lowLatency', value: o });
    const T = o.maxDispatchTokensPerRank;
    if (typeof T !== 'number' || !Number.isInteger(T) || T < 1)
      fail('E_CONFIG', `${where}.maxDispatchTokensPerRank must be an integer >= 1, got ${showValue(T)}`, { field: 'lowLatency.maxDispatchTokensPerRank', value: T });
    if (T > LL_MAX_TOKENS_PER_RANK)
      fail('E_CONFIG', `${where}.maxDispatchTokensPerRank ${T} is over ${LL_MAX_TOKENS_PER_RANK}: DeepEP's low-latency kernels refuse more than ${LL_MAX_TOKENS_PER_RANK} tokens per rank`, { field: 'lowLatency.maxDispatchTokensPerRank', value: T, max: LL_MAX_TOKENS_PER_RANK });
    this.maxTokens = T;
    const hw = cluster.config.hardware;
    this.launch = lowLatencyLaunch(shape.numExperts, hw.smCount);
    if (this.launch.warpsPerGroup < 1)
      fail('E_CONFIG', `${where}: ${shape.numExperts} experts need ${this.launch.numWarpGroups} warp groups per SM on ${hw.smCount} SMs, more than the ${LL_WARPS_PER_SM} warps of an SM`, { field: 'numExperts', value: shape.numExperts });
    if (this.launch.numWarpGroups * this.launch.warpsPerGroup < shape.topk + 1)
      fail('E_CONFIG', `${where}: top-${shape.topk} needs ${shape.topk + 1} warps per SM (one per expert of a token, one counting), the launch has ${this.launch.numWarpGroups * this.launch.warpsPerGroup}`, { field: 'topk', value: shape.topk });
    if (shape.hidden % LL_SCALE_GROUP !== 0)
      fail('E_CONFIG', `${where}: hidden must be a multiple of ${LL_SCALE_GROUP} (per-128 FP8 scales, DeepEP's layout), got ${shape.hidden}`, { field: 'hidden', value: shape.hidden });
    this.sizes = lowLatencySizes(T, shape.hidden, shape.numExperts);
    this.rdmaBytes = this.sizes.hintBytes;
    if (this.rdmaBytes > hw.hbmBytes)
      fail('E_MEMORY', `${where}: the low-latency RDMA buffer (lowLatencyRdmaSizeHint ${formatBytes(this.rdmaBytes)} per rank, T ${T}, hidden ${shape.hidden}, ${shape.numExperts} experts) is over the ${formatBytes(hw.hbmBytes)} of HBM of ${hw.name}`, { bytes: this.rdmaBytes, capacity: hw.hbmBytes });
  }

  private get R(): number {
    return this.cluster.numRanks;
  }

  private get epr(): number {
    return this.shape.numExperts / this.R;
  }

  /** Register the RDMA buffer (whole in real-data mode; its signals only in sizes-only mode) and the local counters. */
  private ensureBuffers(where: string): void {
    if (this.registered) return;
    const c = this.cluster;
    if (!this.shape.sizesOnly) {
      const P = packedOffsets(this.epr, this.R, this.maxTokens, this.shape.hidden, 'fp8');
      const per = this.rdmaBytes + 2 * (P.bytes + 4 * this.epr * this.R * this.maxTokens * this.shape.hidden);
      const lim = hostMemoryLimit();
      if (per * this.R > lim.bytes)
        fail('E_LIMIT', `${where}: real-data low-latency buffers need ${formatBytes(per * this.R)} of host memory (${formatBytes(per)} per rank), over the limit of ${formatBytes(lim.bytes)} (${lim.source}); use sizesOnly, or lower maxDispatchTokensPerRank, hidden or the experts`, { bytes: per * this.R, limit: lim.bytes });
    }
    for (let r = 0; r < this.R; r++) {
      c.ensureRegion(r, LL_BUF, this.shape.sizesOnly ? 2 * this.sizes.signalBytes : this.rdmaBytes);
      c.ensureRegion(r, LL_LOCAL, (this.shape.numExperts + 1) * 4);
    }
    this.registered = true;
  }

  /** Take the next buffer set for a call, or refuse a third live result. */
  private takeSet(what: string): number {
    const set = this.calls % 2;
    const holder = this.held[set];
    if (holder !== null)
      fail('E_ARGUMENT', `${what}: buffer set ${set} is still held by ${holder}, whose receive hook has not run; DeepEP's low-latency kernels alternate two buffer sets, so at most two results are live: call that hook first`, { rule: 'two-buffer-sets', set, heldBy: holder });
    // This kernel zeroes the other set's signals (deferred while that set's receive is pending).
    const other = set ^ 1;
    if (this.held[other] === null) this.zeroSignals(other);
    else this.cleanAfterHook[other] = true;
    this.calls++;
    return set;
  }

  private zeroSignals(set: number): void {
    const off = setOffsets(this.sizes, set).signal >> 2;
    for (let r = 0; r < this.R; r++) this.cluster.region(r, LL_BUF).i32.fill(0, off, off + this.sizes.signalBytes / 4);
  }

  private release(set: number): void {
    this.held[set] = null;
    if (this.cleanAfterHook[set]) {
      this.cleanAfterHook[set] = false;
      this.zeroSignals(set);
    }
  }

  private checkPerRank(a: unknown, name: string, where: string): void {
    if (!Array.isArray(a) || a.length !== this.R)
      fail('E_ARGUMENT', `${where}: '${name}' must be an array with one entry per rank (${this.R}), got ${Array.isArray(a) ? `length ${a.length}` : typeof a}`, { argument: name });
  }

  private checkTopk(topkIdx: unknown, where: string): number[] {
    this.checkPerRank(topkIdx, 'topkIdx', where);
    const K = this.shape.topk;
    const E = this.shape.numExperts;
    return (topkIdx as unknown[]).map((t, r) => {
      if (!(t instanceof Int32Array) || t.length % K !== 0)
        fail('E_ARGUMENT', `${where}: topkIdx[${r}] must be an Int32Array of [tokens][${K}], got ${ArrayBuffer.isView(t) ? `${t.constructor.name}(${(t as Int32Array).length})` : typeof t}`, { argument: `topkIdx[${r}]` });
      const T = t.length / K;
      if (T > this.maxTokens)
        fail('E_ARGUMENT', `${where}: rank ${r} has ${T} tokens, over maxDispatchTokensPerRank ${this.maxTokens} (the buffers' slots per expert and source rank; DeepEP allows at most ${LL_MAX_TOKENS_PER_RANK})`, { argument: `topkIdx[${r}]`, tokens: T, max: this.maxTokens });
      for (let i = 0; i < t.length; i++)
        if (t[i]! < -1 || t[i]! >= E)
          fail('E_ROUTING', `${where}: topkIdx[${r}][${Math.floor(i / K)}][${i % K}] = ${t[i]} is outside [-1, ${E})`, { argument: `topkIdx[${r}]`, value: t[i] });
      for (let i = 0; i < T; i++)
        for (let j = 0; j < K; j++) {
          const e = t[i * K + j]!;
          for (let k = 0; k < j && e >= 0; k++)
            if (t[i * K + k] === e) fail('E_ROUTING', `${where}: topkIdx[${r}][${i}] names expert ${e} twice; a token's top-k experts are distinct`, { argument: `topkIdx[${r}]`, value: e });
        }
      return T;
    });
  }

  /** Rows each rank receives per (local expert, source rank), packed in source-rank order. */
  private plan(topkIdx: Int32Array[]): { count: Int32Array[]; begin: Int32Array[] } {
    const R = this.R;
    const epr = this.epr;
    const count = Array.from({ length: R }, () => new Int32Array(epr * R));
    for (let s = 0; s < R; s++)
      for (const e of topkIdx[s]!) {
        if (e < 0) continue;
        const d = (e / epr) | 0;
        count[d]![(e - d * epr) * R + s]!++;
      }
    const begin = count.map((c) => {
      const b = new Int32Array(c.length);
      for (let le = 0; le < epr; le++) {
        let acc = 0;
        for (let s = 0; s < R; s++) {
          b[le * R + s] = acc;
          acc += c[le * R + s]!;
        }
      }
      return b;
    });
    return { count, begin };
  }

  private args(numTokens: number[], set: number, phases: number, dtype: DispatchDtype, ue8m0: boolean, p: { count: Int32Array[]; begin: Int32Array[] }, delay: number[] | null = null): LlArgs {
    return {
      numExperts: this.shape.numExperts, topk: this.shape.topk, hidden: this.shape.hidden, maxTokens: this.maxTokens, numTokens, dtype, ue8m0,
      sizesOnly: this.shape.sizesOnly, set, phases, launch: this.launch, recvCount: p.count, recvBegin: p.begin, launchDelayUs: delay,
    };
  }

  /** The launch delays of a call: one finite non-negative number per rank, or null. */
  private checkDelay(d: unknown, where: string): number[] | null {
    if (d === undefined) return null;
    this.checkPerRank(d, 'launchDelayUs', where);
    (d as unknown[]).forEach((v, r) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        fail('E_ARGUMENT', `${where}: launchDelayUs[${r}] must be a finite number >= 0 (us), got ${showValue(v)}`, { argument: `launchDelayUs[${r}]`, value: v });
    });
    return (d as number[]).slice();
  }

  private writeTopk(set: number, topkIdx: Int32Array[]): void {
    for (let r = 0; r < this.R; r++) {
      const reg = this.cluster.ensureRegion(r, llTopk(set), this.maxTokens * this.shape.topk * 4);
      reg.i32.fill(-1);
      reg.i32.set(topkIdx[r]!);
    }
  }

  /** DeepEP's `low_latency_dispatch`. */
  async dispatch(input: LowLatencyDispatchInput, run: RunOptions = {}): Promise<LowLatencyDispatchResult> {
    const where = 'lowLatencyDispatch';
    if (typeof input !== 'object' || input === null) fail('E_ARGUMENT', `${where}: input must be an object, got ${showValue(input)}`, { argument: 'input' });
    const numTokens = this.checkTopk(input.topkIdx, where);
    const H = this.shape.hidden;
    const useFp8 = input.useFp8 ?? true;
    const ue8m0 = input.ue8m0 ?? false;
    const hookMode = input.returnRecvHook ?? false;
    for (const [k, v] of [['useFp8', useFp8], ['ue8m0', ue8m0], ['returnRecvHook', hookMode]] as const)
      if (typeof v !== 'boolean') fail('E_ARGUMENT', `${where}: '${k}' must be a boolean, got ${showValue(v)}`, { argument: k });
    if (ue8m0 && !useFp8) fail('E_ARGUMENT', `${where}: ue8m0 scales need useFp8`, { argument: 'ue8m0' });
    const delay = this.checkDelay(input.launchDelayUs, where);
    const real = !this.shape.sizesOnly;
    if (real) {
      this.checkPerRank(input.x, 'x', where);
      input.x!.forEach((x, r) => {
        if (!(x instanceof Uint16Array) || x.length !== numTokens[r]! * H)
          fail('E_ARGUMENT', `${where}: x[${r}] must be a Uint16Array of BF16 bits with ${numTokens[r]} x ${H} values, got ${ArrayBuffer.isView(x) ? `${x.constructor.name}(${(x as Uint16Array).length})` : typeof x}`, { argument: `x[${r}]` });
      });
    }
    this.ensureBuffers(where);
    const set = this.takeSet(where);
    const dtype: DispatchDtype = useFp8 ? 'fp8' : 'bf16';
    const c = this.cluster;
    this.writeTopk(set, input.topkIdx);
    const P = packedOffsets(this.epr, this.R, this.maxTokens, H, dtype);
    if (real)
      for (let r = 0; r < this.R; r++) {
        const reg = c.ensureRegion(r, llX(set), Math.max(16, this.maxTokens * H * 2));
        new Uint16Array(reg.buffer, 0, numTokens[r]! * H).set(input.x![r]!);
        c.ensureRegion(r, llPacked(set), P.bytes).u8.fill(0);
      }
    const p = this.plan(input.topkIdx);
    const handle: LowLatencyHandle = {
      id: ++this.handles, kind: 'low-latency', numTokens, topkIdx: input.topkIdx.map((t) => t.slice()), recvCount: p.count, recvBegin: p.begin, srcInfo: null,
    };
    const recvCount = p.count.map((cnt) => Array.from({ length: this.epr }, (_, le) => {
      let n = 0;
      for (let s = 0; s < this.R; s++) n += cnt[le * this.R + s]!;
      return n;
    }));
    const phases = hookMode ? PHASE_SEND : PHASE_SEND | PHASE_RECV;
    const launchUs = c.config.hardware.kernelLaunchUs;
    const w0 = performance.now();
    const k = await c.run<{ sendEndUs: number }>('ep.ll.dispatch', this.args(numTokens, set, phases, dtype, ue8m0, p, delay), run);
    const timing = timingOf(k, launchUs, hookMode ? 'hook' : 'one-kernel', delay, performance.now() - w0);
    const result = {
      kind: 'low-latency-dispatch' as const, recv: [] as LowLatencyRecv[], recvCount, handle, timing, received: false,
      hook: async (_run?: RunOptions) => {},
    };
    const finish = () => {
      result.received = true;
      if (!real) return;
      result.recv = Array.from({ length: this.R }, (_, r) => this.unpack(r, set, dtype, p, recvCount[r]!));
      handle.srcInfo = result.recv.map((x) => x.srcInfo);
    };
    if (!hookMode) {
      finish();
      return result;
    }
    this.held[set] = `lowLatencyDispatch #${handle.id} (buffer set ${set})`;
    let hooked = false;
    result.hook = async (r2: RunOptions = {}) => {
      if (hooked) fail('E_ARGUMENT', `lowLatencyDispatch hook: the receive phase of dispatch #${handle.id} has already run`, { argument: 'hook' });
      hooked = true;
      const w1 = performance.now();
      const k2 = await c.run<{ sendEndUs: number }>('ep.ll.dispatch', this.args(numTokens, set, PHASE_RECV, dtype, ue8m0, p), r2);
      addRecv(timing, k2, launchUs, performance.now() - w1);
      this.release(set);
      finish();
    };
    return result;
  }

  /** Copy rank r's packed output out of its region. */
  private unpack(r: number, set: number, dtype: DispatchDtype, p: { count: Int32Array[]; begin: Int32Array[] }, perExpert: number[]): LowLatencyRecv {
    const H = this.shape.hidden;
    const P = packedOffsets(this.epr, this.R, this.maxTokens, H, dtype);
    const buf = this.cluster.region(r, llPacked(set)).buffer;
    const x = dtype === 'fp8'
      ? { q: new Uint8Array(buf.slice(P.x, P.x + P.rows * H)), scales: new Float32Array(buf.slice(P.scales, P.src)) }
      : new Uint16Array(buf.slice(P.x, P.x + P.rows * 2 * H));
    const layoutRange = new Int32Array(this.epr * this.R * 2);
    for (let i = 0; i < this.epr * this.R; i++) {
      layoutRange[2 * i] = p.count[r]![i]!;
      layoutRange[2 * i + 1] = p.begin[r]![i]!;
    }
    return { x, count: Int32Array.from(perExpert), srcInfo: new Int32Array(buf.slice(P.src, P.src + P.rows * 4)), layoutRange };
  }

  /** DeepEP's `low_latency_combine`: rows back to their tokens, reduced with the top-k weights. */
  async combine(input: LowLatencyCombineInput, run: RunOptions = {}): Promise<LowLatencyCombineResult> {
    const where = 'lowLatencyCombine';
    if (typeof input !== 'object' || input === null) fail('E_ARGUMENT', `${where}: input must be an object, got ${showValue(input)}`, { argument: 'input' });
    const h = input.handle;
    if (typeof h !== 'object' || h === null || h.kind !== 'low-latency' || !Array.isArray(h.recvCount))
      fail('E_ARGUMENT', `${where}: a handle from lowLatencyDispatch() is required`, { argument: 'handle' });
    const real = !this.shape.sizesOnly;
    if (real && h.srcInfo === null) fail('E_ARGUMENT', `${where}: dispatch #${h.id} has not received yet: call its hook() first`, { argument: 'handle' });
    const hookMode = input.returnRecvHook ?? false;
    if (typeof hookMode !== 'boolean') fail('E_ARGUMENT', `${where}: 'returnRecvHook' must be a boolean, got ${showValue(hookMode)}`, { argument: 'returnRecvHook' });
    const delay = this.checkDelay(input.launchDelayUs, where);
    const topkIdx = input.topkIdx ?? h.topkIdx;
    const numTokens = this.checkTopk(topkIdx, where);
    topkIdx.forEach((t, r) => {
      const o = h.topkIdx[r]!;
      if (t.length !== o.length || t.some((v, i) => v !== o[i]))
        fail('E_ARGUMENT', `${where}: topkIdx[${r}] differs from the dispatch's; combine sends rows back by the dispatch's layout`, { argument: `topkIdx[${r}]` });
    });
    const H = this.shape.hidden;
    const K = this.shape.topk;
    const rowsPer = this.epr * this.R * this.maxTokens;
    if (real) {
      this.checkPerRank(input.x, 'x', where);
      this.checkPerRank(input.topkWeights, 'topkWeights', where);
      input.x!.forEach((y, r) => {
        if (!(y instanceof Uint16Array || y instanceof Float32Array) || y.length !== rowsPer * H)
          fail('E_ARGUMENT', `${where}: x[${r}] must hold [${this.epr}][${this.R * this.maxTokens}][${H}] = ${rowsPer * H} values (BF16 bits or float32), got ${ArrayBuffer.isView(y) ? `length ${(y as Uint16Array).length}` : typeof y}`, { argument: `x[${r}]` });
      });
      input.topkWeights!.forEach((w, r) => {
        if (w === null || typeof w !== 'object' || typeof (w as ArrayLike<number>).length !== 'number' || w.length !== numTokens[r]! * K)
          fail('E_ARGUMENT', `${where}: topkWeights[${r}] must hold ${numTokens[r]} x ${K} weights`, { argument: `topkWeights[${r}]` });
        for (let i = 0; i < w.length; i++)
          if (typeof w[i] !== 'number' || !Number.isFinite(w[i])) fail('E_NUMERIC', `${where}: topkWeights[${r}][${i}] is ${showValue(w[i])}; finite values are required`, { argument: `topkWeights[${r}]` });
      });
    }
    this.ensureBuffers(where);
    const set = this.takeSet(where);
    const c = this.cluster;
    this.writeTopk(set, topkIdx);
    if (real)
      for (let r = 0; r < this.R; r++) {
        const cx = new Uint16Array(c.ensureRegion(r, llCombineX(set), rowsPer * H * 2).buffer);
        const y = input.x![r]!;
        if (y instanceof Uint16Array) cx.set(y);
        else for (let i = 0; i < y.length; i++) cx[i] = toBF16Bits(y[i]!);
        new Int32Array(c.ensureRegion(r, llCombineSrc(set), rowsPer * 4).buffer).set(h.srcInfo![r]!);
        const w = new Float32Array(c.ensureRegion(r, llWeights(set), this.maxTokens * K * 4).buffer);
        w.fill(0);
        const src = input.topkWeights![r]!;
        for (let i = 0; i < src.length; i++) w[i] = src[i]!;
        c.ensureRegion(r, llOut(set), Math.max(16, this.maxTokens * H * 2)).u8.fill(0);
      }
    const p = { count: h.recvCount, begin: h.recvBegin };
    const launchUs = c.config.hardware.kernelLaunchUs;
    const phases = hookMode ? PHASE_SEND : PHASE_SEND | PHASE_RECV;
    const w0 = performance.now();
    const k = await c.run<{ sendEndUs: number }>('ep.ll.combine', this.args(numTokens, set, phases, 'bf16', false, p, delay), run);
    const timing = timingOf(k, launchUs, hookMode ? 'hook' : 'one-kernel', delay, performance.now() - w0);
    const result = { kind: 'low-latency-combine' as const, x: [] as Uint16Array[], timing, received: false, hook: async (_run?: RunOptions) => {} };
    const finish = () => {
      result.received = true;
      if (real) result.x = Array.from({ length: this.R }, (_, r) => new Uint16Array(c.region(r, llOut(set)).buffer.slice(0, numTokens[r]! * H * 2)));
    };
    if (!hookMode) {
      finish();
      return result;
    }
    this.held[set] = `lowLatencyCombine of dispatch #${h.id} (buffer set ${set})`;
    let hooked = false;
    result.hook = async (r2: RunOptions = {}) => {
      if (hooked) fail('E_ARGUMENT', `lowLatencyCombine hook: the receive phase has already run`, { argument: 'hook' });
      hooked = true;
      const w1 = performance.now();
      const k2 = await c.run<{ sendEndUs: number }>('ep.ll.combine', this.args(numTokens, set, PHASE_RECV, 'bf16', false, p), r2);
      addRecv(timing, k2, launchUs, performance.now() - w1);
      this.release(set);
      finish();
    };
    return result;
  }

  /**
   * Run each rank's local experts on a low-latency dispatch's packed rows: expert `le` of rank r on
   * rows `[le][0, count)`. Returns the outputs in the same packed layout, unweighted (the
   * low-latency combine applies the top-k weights), and charges compute-model time.
   */
  async runExperts(d: LowLatencyDispatchResult, experts: readonly Expert[], opts: RunExpertsOptions = {}, run: RunOptions = {}): Promise<ExpertsResult> {
    const where = 'runExperts';
    if (this.shape.sizesOnly) fail('E_ARGUMENT', `${where}: not available in sizes-only mode (no payload); charge compute with the compute model instead`, {});
    if (!d.received) fail('E_ARGUMENT', `${where}: the low-latency dispatch has not received yet: call its hook() first`, { argument: 'd' });
    if (!Array.isArray(experts) || experts.length !== this.shape.numExperts)
      fail('E_ARGUMENT', `${where}: 'experts' must list ${this.shape.numExperts} experts, got ${Array.isArray(experts) ? experts.length : typeof experts}`, { argument: 'experts' });
    const H = this.shape.hidden;
    const slots = this.R * this.maxTokens;
    const y: Float32Array[] = [];
    const perRankUs: number[] = [];
    for (let r = 0; r < this.R; r++) {
      const rv = d.recv[r]!;
      const out = new Float32Array(this.epr * slots * H);
      const perExpert: number[] = [];
      for (let le = 0; le < this.epr; le++) {
        const n = rv.count[le]!;
        perExpert.push(n);
        if (n === 0) continue;
        const ge = r * this.epr + le;
        const rows = rv.x instanceof Uint16Array
          ? fromBF16Array(rv.x.subarray(le * slots * H, (le * slots + n) * H))
          : dequantizePerTile(rv.x.q.subarray(le * slots * H, (le * slots + n) * H), rv.x.scales.subarray((le * slots * H) / LL_SCALE_GROUP, ((le * slots + n) * H) / LL_SCALE_GROUP), n, H);
        const ex = experts[ge];
        if (ex === undefined) fail('E_ARGUMENT', `${where}: no expert given for expert ${ge} (rank ${r})`, { argument: 'experts', expert: ge });
        const o = typeof ex === 'function' ? ex(rows, n, ge) : expertFfn(rows, n, ex);
        if (!(o instanceof Float32Array) || o.length !== n * H) fail('E_ARGUMENT', `${where}: expert ${ge} returned ${(o as Float32Array)?.length} values, expected ${n * H}`, { expert: ge });
        out.set(o, le * slots * H);
      }
      y.push(out);
      const first = experts[r * this.epr];
      const inter = opts.intermediate ?? (first && typeof first !== 'function' ? first.intermediate : 2048);
      perRankUs.push(expertsTimeUs(this.cluster, perExpert, H, opts, inter));
    }
    const timeUs = await chargeCompute(this.cluster, perRankUs, run);
    return { y, perRankUs, timeUs };
  }
}

function timingOf(k: OpResult<{ sendEndUs: number }>, launchUs: number, mode: 'one-kernel' | 'hook', delay: number[] | null, runWallMs: number): LowLatencyTiming {
  const start = k.startUs + launchUs;
  const delayPerRankUs = k.rankEndUs.map((_, r) => delay?.[r] ?? 0);
  // Durations from the operation's own clock (sendEndUs and rankTimeUs are from its start).
  const sendPerRankUs = k.results.map((x, r) => x.sendEndUs - launchUs - delayPerRankUs[r]!);
  // Hook mode: the send kernel ends with its SMs' work; the NIC goes on with what they posted.
  const perRankUs = mode === 'hook' ? sendPerRankUs.slice() : k.rankTimeUs.map((e, r) => e - launchUs - delayPerRankUs[r]!);
  const recvPerRankUs = mode === 'hook' ? null : perRankUs.map((t, r) => t - sendPerRankUs[r]!);
  return {
    mode, launchUs, startUs: start, kernelUs: Math.max(...perRankUs), perRankUs, sendPerRankUs, recvPerRankUs,
    delayPerRankUs, endPerRankUs: perRankUs.map((t, r) => t + delayPerRankUs[r]!),
    sendUs: Math.max(...sendPerRankUs), recvUs: recvPerRankUs ? Math.max(...recvPerRankUs) : null, events: k.events, windows: k.windows,
    runWallMs, hostCpuMs: k.hostCpuMs.slice(), hostStats: k.hostStats.map((h) => ({ ...h })),
  };
}

/** Hook mode: add the receive kernel's figures. */
function addRecv(t: LowLatencyTiming, k: OpResult<unknown>, launchUs: number, runWallMs: number): void {
  t.runWallMs += runWallMs;
  t.recvPerRankUs = k.rankTimeUs.map((e) => e - launchUs);
  t.recvUs = Math.max(...t.recvPerRankUs);
  t.perRankUs = t.sendPerRankUs.map((s, r) => s + t.recvPerRankUs![r]!);
  t.kernelUs = t.sendUs + t.recvUs;
  t.events += k.events;
  t.windows += k.windows;
  t.hostCpuMs = t.hostCpuMs.map((c, w) => c + (k.hostCpuMs[w] ?? NaN));
  t.hostStats = t.hostStats.map((h, w) => {
    const o = k.hostStats[w];
    if (!o) return h;
    return {
      busyMs: h.busyMs + o.busyMs, waitMs: h.waitMs + o.waitMs, sleeps: h.sleeps + o.sleeps, emptyWindows: h.emptyWindows + o.emptyWindows,
      onCpuMs: h.onCpuMs + o.onCpuMs, runQueueMs: h.runQueueMs + o.runQueueMs,
    };
  });
}
