/**
 * @module
 * The main-thread side of a cluster: it starts and supervises the host workers, registers memory,
 * starts operations and collects their results, and mirrors every rank's actor state through typed
 * events. The hosts run an operation window by window among themselves (conservative
 * synchronisation on shared memory, see actors/window-sync.ts): the main thread sends two messages
 * per host per operation and none per window; it only wakes the hosts (close, abort, a dead
 * worker) and reads their progress.
 */
import { EventEmitter } from 'eventemitter3';
import { ExpertmeshError, fail, fromWireError, showValue } from '../errors.js';
import { InProcessHostChannel, InProcessHostGroup, WorkerHostChannel, type HostChannel } from '../actors/host-channel.js';
import { opRegistry } from '../actors/op-registry.js';
import { createSyncBuffers, SyncBlock, type SyncBuffers } from '../actors/window-sync.js';
import { SYNC_ABORT_CLOSE, SYNC_ABORT_DEATH, SYNC_ABORT_NONE, SYNC_ABORT_SIGNAL, SYNC_F_NEXT } from '../transport/protocol.js';
import type { HostReply, HostRequest, HostRunStats } from '../actors/host-messages.js';
import type { HostHeapProfile } from '../actors/heap-sampler.js';
import type { RankSnapshot } from '../actors/gpu-machine.js';
import { LinkModel } from '../transport/links.js';
import { RegionTable, type Region } from '../transport/memory.js';
import {
  ACTIVITY_STRIDE, ACTIVITY_TIME_FIELDS, canonicalActivities, canonicalSamples, canonicalTimeline, flatOnClock, gatherTimeline, SAMPLE_STRIDE, SAMPLE_TIME_FIELDS,
  returnTimelineChunks, TIMELINE_STRIDE, timelineBlocks, timelineViews, type ClockView, type TimelinePart,
} from '../sim/timeline.js';
import type { BlockedTask } from '../sim/engine.js';
import { resolveClusterConfig, type ClusterConfig, type ResolvedClusterConfig } from './config.js';

/** Events a cluster emits on the main thread. */
export interface ClusterEvents {
  /** A rank's actor changed state (idle, busy with an operation, failed). */
  rankState: [snapshot: RankSnapshot];
  /** A host worker died; its ranks are failed. */
  workerDied: [worker: number, ranks: number[], reason: string];
  /** Progress of a running operation: virtual time reached. */
  progress: [op: string, timeUs: number];
}

/** Result of one operation across all ranks. */
export interface OpResult<R = unknown> {
  /** Per-rank results, indexed by rank. */
  results: R[];
  /** Virtual time each rank finished, us, indexed by rank. */
  rankEndUs: number[];
  /** Virtual start and end (last rank to finish), us. */
  startUs: number;
  endUs: number;
  /**
   * How long the operation took, us (its last rank's end from its start), computed on the
   * operation's own clock: exact, and the same whatever ran on the cluster before (where `endUs -
   * startUs` may differ from it in the last bits; see docs/runtime.md, "One clock per operation").
   */
  timeUs: number;
  /** How long each rank took from the operation's start, us, indexed by rank (as `timeUs`). */
  rankTimeUs: number[];
  /** Windows (synchronisation rounds) the run took. */
  windows: number;
  /** Messages the main thread exchanged with hosts for the run (posted and received; none per window). */
  mainThreadMessages: number;
  /** CPU time each host thread spent in the run, ms (NaN where the platform does not tell; in-process hosts). */
  hostCpuMs: number[];
  /** Where each host's wall time went in the run (its windows, the barriers, waiting for a CPU), by host. */
  hostStats: HostRunStats[];
  /** Events processed by all hosts during the operation. */
  events: number;
  /** Transfers (puts, adds, reads) issued by all hosts during the operation: events per transfer is a cost figure. */
  transfers: number;
  /**
   * What each host's thread allocated on its heap during the run, by host (present only with the
   * cluster's `hostHeapSampling` on).
   */
  hostHeap?: HostHeapProfile[];
}

/** Options of {@link Cluster.run}. */
export interface RunOptions {
  signal?: AbortSignal;
  /** Called with the virtual time reached, at most once per window. */
  onProgress?: (timeUs: number) => void;
}

