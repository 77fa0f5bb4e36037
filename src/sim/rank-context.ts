/**
 * @module
 * What a task sees of its simulated GPU: identity, virtual time, registered memory, one-sided
 * operations on peers, and the waits it can yield. One context per rank, shared by its tasks.
 */
import { fail } from '../errors.js';
import type { Region } from '../transport/memory.js';
import { FLAG_NO_DATA, FLAG_WANT_ACK } from '../transport/packets.js';
import {
  CMP_EQ, CMP_GE, CMP_NE, OP_ADD, OP_PUT, WAIT_ANY, WAIT_COUNTER, WAIT_READ, WAIT_SLEEP, WAIT_TASKS, WAIT_TRANSFER,
} from '../transport/protocol.js';
import type { Engine } from './engine.js';
import { makeWait, type CounterCondition, type KernelTag, type RoleStep, type Task, type TaskBody, type TaskGroup, type TransferHandle, type Wait } from './task.js';

/** Options of a put. */
export interface PutOptions {
  /** Ask for a delivery acknowledgement, so a task can `yield ctx.delivered(handle)`. */
  ack?: boolean;
  /** Move no payload bytes: only the timing (sizes-only mode). */
  sizesOnly?: boolean;
  /**
   * Put with signal: add `value` to the destination's int32 counter at byte `offset` of `region`
   * when the data is delivered (a tail released after the data, in one transfer).
   */
  signal?: { region: Region; offset: number; value: number };
  /**
   * Post it as an RDMA work request on queue pair `qp` (0..31) of the pair: across nodes it then
   * runs at most at the QP's rate (`hardware.ibQpGBps`) and in order with that QP's other requests.
   * Without it a transfer is a plain flow (as runTraffic moves them).
   */
  qp?: number;
}

export class RankContext {
  readonly node: number;
  readonly localIndex: number;
  /** The operation's task group this context currently runs for (set by the host per op). */
  group: TaskGroup | null = null;
  /** Per-rank state an operation keeps between its prepare, tasks and finish (cleared per op). */
  state: Record<string, unknown> = {};

  constructor(private readonly engine: Engine, readonly rank: number) {
    this.node = Math.floor(rank / engine.shape.gpusPerNode);
    this.localIndex = rank % engine.shape.gpusPerNode;
  }

  get numRanks(): number {
    return this.engine.shape.numRanks;
  }
  get gpusPerNode(): number {
    return this.engine.shape.gpusPerNode;
  }
  get numNodes(): number {
    return this.engine.shape.numRanks / this.engine.shape.gpusPerNode;
  }
  /**
   * Current virtual time, us, on the engine's own clock: an operation that starts on an idle
   * cluster starts at 0 (see Engine.rebase). Compute every time from it (sleeps, deadlines).
   */
  get now(): number {
    return this.engine.now;
  }
  /** When the current operation started, on the engine's clock (set by the host per op). */
  opStartUs = 0;
  /**
   * Time since the current operation started, us: what a result reports as a duration (exact, the
   * same whatever ran before on the cluster).
   */
  get opTimeUs(): number {
    return this.engine.now - this.opStartUs;
  }
  /** Current virtual time on the cluster's clock (`Cluster.nowUs`'s), us: only to report. */
  get clusterTimeUs(): number {
    return this.engine.epochUs + this.engine.now;
  }
  get hardware() {
    return this.engine.shape.hardware;
  }

  /**
   * Publishes the state of this rank's streams to its GPU actor (set by the host; a no-op in a bare
   * engine).
   */
  onStreams: ((streams: Record<string, string>) => void) | null = null;

  /** The region-name prefix of the running task's kernel ('' outside a scheduled kernel). */
  private get scope(): string {
    return this.engine.current?.kernel?.scope ?? '';
  }

  /** This rank's registered region `name` (in the running kernel's scope). */
  region(name: string): Region {
    return this.engine.regions.lookup(this.rank, this.scope + name);
  }

  /** Rank `rank`'s registered region `name` (for addressing puts; its bytes are not yours to read). */
  peerRegion(rank: number, name: string): Region {
    return this.engine.regions.lookup(rank, this.scope + name);
  }

  /**
   * One-sided write of `length` bytes from this rank's region `src` at `srcOffset` into `dst`'s
   * region at `dstOffset`. The source must stay unchanged until delivery (as with RDMA).
   */
  put(dst: Region, dstOffset: number, src: Region | null, srcOffset: number, length: number, opts?: PutOptions): TransferHandle {
    const flags = (opts?.ack ? FLAG_WANT_ACK : 0) | (opts?.sizesOnly || src === null ? FLAG_NO_DATA : 0);
    const sig = opts?.signal;
    const x = this.engine.issue(
      this.rank, dst.rank, OP_PUT, length, src ? src.id : -1, srcOffset, dst.id, dstOffset, sig ? sig.value : 0, flags,
      sig ? sig.region.id : -1, sig ? sig.offset : -1, opts?.qp ?? -1,
    );
    // (Made here: inlined into a role that drops it, the handle is never made, nor boxed.)
    return this.engine.xf.handle(x);
  }