interface Pending {
  resolve: (r: HostReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
  /** Resolve with replies that carry an error (runs: every host's outcome is needed). */
  keepErrors: boolean;
}

export class Cluster extends EventEmitter<ClusterEvents> {
  readonly config: ResolvedClusterConfig;
  readonly links: LinkModel;
  /** Synchronisation window, us (Infinity with one worker): the smallest entry of the lookahead matrix. */
  readonly lookaheadUs: number;
  /** Least time from an event on worker p to its effect on worker w, us (`[p * workers + w]`). */
  readonly lookaheadMatrix: Float64Array;
  private readonly syncBuffers: SyncBuffers;
  private readonly sync: SyncBlock;
  /** Messages posted to and received from hosts so far. */
  private messages = 0;
  /**
   * Where the hosts' time 0 lies on the cluster's clock, us, and the hosts' clock after the last
   * operation: an operation that starts on an idle cluster moves the hosts' 0 to its start (see
   * runWindows).
   */
  private epochUs = 0;
  private localNowUs = 0;
  /** The last operation's start on the hosts' clock (0 when it started on an idle cluster). */
  private opStartUs = 0;
  /** Every host was idle after the last operation (and none has run since). */
  private idle = true;

  /** Virtual time after the last operation, us (the cluster's clock: what results report). */
  get nowUs(): number {
    return this.epochUs + this.localNowUs;
  }
  private readonly hosts: HostChannel[];
  private readonly pending: Array<Map<number, Pending>>;
  private readonly regions = new RegionTable();
  private readonly hbmUsed: Float64Array;
  private readonly snapshots: RankSnapshot[];
  /** Events reported by all hosts so far. */
  private eventsTotal = 0;
  /**
   * @internal Timeline chunks the hosts handed over so far, and of them those made new (fresh
   * memory): the others were returned by an earlier take's reader and written again.
   */
  readonly timelineChunks = { taken: 0, fresh: 0 };
  private transfersTotal = 0;

  /** Simulation events processed by all hosts since the cluster started (progress: events per second). */
  get eventsProcessed(): number {
    return this.eventsTotal;
  }
  private nextId = 1;
  private nextRegionId = 0;
  private nextOpId = 0;
  private dead: ExpertmeshError | null = null;
  private closed = false;
  private busy = false;
  /** Requests awaiting a reply: the hosts keep Node alive only while this is above zero. */
  private inflight = 0;

  /** Use {@link createCluster}. The config is checked (and resolved) here too. */
  constructor(given: ClusterConfig | ResolvedClusterConfig) {
    super();
    const config = (this.config = resolveClusterConfig(given));
    this.links = new LinkModel(config.hardware, config.gpusPerNode);
    this.lookaheadMatrix = this.links.lookaheadMatrix(config.workerOfRank, config.workers);
    this.lookaheadUs = this.lookaheadMatrix.reduce((a, b) => Math.min(a, b), Infinity);
    this.syncBuffers = createSyncBuffers(config.workers, this.lookaheadMatrix, config.ringBytes);
    this.sync = new SyncBlock(this.syncBuffers);
    this.hbmUsed = new Float64Array(config.numRanks);
    this.snapshots = Array.from({ length: config.numRanks }, (_, rank) => ({
      rank, value: 'idle' as const, op: null, opsCompleted: 0, error: null, timeUs: 0,
    }));
    // In-process hosts share one group that steps their rounds; it uses the same operation registry
    // the thread shells import.
    const group = config.transport === 'worker' ? null : new InProcessHostGroup(opRegistry);
    this.hosts = Array.from({ length: config.workers }, (_, w) =>
      group ? new InProcessHostChannel(group, w) : new WorkerHostChannel(`expertmesh-host-${w}`),
    );
    this.pending = this.hosts.map(() => new Map());
    this.hosts.forEach((h, w) => {
      h.onReply((r) => this.onReply(w, r));
      h.onDeath((reason) => this.onDeath(w, reason));
    });
  }

  private hold(): void {
    if (this.inflight++ === 0) for (const h of this.hosts) h.keepAlive(true);
  }

  private release(): void {
    if (--this.inflight === 0 && !this.closed) for (const h of this.hosts) h.keepAlive(false);
  }

  get numRanks(): number {
    return this.config.numRanks;
  }

  /** Ranks hosted by worker `w`. */
  ranksOfWorker(w: number): number[] {
    return this.config.workerOfRank.flatMap((x, r) => (x === w ? [r] : []));
  }

  /** Thread ids of the host workers. */
  get threadIds(): number[] {
    return this.hosts.map((h) => h.threadId);
  }