  /** Sizes-only transfer of `length` bytes to `dst` with no destination region (optionally with a signal). */
  send(dst: number, length: number, opts?: { ack?: boolean; signal?: { region: Region; offset: number; value: number }; qp?: number }): TransferHandle {
    const sig = opts?.signal;
    const x = this.engine.issue(
      this.rank, dst, OP_PUT, length, -1, 0, -1, 0, sig ? sig.value : 0, FLAG_NO_DATA | (opts?.ack ? FLAG_WANT_ACK : 0),
      sig ? sig.region.id : -1, sig ? sig.offset : -1, opts?.qp ?? -1,
    );
    return this.engine.xf.handle(x);
  }

  /**
   * Remote atomic add of `value` on the int32 counter at byte `offset` of `dst`, FIFO after earlier
   * puts of the same stream (with `qp`: an RDMA atomic on that queue pair, after its writes).
   */
  atomicAdd(dst: Region, offset: number, value: number, opts?: { ack?: boolean; qp?: number }): TransferHandle {
    if ((offset & 3) !== 0) fail('E_REGION', `atomic add offset ${offset} in '${dst.name}' is not 4-byte aligned`, { offset });
    const x = this.engine.issue(this.rank, dst.rank, OP_ADD, 4, -1, 0, dst.id, offset, value, opts?.ack ? FLAG_WANT_ACK : 0, -1, -1, opts?.qp ?? -1);
    return this.engine.xf.handle(x);
  }

  /** Wait `us` microseconds of virtual time (compute, copies). */
  sleep(us: number): Wait {
    // Kept small, so V8 inlines it before larger calls: a float passed to a call that is not
    // inlined is boxed as a heap number (an allocation per sleep). The largest role steps still
    // spend V8's whole inlining budget before it (see docs/runtime.md); code that computes the
    // duration fills the record itself ({@link sleepWait}).
    const w = this.sleepWait();
    w.us = us;
    return w;
  }

  /**
   * The running task's sleep record, reused (yield it at once); a new one outside a task. Its
   * duration is the caller's to set (`w.us = ...`): the SM clocks' `sleep*` compute the duration and
   * write it here rather than pass it to {@link sleep}, which their callers may not inline.
   */
  sleepWait(): { kind: typeof WAIT_SLEEP; us: number } {
    const t = this.engine.current;
    if (t === null) return makeWait(WAIT_SLEEP);
    return (t.sleepWait ??= this.engine.waitPool.take(WAIT_SLEEP));
  }

  /** Wait until this rank's int32 counter `region[index]` >= value; resumes with the counter value. */
  untilAtLeast(region: Region, index: number, value: number): Wait {
    return this.counterWait(region, index, CMP_GE, value);
  }

  /** Wait until `region[index]` != value (DeepEP's "0 means not yet arrived"). */
  untilNot(region: Region, index: number, value: number): Wait {
    return this.counterWait(region, index, CMP_NE, value);
  }

  /** Wait until `region[index]` == value. */
  untilEqual(region: Region, index: number, value: number): Wait {
    return this.counterWait(region, index, CMP_EQ, value);
  }

  private counterWait(region: Region, index: number, cmp: number, value: number): Wait {
    if (region.rank !== this.rank)
      fail('E_REGION', `rank ${this.rank} cannot poll region '${region.name}' of rank ${region.rank} locally; use read()`, { region: region.name });
    if (!(index >= 0 && index < region.i32.length) || !Number.isInteger(index))
      fail('E_REGION', `counter index ${index} outside region '${region.name}' (${region.i32.length} int32s)`, { index });
    const t = this.engine.current;
    if (t === null) return Object.assign(makeWait(WAIT_COUNTER), { region, index, cmp, value });
    // Yield it at once: the running task's counter-wait record is reused.
    const w = (t.counterWait ??= this.engine.waitPool.take(WAIT_COUNTER));
    w.region = region;
    w.index = index;
    w.cmp = cmp;
    w.value = value;
    return w;
  }

  /** A condition `region[index] >= value` for {@link untilAny}. */
  atLeast(region: Region, index: number, value: number): CounterCondition {
    this.counterWait(region, index, CMP_GE, value);
    return { region, index, cmp: CMP_GE, value };
  }

  /**
   * Wait until any of several conditions on this rank's counters holds; resumes with the index of
   * the first one that does (a warp polling several queues). The conditions are checked when the
   * wait starts and whenever one of their counters moves through the engine ({@link store},
   * {@link addLocal}, a transfer or atomic landing): a counter written directly into `region.i32`
   * wakes nobody, here as for every other wait.
   */
  untilAny(conds: readonly CounterCondition[]): Wait {
    if (conds.length === 0) fail('E_TASK', `rank ${this.rank}: untilAny() needs at least one condition`, { rank: this.rank });
    return Object.assign(makeWait(WAIT_ANY), { conds });
  }