  /** @internal Start the hosts; used by createCluster. */
  async start(): Promise<void> {
    this.hold();
    try {
      await Promise.all(this.hosts.map((h) => h.ready()));
    } finally {
      this.release();
    }
    const c = this.config;
    await this.all((w) => ({
      type: 'init', id: 0, workerIndex: w, numWorkers: c.workers, numRanks: c.numRanks, gpusPerNode: c.gpusPerNode,
      hardware: c.hardware, workerOfRank: c.workerOfRank, recordTimeline: c.recordTimeline, recordTraces: c.recordTraces, linkSharing: c.linkSharing,
      sync: this.syncBuffers, timeoutMs: c.timeoutMs, maxVirtualUs: c.maxVirtualUs,
      ...(c.hostHeapSampling ? { heapSampling: c.hostHeapSampling } : {}),
    }), 'init');
  }

  /** The mirrored state of a rank's actor. */
  snapshot(rank: number): RankSnapshot {
    this.checkRank(rank, 'snapshot');
    return { ...this.snapshots[rank]! };
  }

  private checkRank(rank: number, where: string): void {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.numRanks)
      fail('E_RANK', `${where}: rank ${showValue(rank)} does not exist (cluster has ranks 0..${this.numRanks - 1})`, { rank });
  }

  /**
   * Register `bytes` of memory named `name` on `rank`, backed by a SharedArrayBuffer that every
   * thread sees. Counted against the rank's HBM capacity.
   */
  register(rank: number, name: string, bytes: number): Region {
    this.checkUsable();
    this.checkRank(rank, 'register');
    if (typeof name !== 'string' || name.length === 0) fail('E_REGION', `register: region name must be a non-empty string, got ${showValue(name)}`, { name });
    if (typeof bytes !== 'number') fail('E_REGION', `register: size of '${name}' must be a whole number of bytes, got ${showValue(bytes)}`, { rank, region: name, bytes });
    if (!Number.isInteger(bytes) || bytes < 0) fail('E_REGION', `register: size of '${name}' must be a whole number of bytes, got ${bytes}`, { rank, region: name, bytes });
    if (this.regions.find(rank, name)) fail('E_REGION', `register: rank ${rank} already has a region '${name}'`, { rank, region: name });
    const cap = this.config.hardware.hbmBytes;
    if (this.hbmUsed[rank]! + bytes > cap)
      fail('E_MEMORY', `register: '${name}' (${bytes} B) would take rank ${rank} to ${this.hbmUsed[rank]! + bytes} B, over its ${cap} B of HBM`, { rank, region: name, bytes, capacity: cap });
    let buffer: SharedArrayBuffer;
    try {
      buffer = new SharedArrayBuffer(bytes);
    } catch (e) {
      fail('E_MEMORY', `register: '${name}' (${bytes} B) on rank ${rank} could not be allocated in host memory: ${(e as Error).message}`, { rank, region: name, bytes });
    }
    const info = { id: this.nextRegionId++, rank, name, buffer };
    const region = this.regions.add(info);
    this.hbmUsed[rank] = this.hbmUsed[rank]! + bytes;
    // Ordered before any later operation on every host: no reply needed.
    this.messages += this.hosts.length;
    this.hosts.forEach((h) => h.post({ type: 'register', id: 0, regions: [info] }));
    return region;
  }

  /** Release a region. */
  unregister(rank: number, name: string): void {
    const r = this.regions.lookup(rank, name);
    this.regions.remove(r.id);
    this.hbmUsed[rank] = this.hbmUsed[rank]! - r.byteLength;
    this.messages += this.hosts.length;
    this.hosts.forEach((h) => h.post({ type: 'unregister', id: 0, regionIds: [r.id] }));
  }

  /**
   * The region `name` of `rank` with exactly `bytes` bytes: reused when already registered with
   * that size, otherwise (re-)registered.
   */
  ensureRegion(rank: number, name: string, bytes: number): Region {
    const r = this.regions.find(rank, name);
    if (r && r.byteLength === bytes) return r;
    if (r) this.unregister(rank, name);
    return this.register(rank, name, bytes);
  }

  /** A registered region, readable on the main thread. */
  region(rank: number, name: string): Region {
    return this.regions.lookup(rank, name);
  }

  /** The region if registered, else undefined. */
  findRegion(rank: number, name: string): Region | undefined {
    return this.regions.find(rank, name);
  }

  /** Bytes of HBM registered on `rank`. */
  hbmUsedBytes(rank: number): number {
    return this.hbmUsed[rank]!;
  }

  /**
   * Run a registered operation on every rank, starting at the cluster's current virtual time,
   * until every rank has finished it. Rejects with `E_TIMEOUT` naming the blocked ranks, tasks and
   * what they wait for if the run can make no more progress.
   */
  async run<R = unknown>(name: string, args: unknown, opts: RunOptions = {}): Promise<OpResult<R>> {
    this.checkUsable();
    if (typeof name !== 'string') fail('E_ARGUMENT', `run: the operation name must be a string, got ${showValue(name)}`, { argument: 'name' });
    checkRunOptions(opts, `run('${name}')`);
    if (this.busy) fail('E_ARGUMENT', `run('${name}'): another operation is still running on this cluster`, { op: name });
    this.busy = true;
    try {
      return await this.runWindows<R>(name, args, opts);
    } finally {
      this.busy = false;
    }
  }

  private async runWindows<R>(name: string, args: unknown, opts: RunOptions): Promise<OpResult<R>> {
    const opId = this.nextOpId++;
    const startUs = this.nowUs;
    const eventsBefore = this.eventsTotal;
    const transfersBefore = this.transfersTotal;
    const messagesBefore = this.messages;
    if (opts.signal?.aborted) throw new ExpertmeshError('E_ABORTED', `operation '${name}' aborted at ${startUs} us`, { op: name });

    // One clock per operation: on an idle cluster every host moves its time 0 to the start, so the
    // operation runs on the same numbers whatever ran before it (float rounding depends on the
    // clock's magnitude). Otherwise (work still in flight) it starts on the hosts' running clock.
    const rebaseUs = this.idle ? this.localNowUs : 0;
    if (rebaseUs > 0) {
      this.epochUs = startUs;
      this.localNowUs = 0;
    }
    this.idle = false;
    const epochUs = this.epochUs;
    const start = (this.opStartUs = this.localNowUs);
    const results = new Array<R>(this.numRanks);
    const rankEnd = new Array<number>(this.numRanks).fill(start);
    const rebase = rebaseUs > 0 ? { shiftUs: rebaseUs, epochUs } : undefined;
    let started: HostReply[];
    try {
      started = await this.all(() => ({ type: 'op', id: 0, opId, name, args, startTime: start, ...(rebase ? { rebase } : {}) }), `start '${name}'`);
    } catch (e) {
      // A host that answered with an error is alive: the hosts that did start the operation drop
      // its tasks (the next operation would run them). Nothing is dropped on a cluster closed,
      // dead, or with a host that did not answer.
      const answered = !(e instanceof ExpertmeshError && (e.code === 'E_TIMEOUT' || e.code === 'E_CLOSED'));
      if (answered && !this.dead && !this.closed) await this.dropLeftovers();
      throw e;
    }
    const refused = started.find((r) => r.failures.length > 0);
    if (refused) {
      await this.dropLeftovers();
      throw fromWireError(refused.failures[0]!.error);
    }

    // The hosts run every window among themselves; meanwhile the main thread only listens for an
    // abort and samples progress from the shared block.
    this.sync.resetForRun();
    const onAbort = () => this.sync.setAbort(SYNC_ABORT_SIGNAL);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    // Watchdog: a worker host that neither replies nor beats its heartbeat for twice the wait limit
    // (its own waits beat at least once per limit) is stuck inside its window, in code that never
    // returns to the engine: it is ended and the run fails naming it.
    const beats = this.hosts.map((_, w) => this.sync.heartbeat(w));
    const beatAt = this.hosts.map(() => performance.now());
    const replied = new Set<number>();
    const progress = setInterval(() => {
      if (this.config.transport === 'worker') {
        const wall = performance.now();
        for (let w = 0; w < this.hosts.length; w++) {
          const b = this.sync.heartbeat(w);
          if (b !== beats[w] || replied.has(w)) { beats[w] = b; beatAt[w] = wall; continue; }
          if (wall - beatAt[w]! > 2 * this.config.timeoutMs) this.hung(w, name);
        }
      }
      let t = Infinity;
      for (let w = 0; w < this.hosts.length; w++) t = Math.min(t, this.sync.slot(0, w, SYNC_F_NEXT), this.sync.slot(1, w, SYNC_F_NEXT));
      if (t !== Infinity) {
        opts.onProgress?.(epochUs + t);
        this.emit('progress', name, epochUs + t);
      }
    }, 100);
    progress.unref();
    let replies: HostReply[];
    try {
      replies = await Promise.all(this.hosts.map((_, w) => this.request(w, { type: 'run', id: 0, opId }, `run '${name}'`, false).then((r) => (replied.add(w), r))));
    } finally {
      clearInterval(progress);
      opts.signal?.removeEventListener('abort', onAbort);
    }

    // Hosts report times on their clock (`start` is the operation's start there): durations are
    // computed on it, times for the user have the epoch added.
    let end = start;
    let lastEvent = start;
    for (const r of replies) {
      lastEvent = Math.max(lastEvent, r.now);
      for (const f of r.finished) {
        if (f.opId !== opId) continue;
        results[f.rank] = f.result as R;
        rankEnd[f.rank] = f.endTime;
        end = Math.max(end, f.endTime);
      }
    }
    // The clock is where the hosts stopped, even when the run failed: a later operation never
    // starts before a host's clock.
    this.localNowUs = Math.max(end, lastEvent);
    // A task's own failure first; then the error that stopped a host (not the ones stopped because of it).
    for (const r of replies) if (r.failures.length > 0) throw fromWireError(r.failures[0]!.error);
    const errors = replies.map((r) => r.error).filter((e) => e !== undefined);
    const primary = errors.find((e) => !(e.data as { secondary?: boolean } | undefined)?.secondary) ?? errors[0];
    // A run that ended stuck, past its bound or aborted leaves its tasks, events and transfers on
    // the hosts; no one can use them (its promise rejects), and they would keep every later
    // operation off its own clock: the hosts drop them (after the blocked tasks are named). So
    // does a run a host ended alive (virtual time stood still, a malformed packet), the others
    // stopped because of it; not one a host left dead or not answering.
    if (primary) {
      if (primary.code === 'E_ABORTED') {
        await this.dropLeftovers();
        throw new ExpertmeshError('E_ABORTED', `operation '${name}' aborted at ${epochUs + lastEvent} us`, { op: name });
      }
      const alive = replies.every((r) => r.error === undefined || r.droppable || (r.error.data as { secondary?: boolean } | undefined)?.secondary);
      if (alive && replies.some((r) => r.droppable)) await this.dropLeftovers();
      throw fromWireError(primary);
    }
    const over = replies.find((r) => r.overBoundUs !== undefined);
    if (replies.some((r) => r.stuck) || over) {
      const err = await this.stuck(name, over ? epochUs + over.overBoundUs! : undefined);
      await this.dropLeftovers();
      throw err;
    }
    this.idle = replies.every((r) => r.idle);
    const events = this.eventsTotal - eventsBefore;
    const transfers = this.transfersTotal - transfersBefore;
    const windows = replies[0]!.windows;
    const hostCpuMs = replies.map((r) => r.cpuMs ?? NaN);
    const hostStats = replies.map((r) => r.stats ?? { busyMs: NaN, waitMs: NaN, sleeps: 0, emptyWindows: 0, onCpuMs: NaN, runQueueMs: NaN });
    return {
      results, rankEndUs: rankEnd.map((t) => epochUs + t), startUs, endUs: epochUs + end, timeUs: end - start, rankTimeUs: rankEnd.map((t) => t - start),
      windows, events, transfers, mainThreadMessages: this.messages - messagesBefore, hostCpuMs, hostStats,
      ...(this.config.hostHeapSampling ? { hostHeap: replies.map((r) => r.heap ?? { intervalBytes: this.config.hostHeapSampling!.intervalBytes, sampledBytes: NaN, sites: [] }) } : {}),
    };
  }