  /** Store `value` into this rank's int32 `region[index]` and wake local waiters. */
  store(region: Region, index: number, value: number): void {
    region.i32[index] = value;
    this.engine.wakeCounter(region, index);
  }

  /** Add `delta` to this rank's int32 `region[index]` and wake local waiters. */
  addLocal(region: Region, index: number, delta: number): number {
    const v = (region.i32[index] = region.i32[index]! + delta);
    this.engine.wakeCounter(region, index);
    return v;
  }

  /** Explicit remote read of a peer's int32 `region[index]`; resumes with the value after a round trip. */
  read(region: Region, index: number): Wait {
    if (!Number.isInteger(index) || index < 0 || index >= region.i32.length)
      fail('E_REGION', `read index ${index} outside region '${region.name}' of rank ${region.rank}`, { index });
    const t = this.engine.current;
    if (t === null) return Object.assign(makeWait(WAIT_READ), { peer: region.rank, region, index });
    // Yield it at once: the running task's read record is reused.
    const w = (t.readWait ??= this.engine.waitPool.take(WAIT_READ));
    w.peer = region.rank;
    w.region = region;
    w.index = index;
    return w;
  }

  /** Wait for a put or add issued with `{ ack: true }` to be delivered (the ack has come back). */
  delivered(h: TransferHandle): Wait {
    const t = this.engine.current;
    if (t === null) return Object.assign(makeWait(WAIT_TRANSFER), { transfer: h });
    // Yield it at once: the running task's record is reused.
    const w = (t.transferWait ??= this.engine.waitPool.take(WAIT_TRANSFER));
    w.transfer = h;
    return w;
  }

  /** Start a child task on this rank, in the current operation. */
  spawn(name: string, body: TaskBody | RoleStep): Task {
    if (!this.group) fail('E_TASK', `rank ${this.rank}: spawn('${name}') outside an operation`, { rank: this.rank });
    return this.engine.spawn(this.rank, name, body, this.group);
  }

  /**
   * Start a child task that nobody keeps or joins (a NIC's work request): its task record is
   * reused once it ends, so a role posting one per chunk allocates no task per chunk.
   */
  spawnDetached(name: string, role: RoleStep): void {
    if (!this.group) fail('E_TASK', `rank ${this.rank}: spawn('${name}') outside an operation`, { rank: this.rank });
    this.engine.spawnDetached(this.rank, name, role, this.group);
  }

  /** Start a task of kernel `kernel` (its regions scoped, its failure reported to it). */
  launch(name: string, body: TaskBody, kernel: KernelTag): Task {
    if (!this.group) fail('E_TASK', `rank ${this.rank}: launch('${name}') outside an operation`, { rank: this.rank });
    return this.engine.spawn(this.rank, name, body, this.group, this.engine.now, kernel);
  }

  /** Wait for tasks to finish. */
  join(tasks: readonly Task[]): Wait {
    return Object.assign(makeWait(WAIT_TASKS), { tasks });
  }

  /**
   * Record a change of `delta` in counter series `series` of this rank at the current time (for
   * traces: e.g. tokens buffered in its receive rings). Free when traces are not recorded
   * (EngineShape.recordTraces).
   */
  sample(series: number, delta: number): void {
    if (this.engine.recordsTraces && delta !== 0) this.engine.samples.recordAt(this.engine, this.rank, series, delta);
  }

  /**
   * Whether {@link activitySpan} records anything (traces are recorded: EngineShape.recordTraces). A
   * caller on the steady path checks it before the call: the call's float times are boxed where V8
   * does not inline it.
   */
  get recordsActivity(): boolean {
    return this.engine.recordsTraces;
  }

  /**
   * Where a caller on the steady path writes a slice's start and end before {@link activitySpan}
   * (the floats are not arguments: boxed where V8 does not inline the call). Only while
   * {@link recordsActivity}.
   */
  get activityTimes(): Float64Array {
    return this.engine.activities.span;
  }

  /** Record that this rank was busy on `track` doing `label` over the span in {@link activityTimes} (for traces). */
  activitySpan(track: number, label: number): void {
    if (this.engine.recordsTraces) this.engine.activities.recordSpan(this.rank, track, label);
  }

  /**
   * Ask this rank's engine to record link figures (true) until a matching `recordLinks(false)`:
   * port busy periods and sender rate segments, as activities on link tracks (see timeline.ts).
   */
  recordLinks(on: boolean): void {
    this.engine.recordLinksFor(on ? 1 : -1);
  }

  /** Set this rank's result for the current operation (returned to the caller on the main thread). */
  setResult(value: unknown): void {
    if (this.group) this.group.result = value;
  }
}