  /**
   * Every host drops what the failed operation left (see Engine.dropAll); the cluster is idle
   * again when every host says so, and the next operation runs on its own clock. A host that dies
   * or does not answer meanwhile fails the cluster (later calls report it), not this call, which
   * reports the operation's own error.
   */
  private async dropLeftovers(): Promise<void> {
    try {
      const replies = await this.all(() => ({ type: 'drop', id: 0 }), 'drop the failed operation');
      this.idle = replies.every((r) => r.idle);
    } catch {
      this.idle = false;
    }
  }

  /**
   * Build the error for a run that can make no more progress, or (with `boundUs`) whose next event
   * is past its virtual-time bound: every blocked rank, task and what it waits for.
   */
  private async stuck(name: string, boundUs?: number): Promise<ExpertmeshError> {
    const replies = await this.all(() => ({ type: 'collect', id: 0, what: 'blocked' }), 'collect blocked tasks');
    const blocked: BlockedTask[] = replies.flatMap((r) => r.blocked ?? []);
    const lines = blocked.slice(0, 8).map((b) => `rank ${b.rank} task '${b.task}' waits for ${b.waitingFor}`);
    const more = blocked.length > 8 ? `; and ${blocked.length - 8} more` : '';
    const what = boundUs === undefined
      ? `can make no more progress at ${this.nowUs} us`
      : `passed its virtual-time bound of ${this.config.maxVirtualUs} us (maxVirtualUs) at ${boundUs} us`;
    return new ExpertmeshError('E_TIMEOUT', `operation '${name}' ${what}: ${lines.join('; ')}${more}`, {
      op: name, blocked, ...(boundUs === undefined ? {} : { boundUs, maxVirtualUs: this.config.maxVirtualUs }),
    });
  }

  /**
   * The watchdog found host `w` stuck inside a window: end its thread, stop the others, and fail
   * the run (and the cluster, which has lost a host) with `E_TIMEOUT` naming it.
   */
  private hung(w: number, name: string): void {
    if (this.dead) return;
    const ranks = this.ranksOfWorker(w);
    const ms = 2 * this.config.timeoutMs;
    const err = new ExpertmeshError(
      'E_TIMEOUT',
      `host worker ${w} (ranks ${fmtRanks(ranks)}) ran '${name}' for ${ms} ms without returning to its engine or its window barrier (a task that never yields?); it was ended`,
      { worker: w, ranks, op: name, timeoutMs: ms },
    );
    this.dead = err;
    this.sync.setAbort(SYNC_ABORT_DEATH);
    void this.hosts[w]!.terminate();
    for (const pend of this.pending) {
      for (const p of pend.values()) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(err);
      }
      pend.clear();
    }
  }

  /**
   * The clock collected times are read on: `'cluster'` (the cluster's clock) or `'op'` (relative
   * to the last operation's start, on its own clock: exactly the engine's numbers when it started
   * on an idle cluster, as on a fresh cluster, whatever ran before; no subtraction of cluster times).
   */
  private clockView(clock: 'cluster' | 'op'): ClockView {
    return clock === 'op' ? { epochUs: this.epochUs, startUs: this.opStartUs } : null;
  }

  /**
   * Collect and clear the timeline (canonical order) recorded since the last call, times on the
   * cluster's clock (or, with `'op'`, relative to the last operation's start: see `runTraffic`).
   */
  async takeTimeline(clock: 'cluster' | 'op' = 'cluster'): Promise<Float64Array> {
    const view = this.clockView(clock);
    // Each host sends its part with its order (dst, src, pairSeq), and a record lives on its dst's
    // host: with ranks placed in ascending blocks (placeRanks), the parts in host order are the
    // canonical order already.
    const parts = await this.timelineParts();
    const all = new Float64Array(parts.reduce((a, p) => a + p.count, 0) * TIMELINE_STRIDE);
    let row = 0;
    for (const p of parts) {
      gatherTimeline(p, timelineViews(p), 0, p.count, all, row, view);
      row += p.count;
      // Read for the last time (the rows are in `all`): the host may write its next records over them.
      returnTimelineChunks(p);
    }
    return this.ascendingPlacement ? all : canonicalTimeline(all);
  }

  /**
   * Collect and clear the timeline like {@link takeTimeline}, but stream it: `sink` receives the
   * canonical timeline's bytes block by block (one reused buffer of 8192 records: keep nothing), so
   * a hash fed by it equals `timelineDigest(await takeTimeline())` while only the hosts' records
   * (72 bytes each, in place) and their order are ever held. Returns the number of records.
   */
  async foldTimeline(sink: (bytes: Uint8Array) => void): Promise<number> {
    const t = await this.takeTimelineBlocks();
    for (const b of t.blocks) sink(b);
    return t.records;
  }

  /**
   * Collect and clear the timeline now, to fold later: the blocks {@link foldTimeline} would pass to
   * its sink, one at a time (one reused buffer: consume each before the next). The hosts have handed
   * their records over (shared chunks they no longer write), so the cluster can run its next
   * operation while the caller folds them.
   */
  async takeTimelineBlocks(): Promise<{ records: number; blocks: Iterable<Uint8Array> }> {
    if (!this.ascendingPlacement) {
      const t = await this.takeTimeline();
      return { records: t.length / TIMELINE_STRIDE, blocks: [new Uint8Array(t.buffer, t.byteOffset, t.byteLength)] };
    }
    const parts = await this.timelineParts();
    // Each part's chunks go back to its host once its last rows are in a block (a copy).
    return { records: parts.reduce((a, p) => a + p.count, 0), blocks: timelineBlocks(parts, returnTimelineChunks) };
  }

  private async timelineParts(): Promise<TimelinePart[]> {
    this.checkUsable();
    const replies = await this.all(() => ({ type: 'collect', id: 0, what: 'timeline' }), 'collect timeline');
    const parts = replies.map((r) => r.timeline ?? { chunks: [], count: 0, order: new Uint32Array(0), epochUs: 0, localFrom: 0, freshChunks: 0 });
    for (const p of parts) {
      this.timelineChunks.taken += p.chunks.length;
      this.timelineChunks.fresh += p.freshChunks;
    }
    return parts;
  }

  private get ascendingPlacement(): boolean {
    const p = this.config.workerOfRank;
    for (let r = 1; r < p.length; r++) if (p[r]! < p[r - 1]!) return false;
    return true;
  }

  /**
   * Collect and clear the counter samples tasks recorded since the last call (flat
   * `SAMPLE_STRIDE` records: time, rank, series, delta), in canonical (time, rank, series) order.
   */
  async takeSamples(): Promise<Float64Array> {
    return canonicalSamples(await this.collectFlat('samples', SAMPLE_STRIDE, SAMPLE_TIME_FIELDS, null));
  }

  /**
   * Collect and clear the activity slices tasks recorded since the last call (flat
   * `ACTIVITY_STRIDE` records: start, end, rank, track, label), ordered by (rank, track, start);
   * times on the cluster's clock, or with `'op'` on the last operation's (see {@link takeTimeline}).
   */
  async takeActivities(clock: 'cluster' | 'op' = 'cluster'): Promise<Float64Array> {
    return canonicalActivities(await this.collectFlat('activities', ACTIVITY_STRIDE, ACTIVITY_TIME_FIELDS, this.clockView(clock)));
  }

  private async collectFlat(what: 'samples' | 'activities', stride: number, timeFields: readonly number[], view: ClockView): Promise<Float64Array> {
    this.checkUsable();
    const replies = await this.all(() => ({ type: 'collect', id: 0, what }), `collect ${what}`);
    const parts = replies.map((r) => { const p = r[what]; return p ? flatOnClock(p, stride, timeFields, view) : new Float64Array(0); });
    const all = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return all;
  }

  /**
   * @internal Fault injection for tests: make host `w` exit (mid-window when an operation is
   * running: it checks the shared block after each window) or throw; or, in its next window (of
   * this run or the next), spend `ms` of wall clock still progressing (`'slow'`) or without any
   * progress (`'stop'`, until the run is aborted).
   */
  injectFault(w: number, kind: 'exit' | 'throw' | 'slow' | 'stop', ms = 0): void {
    if (kind === 'slow' || kind === 'stop') this.sync.injectSlow(w, kind === 'slow' ? Math.max(1, ms) : -Math.max(1, ms));
    else if (kind === 'exit' && this.busy) this.sync.injectExit(w);
    else this.hosts[w]!.post({ type: 'fault', id: 0, kind });
  }

  private all(make: (w: number) => HostRequest, what: string): Promise<HostReply[]> {
    return Promise.all(this.hosts.map((_, w) => this.request(w, make(w), what)));
  }

  /**
   * Post a request and wait for its reply. With `timed`, the wall-clock `timeoutMs` applies; a run
   * is not timed here (a single window may legitimately run long on one worker): hosts time out
   * waiting for each other at their barriers, and a dead host or close() ends the wait. A run's
   * reply resolves even when it carries an error, so the caller sees every host's outcome.
   */
  private request(w: number, msg: HostRequest, what: string, timed = true): Promise<HostReply> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    msg.id = id;
    this.messages++;
    this.hold();
    const p = new Promise<HostReply>((resolve, reject) => {
      if (!timed) {
        this.pending[w]!.set(id, { resolve, reject, timer: null, keepErrors: true });
        this.hosts[w]!.post(msg);
        return;
      }
      const timer = setTimeout(() => {
        this.pending[w]!.delete(id);
        reject(new ExpertmeshError(
          'E_TIMEOUT',
          `host worker ${w} (ranks ${fmtRanks(this.ranksOfWorker(w))}) did not answer '${what}' within ${this.config.timeoutMs} ms`,
          { worker: w, ranks: this.ranksOfWorker(w), waitingFor: what, timeoutMs: this.config.timeoutMs },
        ));
      }, this.config.timeoutMs);
      timer.unref();
      this.pending[w]!.set(id, { resolve, reject, timer, keepErrors: false });
      this.hosts[w]!.post(msg);
    });
    const done = () => this.release();
    p.then(done, done);
    return p;
  }

  private onReply(w: number, r: HostReply): void {
    this.messages++;
    this.eventsTotal += r.events;
    this.transfersTotal += r.transfers ?? 0;
    for (const s of r.states) {
      this.snapshots[s.rank] = s;
      this.emit('rankState', s);
    }
    const p = this.pending[w]!.get(r.id);
    if (!p) return;
    this.pending[w]!.delete(r.id);
    if (p.timer) clearTimeout(p.timer);
    if (r.error && !p.keepErrors) p.reject(fromWireError(r.error));
    else p.resolve(r);
  }

  private onDeath(w: number, reason: string): void {
    const ranks = this.ranksOfWorker(w);
    const err = new ExpertmeshError(
      'E_WORKER',
      `host worker ${w} (ranks ${fmtRanks(ranks)}) died: ${reason}`,
      { worker: w, ranks, reason },
    );
    this.dead ??= err;
    // Hosts waiting for the dead one at a barrier or a full ring leave their loop now.
    this.sync.setAbort(SYNC_ABORT_DEATH);
    for (const r of ranks) {
      this.snapshots[r] = { ...this.snapshots[r]!, value: 'failed', error: err.message };
      this.emit('rankState', this.snapshots[r]!);
    }
    this.emit('workerDied', w, ranks, reason);
    for (const pend of this.pending) {
      for (const p of pend.values()) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(err);
      }
      pend.clear();
    }
  }

  private checkUsable(): void {
    if (this.closed) fail('E_CLOSED', 'the cluster is closed', {});
    if (this.dead) throw this.dead;
  }

  /** End every host thread; pending operations reject with `E_CLOSED`. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new ExpertmeshError('E_CLOSED', 'the cluster was closed while an operation was pending', {});
    // Wake every host blocked in Atomics.wait, so terminate() finds them interruptible at once.
    if (this.sync.abort === SYNC_ABORT_NONE) this.sync.setAbort(SYNC_ABORT_CLOSE);
    for (const pend of this.pending) {
      for (const p of pend.values()) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(err);
      }
      pend.clear();
    }
    await Promise.all(this.hosts.map((h) => h.terminate()));
    this.removeAllListeners();
  }

  /** `await using cluster = ...` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Throw `E_ARGUMENT` unless `o` is {@link RunOptions}: an object, `signal` an AbortSignal, `onProgress` a function. */
export function checkRunOptions(o: unknown, where: string): void {
  if (typeof o !== 'object' || o === null) fail('E_ARGUMENT', `${where}: run options must be an object, got ${showValue(o)}`, { argument: 'run' });
  const r = o as RunOptions;
  if (r.signal !== undefined && !(r.signal instanceof AbortSignal)) fail('E_ARGUMENT', `${where}: run.signal must be an AbortSignal, got ${showValue(r.signal)}`, { argument: 'run.signal' });
  if (r.onProgress !== undefined && typeof r.onProgress !== 'function') fail('E_ARGUMENT', `${where}: run.onProgress must be a function, got ${showValue(r.onProgress)}`, { argument: 'run.onProgress' });
}

/** Throw `E_ARGUMENT` unless `c` is a cluster made by {@link createCluster}. */
export function checkCluster(c: unknown, where: string): asserts c is Cluster {
  if (!(c instanceof Cluster)) fail('E_ARGUMENT', `${where}: the first argument must be a cluster from createCluster(), got ${showValue(c)}`, { argument: 'cluster' });
}

function fmtRanks(r: number[]): string {
  if (r.length === 0) return 'none';
  return r.length > 1 && r[r.length - 1]! - r[0]! === r.length - 1 ? `${r[0]}-${r[r.length - 1]}` : r.join(',');
}

/**
 * Create a cluster of simulated GPUs and start its host workers.
 * @example
 * const cluster = await createCluster({ nodes: 4, gpusPerNode: 8, hardware: H800, workers: 2, seed: 7 });
 * try { console.log((await allToAll(cluster, { bytesPerPair: 1 << 20 })).timeUs); } finally { await cluster.close(); }
 */
export async function createCluster(config: ClusterConfig): Promise<Cluster> {
  const c = new Cluster(resolveClusterConfig(config));
  try {
    await c.start();
  } catch (e) {
    await c.close();
    throw e;
  }
  return c;
}
