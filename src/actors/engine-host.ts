/**
 * @module
 * The host of one worker thread: an {@link Engine} for its ranks, one xstate GPU actor per rank,
 * the handling of the main thread's requests, and its side of the window synchronisation with the
 * other hosts (shared block and packet rings, see window-sync.ts). Message-in, message-out logic
 * plus a run loop, so it runs the same inside a worker thread and in-process (tests, the
 * in-process transport, which steps the same round functions without barriers).
 *
 * Operations come from an injected {@link OpLookup}: the entry shells hand it over, so this layer
 * does not import the operations (which live above it).
 */
import { createActor, type Actor } from 'xstate';
import { ExpertmeshError, fail, toWireError } from '../errors.js';
import { Engine } from '../sim/engine.js';
import type { PacketRing } from '../transport/packet-ring.js';
import { BatchCodec, PacketColumns, type PacketLimits } from '../transport/packets.js';
import {
  BATCH_MAX_PACKETS, SYNC_ABORT_CLOSE, SYNC_ABORT_DEATH, SYNC_ABORT_HOST, SYNC_ABORT_NONE, SYNC_ABORT_SIGNAL,
  SYNC_F_FAILED, SYNC_F_REMAINING,
} from '../transport/protocol.js';
import { gpuMachine, type GpuStateValue, type RankSnapshot } from './gpu-machine.js';
import type { HostReply, HostRequest, HostRunStats, InitMessage, OpMessage } from './host-messages.js';
import type { OpLookup } from './op-registry.js';
import type { TaskGroup } from '../sim/task.js';
import { DOUBLE } from '../sim/field-init.js';
import { PeerDeadline, PROGRESS_POLL_MS, SyncBlock, windowBounds } from './window-sync.js';
import { HeapSampler } from './heap-sampler.js';

/** What a round's decision says (the same on every host: all read the same published values). */
export const ROUND_RUN = 0, ROUND_DONE = 1, ROUND_STUCK = 2, ROUND_FAILED = 3, ROUND_ABORTED = 4, ROUND_OVER_BOUND = 5;

/** Events a host runs between two looks at its watchdog (wall clock, abort flag, heartbeat, progress). */
export const WATCHDOG_EVENTS = 1 << 12;

/**
 * Events at one instant before the watchdog may call virtual time stood still (besides `timeoutMs`
 * of wall-clock time at it). A legitimate instant is bounded by the work scheduled for it (DeepEP's
 * normal combine at EP64 starts with 57,344 events at one instant: every warp of 64 ranks); tasks
 * waking each other forever pass any bound. Without it, a large instant on a slowed-down process
 * (under valgrind, about 60x slower) read as a livelock.
 */
export const STILL_EVENTS = 1 << 20;

export class EngineHost {
  /**
   * @param ops where operations are found by name (the registry the entry shell imported).
   * @param exitThread how a host ends its thread on an injected 'exit' fault.
   */
  constructor(
    private readonly ops: OpLookup,
    private readonly exitThread: () => never = () => fail('E_WORKER', 'injected exit fault (in-process host)'),
    /** CPU time of the host's own thread, ms, when the shell can tell (a thread's, not the process's). */
    private readonly threadCpuMs: (() => number) | null = null,
    /**
     * The thread's time on a CPU and waiting for one (ready to run), ms, `[onCpu, runQueue]`, when
     * the shell can tell (Linux: /proc/thread-self/schedstat).
     */
    private readonly threadSchedMs: (() => [number, number]) | null = null,
  ) {}
  private cpuAtRunStart = 0;
  private schedAtRunStart: [number, number] = [NaN, NaN];
  private readonly stats: HostRunStats = { busyMs: 0, waitMs: 0, sleeps: 0, emptyWindows: 0, onCpuMs: NaN, runQueueMs: NaN };

  private engine: Engine | null = null;
  private actors = new Map<number, Actor<typeof gpuMachine>>();
  private stateChanges: RankSnapshot[] = [];
  /** The engine time a state change being made takes place at (an operation's start or a group's end), when not the engine's clock (-1). */
  private changeAt = -1;
  private opArgs = new Map<number, { name: string; args: unknown }>();
  private eventsReported = 0;
  private transfersReported = 0;
  // Window synchronisation (set at init).
  private sync: SyncBlock | null = null;
  private me = 0;
  private timeoutMs = 30_000;
  private maxVirtualUs = 1e8;
  /** The running operation's virtual-time bound, us (its start + maxVirtualUs). */
  private virtualLimit = Infinity;
  private inRings: Array<PacketRing | null> = [];
  private outRings: Array<PacketRing | null> = [];
  private readonly codec = new BatchCodec();
  private readonly inbox = new PacketColumns(256);
  private readonly limits: PacketLimits = { numRanks: 0, numRegions: 0 };
  private nextTimes = new Float64Array(1);
  private earliest = new Float64Array(1);
  private bounds = new Float64Array(1);
  /** Earliest time of the packets written to each host since the last publish (Infinity: none). */
  private sent = new Float64Array(1);
  /** Rounds of the current run so far (its parity picks the published copy). */
  private round = 0;
  // The running operation.
  private running = 0;
  private finished: HostReply['finished'] = [];
  private windowsRun = 0;
  /** This run's watchdog found virtual time standing still (see runWatched). */
  private stoodStill = false;
  /** Main-thread messages this host received (diagnostics: none per window). */
  messagesReceived = 0;
  /** Samples this thread's heap allocations during each run (opt-in, InitMessage.heapSampling; null: off). */
  private heapSampler: HeapSampler | null = null;

  /** Handle one request; always returns a reply (errors travel inside it). */
  handle(msg: HostRequest): HostReply {
    this.messagesReceived++;
    try {
      switch (msg.type) {
        case 'init':
          this.init(msg);
          return this.reply(msg.id);
        case 'register':
          for (const r of msg.regions) this.mustEngine().regions.add(r);
          return this.reply(msg.id);
        case 'unregister':
          for (const id of msg.regionIds) this.mustEngine().regions.remove(id);
          return this.reply(msg.id);
        case 'op':
          this.startOp(msg);
          return this.reply(msg.id);
        case 'run':
          return this.runLoop(msg.id);
        case 'drop':
          this.dropOp();
          return this.reply(msg.id);
        case 'collect': {
          const r = this.reply(msg.id);
          const e = this.mustEngine();
          if (msg.what === 'timeline') {
            // Ordered here, in parallel on every host: the main thread reads the chunks in that order.
            r.timeline = e.timeline.take(e.shape.numRanks);
          } else if (msg.what === 'samples') {
            r.samples = e.samples.take();
          } else if (msg.what === 'activities') {
            r.activities = e.activities.take();
          } else if (msg.what === 'blocked') r.blocked = e.blockedTasks();
          return r;
        }
        case 'fault':
          if (msg.kind === 'exit') this.exitThread();
          fail('E_TASK', 'injected fault');
      }
    } catch (e) {
      const r = this.reply((msg as { id: number }).id);
      r.error = toWireError(e);
      return r;
    }
  }

  private mustEngine(): Engine {
    if (!this.engine) throw new ExpertmeshError('E_WORKER', 'host used before init');
    return this.engine;
  }

  private mustSync(): SyncBlock {
    if (!this.sync) throw new ExpertmeshError('E_WORKER', 'host used before init');
    return this.sync;
  }

  private init(m: InitMessage): void {
    const localRanks = m.workerOfRank.flatMap((w, r) => (w === m.workerIndex ? [r] : []));
    this.engine = new Engine(
      { numRanks: m.numRanks, gpusPerNode: m.gpusPerNode, hardware: m.hardware, workerOfRank: m.workerOfRank, recordTimeline: m.recordTimeline, recordTraces: m.recordTraces ?? m.recordTimeline, linkSharing: m.linkSharing ?? 'fluid' },
      m.workerIndex,
      localRanks,
      m.numWorkers,
    );
    const W = m.numWorkers;
    this.me = m.workerIndex;
    this.timeoutMs = m.timeoutMs;
    this.maxVirtualUs = m.maxVirtualUs ?? 1e8;
    this.sync = new SyncBlock(m.sync);
    this.inRings = Array.from({ length: W }, (_, w) => (w === this.me ? null : this.sync!.ring(w, this.me)));
    this.outRings = Array.from({ length: W }, (_, w) => (w === this.me ? null : this.sync!.ring(this.me, w)));
    this.nextTimes = new Float64Array(W);
    this.earliest = new Float64Array(W);
    this.bounds = new Float64Array(W);
    this.sent = new Float64Array(W).fill(Infinity);
    this.heapSampler = m.heapSampling ? new HeapSampler(m.heapSampling.intervalBytes, m.heapSampling.topSites) : null;
    for (const rank of localRanks) {
      const actor = createActor(gpuMachine, { input: { rank } });
      actor.subscribe((s) => {
        this.stateChanges.push({
          rank,
          value: s.value as GpuStateValue,
          op: s.context.op,
          opsCompleted: s.context.opsCompleted,
          error: s.context.error,
          ...(s.context.streams ? { streams: s.context.streams } : {}),
          timeUs: this.engine ? this.engine.epochUs + (this.changeAt >= 0 ? this.changeAt : this.engine.now) : 0,
        });
      });
      actor.start();
      this.actors.set(rank, actor);
      this.engine.contexts[rank]!.onStreams = (streams) => actor.send({ type: 'STREAMS', streams });
    }
  }

  private startOp(m: OpMessage): void {
    const e = this.mustEngine();
    // Every host re-bases at this boundary (the main thread found all of them idle), or none does;
    // first, so even an operation that fails to start leaves every host on the main thread's clock.
    if (m.rebase) e.rebase(m.rebase.shiftUs, m.rebase.epochUs);
    const def = this.ops.get(m.name);
    if (!def) fail('E_ARGUMENT', `unknown operation '${m.name}'`, { op: m.name });
    for (const rank of e.localRanks) {
      const a = this.actors.get(rank)!;
      if (a.getSnapshot().value === 'failed') fail('E_TASK', `rank ${rank} has failed and cannot start '${m.name}'`, { rank, op: m.name });
    }
    this.opArgs.set(m.opId, { name: m.name, args: m.args });
    // The same on every host: every host gets the same start time.
    this.virtualLimit = m.startTime + this.maxVirtualUs;
    this.running = 0;
    this.finished = [];
    if (e.now < m.startTime) e.now = m.startTime;
    for (const rank of e.localRanks) {
      const ctx = e.contexts[rank]!;
      // endTime DOUBLE first: a double field from the first group on (see field-init.ts).
      const group: TaskGroup = { opId: m.opId, rank, live: 0, result: undefined, failed: false, endTime: DOUBLE };
      group.endTime = m.startTime;
      ctx.group = group;
      ctx.state = {};
      ctx.opStartUs = m.startTime;
      this.running++;
      // Busy from the operation's start (every host's), not from this engine's clock, which may
      // have run past it on events after the last operation (how far depends on the hosts).
      this.changeAt = m.startTime;
      this.actors.get(rank)!.send({ type: 'OP_START', op: m.name, opId: m.opId });
      this.changeAt = -1;
      try {
        def.prepare?.(ctx, m.args);
      } catch (err) {
        const w = toWireError(err);
        e.failures.push({ rank, task: `${m.name}.prepare`, opId: m.opId, error: { ...w, message: `rank ${rank} ${m.name}.prepare: ${w.message}` } });
        e.failGroup(group);
        continue;
      }
      if (def.task) e.spawn(rank, m.name, def.task(ctx, m.args), group, m.startTime);
      else e.finishedGroups.push(group);
    }
  }

  /**
   * Drop the failed operation's leftovers (see DropMessage): the packets other hosts left in this
   * host's rings (unread: they are for the dropped run only, one may be malformed; no host writes
   * until the next run),
   * the engine's events, tasks, transfers and port state, and the ranks' part in it. Ranks that
   * failed stay failed.
   */
  private dropOp(): void {
    const e = this.mustEngine();
    for (let w = 0; w < this.inRings.length; w++) {
      // Discarded without reading: a frame may be the malformed one that failed the run.
      if (this.inRings[w]?.discardAll()) this.sync!.wakeIfWaiting(w);
    }
    e.dropAll();
    this.running = 0;
    this.finished = [];
    for (const a of this.actors.values()) if (a.getSnapshot().value === 'busy') a.send({ type: 'OP_DROPPED' });
  }

  // ---------------------------------------------------------------- one round, in steps

  /**
   * Move every packet waiting in this host's inbound rings into its engine (each message decoded
   * and validated whole, then the drained packets checked and applied as one batch). True when it
   * found any. Safe whenever the engine is not running a window: packets are due at or after the
   * bound of the window they were sent in, which is past this host's clock.
   */
  drainInbound(): boolean {
    const e = this.mustEngine();
    const inbox = this.inbox;
    let any = false;
    try {
      for (let w = 0; w < this.inRings.length; w++) {
        const ring = this.inRings[w];
        if (!ring) continue;
        let frames = 0;
        // Each frame is decoded where it lies in the ring (no view of it).
        for (let at = ring.next(); at >= 0; at = ring.next()) {
          if (frames === 0) {
            this.limits.numRanks = e.shape.numRanks;
            this.limits.numRegions = e.regions.idLimit;
          }
          try {
            this.codec.decodeAt(ring.data, at, ring.frameLength, inbox, this.limits);
          } finally {
            ring.release();
          }
          frames++;
        }
        // The writer may be asleep waiting for room (it flags itself waiting first).
        if (frames > 0) { this.sync!.wakeIfWaiting(w); any = true; }
      }
      if (inbox.count > 0) e.acceptColumns(inbox);
    } finally {
      // Applied, or rejected whole (a bad message drops everything drained with it).
      inbox.clear();
    }
    return any;
  }

  /**
   * Publish, for the round's decision: this host's next event time, the earliest packet it wrote to
   * each other host, its ranks still running and its failures.
   */
  publish(): void {
    const e = this.mustEngine();
    this.collectFinished();
    this.mustSync().publish(this.round & 1, this.me, e.nextEventTime(), this.running - this.finished.length, e.failures.length, e.now, this.sent);
    this.sent.fill(Infinity);
  }

  /** The round's decision, from the values every host published (same on every host); sets the bounds. */
  decide(): number {
    const s = this.mustSync();
    const W = s.workers;
    if (s.abort !== SYNC_ABORT_NONE) return ROUND_ABORTED;
    const parity = this.round & 1;
    let remaining = 0, failed = 0, t = Infinity;
    for (let w = 0; w < W; w++) {
      // Packets still in a ring count as due on their receiver.
      const n = s.due(parity, w);
      this.nextTimes[w] = n;
      if (n < t) t = n;
      remaining += s.slot(parity, w, SYNC_F_REMAINING);
      failed += s.slot(parity, w, SYNC_F_FAILED);
    }
    if (failed > 0) return ROUND_FAILED;
    // Nothing left anywhere: no event, and no packet in any ring.
    if (t === Infinity) return remaining === 0 ? ROUND_DONE : ROUND_STUCK;
    // The next thing due anywhere is past the run's virtual-time bound.
    if (t >= this.virtualLimit) return ROUND_OVER_BOUND;
    if (W === 1) this.bounds[0] = Infinity;
    else windowBounds(this.nextTimes, s.buffers.lookahead, W, this.earliest, this.bounds);
    return ROUND_RUN;
  }

  /** This host's bound for the round just decided. */
  get bound(): number {
    return this.bounds[this.me]!;
  }

  /**
   * Run the events before `end`, then write the packets for other hosts into their rings, a
   * message per (peer, up to BATCH_MAX_PACKETS packets). `onFull(peer)` is called while a ring has
   * no room (it must make some: wait for the reader, or drain it in-process).
   */
  runWindow(end: number, onFull: (peer: number, bytes: number) => void): void {
    const e = this.mustEngine();
    this.sync?.setBusy(this.me, 1);
    const started = performance.now();
    this.drainInbound();
    // Never past the run's virtual-time bound (with one host the window is unbounded otherwise).
    if (end > this.virtualLimit) end = this.virtualLimit;
    if (e.nextEventTime() < end) this.runWatched(e, end);
    else this.stats.emptyWindows++;
    if (this.sync) {
      const slow = this.sync.takeSlow(this.me);
      if (slow !== 0) this.injectedSlowness(slow);
    }
    this.collectFinished();
    for (let w = 0; w < e.outbox.length; w++) {
      const box = e.outbox[w]!;
      if (box.count === 0) continue;
      const ring = this.outRings[w]!;
      this.sent[w] = Math.min(this.sent[w]!, box.minTime());
      for (let from = 0; from < box.count; from += BATCH_MAX_PACKETS) {
        // Encoded in place, into the frame reserved in the ring (no copy, no view of it).
        const n = Math.min(BATCH_MAX_PACKETS, box.count - from);
        const len = BatchCodec.encodedLength(n);
        let at = ring.reserve(len);
        while (at < 0) {
          onFull(w, len);
          at = ring.reserve(len);
        }
        this.codec.encodeInto(ring.data, at, box, from, n);
        ring.commit();
      }
      box.clear();
      // No doorbell: a reader asleep at the barrier drains when the barrier wakes it (this host
      // arrives next), and one asleep for room in its own ring is woken by drainInbound. A
      // doorbell here cost each sleeping peer one more wake-up per window (measured: ~0.7 -> ~0.5
      // sleeps per barrier, ~25% fewer context switches on a loaded machine, docs/runtime.md).
    }
    this.stats.busyMs += performance.now() - started;
    this.windowsRun++;
    this.round++;
    this.sync?.setBusy(this.me, 0);
    this.sync?.advance(this.me);
  }

  /**
   * Test fault (see SyncBlock.injectSlow): spend `ms` of wall clock in this window, progressing
   * every few ms (`ms > 0`), or `-ms` without any progress (`ms < 0`), leaving early on an abort.
   * The heartbeat beats throughout: the host is alive, only slow or stopped. It is not busy (it
   * runs no events): a stopped host is one that waits without end, which its waiters must name.
   */
  private injectedSlowness(ms: number): void {
    const s = this.mustSync();
    const until = performance.now() + Math.abs(ms);
    const nap = new Int32Array(new SharedArrayBuffer(4));
    s.setBusy(this.me, 0);
    while (performance.now() < until && s.abort === SYNC_ABORT_NONE) {
      Atomics.wait(nap, 0, 0, 5);
      s.beat(this.me);
      if (ms > 0) s.advance(this.me);
    }
    s.setBusy(this.me, 1);
  }

  /**
   * Run the events before `end` in slices of {@link WATCHDOG_EVENTS}, and between slices: beat the
   * heartbeat the main thread watches, leave on an abort, and fail with `E_TIMEOUT` when virtual
   * time has stood still for `timeoutMs` of wall-clock time and {@link STILL_EVENTS} events (tasks
   * waking each other forever at one instant), naming the host's blocked ranks, tasks and what they
   * wait for.
   */
  private runWatched(e: Engine, end: number): void {
    const s = this.sync;
    let now = e.now;
    let since = performance.now();
    let events = e.eventsProcessed;
    while (e.runUntil(end, WATCHDOG_EVENTS)) {
      if (s) {
        s.beat(this.me);
        s.advance(this.me);
        if (s.abort !== SYNC_ABORT_NONE) throw abortError(s.abort, this.me);
      }
      const wall = performance.now();
      if (e.now > now) {
        now = e.now;
        since = wall;
        events = e.eventsProcessed;
      } else if (wall - since > this.timeoutMs && e.eventsProcessed - events >= STILL_EVENTS) {
        this.stoodStill = true;
        const blocked = e.blockedTasks();
        const lines = blocked.slice(0, 8).map((b) => `rank ${b.rank} task '${b.task}' waits for ${b.waitingFor}`).join('; ');
        fail('E_TIMEOUT', `host worker ${this.me}: virtual time stood still at ${e.epochUs + now} us for ${this.timeoutMs} ms of wall-clock time (${e.eventsProcessed - events} events at that instant): ${lines}${blocked.length > 8 ? `; and ${blocked.length - 8} more` : ''}`, {
          worker: this.me, timeUs: e.epochUs + now, timeoutMs: this.timeoutMs, events: e.eventsProcessed - events, blocked,
        });
      }
    }
  }

  /**
   * Threads: wait until the reader of the ring to `peer` frees room for the frame, draining this
   * host's own rings meanwhile (two hosts filling each other's rings cannot block each other). A
   * reader busy with a long window drains only when it ends it: the deadline restarts while the
   * reader makes progress or frees any room, and stays open while it is busy (see
   * SyncBlock.setBusy); `E_TIMEOUT` names it only when for `timeoutMs` it did none of these (it
   * waited, or stopped).
   */
  private waitForRoom(peer: number, frameBytes: number): void {
    const s = this.mustSync();
    // Waiting is not being busy: a host waiting for this one must be able to time out on it.
    s.setBusy(this.me, 0);
    const ring = this.outRings[peer]!;
    // The reader may be asleep at its barrier: tell it there is something to read.
    s.wake(peer);
    // Freed room counts as progress: the reader drained something, if not yet enough.
    const deadline = new PeerDeadline(s, this.me, peer, this.timeoutMs, performance.now(), ring.consumed);
    for (;;) {
      s.beat(this.me);
      const d = s.doorbell(this.me);
      // Room for the frame now (not: less used than when this wait began, which a reader that
      // drained the ring between the failed write and this wait would never bring about).
      if (ring.fits(frameBytes)) {
        s.setBusy(this.me, 1);
        return;
      }
      this.drainInbound();
      if (s.abort !== SYNC_ABORT_NONE) throw abortError(s.abort, this.me);
      const left = deadline.left(performance.now(), ring.consumed);
      if (left <= 0) {
        const ranks = fmtRanks(this.mustEngine().shape.workerOfRank, peer);
        fail('E_TIMEOUT', `host worker ${this.me}: the packet ring to host worker ${peer} (ranks ${ranks}) stayed full for ${this.timeoutMs} ms while that worker made no progress`, {
          worker: this.me, peer, timeoutMs: this.timeoutMs,
        });
      }
      // Flagged waiting, then the last look: a reader that frees room after it rings the doorbell.
      s.setWaiting(this.me, 1);
      if (!ring.fits(frameBytes)) Atomics.wait(s.i32, s.doorbellIndex(this.me), d, Math.min(left, PROGRESS_POLL_MS));
      s.setWaiting(this.me, 0);
    }
  }

  /** Run the finished groups' wrap-up and mark their actors done. */
  private collectFinished(): void {
    const e = this.mustEngine();
    if (e.finishedGroups.length === 0) return;
    for (const g of e.finishedGroups) {
      const ctx = e.contexts[g.rank]!;
      const op = this.opArgs.get(g.opId);
      let result = g.result;
      try {
        const def = op ? this.ops.get(op.name) : undefined;
        if (def?.finish) result = def.finish(ctx, op!.args);
      } catch (err) {
        const w = toWireError(err);
        e.failures.push({ rank: g.rank, task: `${op?.name}.finish`, opId: g.opId, error: { ...w, message: `rank ${g.rank} ${op?.name}.finish: ${w.message}` } });
        continue;
      }
      // The rank went idle when its group ended, not when this host collected it (the end of a
      // window, whose length depends on how the ranks are spread over hosts).
      this.changeAt = g.endTime;
      this.actors.get(g.rank)!.send({ type: 'OP_DONE', opId: g.opId });
      this.changeAt = -1;
      this.finished.push({ rank: g.rank, opId: g.opId, endTime: g.endTime, result });
    }
    e.finishedGroups.length = 0;
  }

  /** Start a run: clears the window and round counts. */
  beginRun(): void {
    this.cpuAtRunStart = this.threadCpuMs?.() ?? 0;
    this.schedAtRunStart = this.threadSchedMs?.() ?? [NaN, NaN];
    this.stats.busyMs = 0;
    this.stats.waitMs = 0;
    this.stats.emptyWindows = 0;
    if (this.sync) this.sync.sleeps = 0;
    this.windowsRun = 0;
    this.round = 0;
    this.stoodStill = false;
    this.sent.fill(Infinity);
    // Last: the run's allocations only, not this bookkeeping's.
    this.heapSampler?.start();
  }

  /** The reply that ends a run with the round's outcome (or the error that stopped it). */
  endRun(id: number, outcome: number, error?: unknown): HostReply {
    // First: the run's allocations only, not the reply's.
    let heap: HostReply['heap'];
    if (this.heapSampler) {
      try {
        heap = this.heapSampler.stop();
      } catch (e) {
        error ??= e;
      }
    }
    const r = this.reply(id);
    if (heap) r.heap = heap;
    r.windows = this.windowsRun;
    if (error !== undefined) {
      r.error = toWireError(error);
      // This host is alive and answering, its state intact: only the run is lost.
      if (this.stoodStill || r.error.code === 'E_PACKET') r.droppable = true;
    }
    else if (outcome === ROUND_ABORTED) r.error = toWireError(abortError(this.mustSync().abort, this.me));
    if (outcome === ROUND_STUCK) r.stuck = true;
    if (outcome === ROUND_OVER_BOUND) r.overBoundUs = this.virtualLimit;
    if (this.threadCpuMs) r.cpuMs = this.threadCpuMs() - this.cpuAtRunStart;
    const sched = this.threadSchedMs?.() ?? [NaN, NaN];
    r.stats = {
      ...this.stats, sleeps: this.sync?.sleeps ?? 0, onCpuMs: sched[0] - this.schedAtRunStart[0], runQueueMs: sched[1] - this.schedAtRunStart[1],
    };
    return r;
  }

  // ---------------------------------------------------------------- the loop on a thread

  /**
   * Threads: rounds until the operation is done, stuck, failed or aborted, synchronised with the
   * other hosts by barriers on the shared block. No message to or from the main thread.
   */
  private runLoop(id: number): HostReply {
    const s = this.mustSync();
    const me = this.me;
    const idle = () => this.drainInbound();
    const ranksOf = (w: number) => fmtRanks(this.mustEngine().shape.workerOfRank, w);
    const onFull = (peer: number, bytes: number) => this.waitForRoom(peer, bytes);
    this.beginRun();
    let outcome = ROUND_RUN;
    try {
      this.publish();
      for (;;) {
        // One barrier per round: what a host reads was published before it, in the copy of this
        // round's parity (no host can be writing that copy until everyone has passed the next one).
        const arrived = performance.now();
        const passed = s.arrive(me, this.timeoutMs, idle, ranksOf);
        this.stats.waitMs += performance.now() - arrived;
        if (!passed) { outcome = ROUND_ABORTED; break; }
        outcome = this.decide();
        if (outcome !== ROUND_RUN) break;
        s.beat(me);
        this.runWindow(this.bound, onFull);
        if (me === 0) s.windows = this.windowsRun;
        if (s.faultWorker === me) this.exitThread();
        this.publish();
      }
    } catch (err) {
      // Stop the others at once rather than at their barrier deadline.
      if (s.abort === SYNC_ABORT_NONE) s.setAbort(SYNC_ABORT_HOST);
      return this.endRun(id, ROUND_ABORTED, err);
    }
    return this.endRun(id, outcome);
  }

  private reply(id: number): HostReply {
    const e = this.engine;
    const finished = this.finished;
    this.finished = [];
    let failures: HostReply['failures'] = [];
    if (e) {
      failures = e.failures.splice(0);
      for (const f of failures) this.actors.get(f.rank)?.send({ type: 'FAIL', message: f.error.message });
    }
    this.running -= finished.length;
    const states = this.stateChanges;
    this.stateChanges = [];
    const total = e?.eventsProcessed ?? 0;
    const events = total - this.eventsReported;
    this.eventsReported = total;
    const issued = e?.transfersIssued ?? 0;
    const transfers = issued - this.transfersReported;
    this.transfersReported = issued;
    const idle = e !== null && this.running === 0 && e.idle;
    return { type: 'reply', id, next: e ? e.nextEventTime() : Infinity, now: e?.now ?? 0, idle, finished, failures, states, events, transfers, windows: 0 };
  }
}

/** Why a run stopped when the shared block was aborted. */
function abortError(reason: number, me: number): ExpertmeshError {
  switch (reason) {
    case SYNC_ABORT_SIGNAL:
      return new ExpertmeshError('E_ABORTED', `host worker ${me}: the operation was aborted`, { worker: me });
    case SYNC_ABORT_CLOSE:
      return new ExpertmeshError('E_CLOSED', 'the cluster was closed while an operation was pending', {});
    case SYNC_ABORT_DEATH:
      return new ExpertmeshError('E_WORKER', `host worker ${me}: stopped because another host worker died`, { worker: me });
    default:
      return new ExpertmeshError('E_WORKER', `host worker ${me}: stopped because another host worker failed`, { worker: me, secondary: true });
  }
}

function fmtRanks(workerOfRank: readonly number[], w: number): string {
  const r = workerOfRank.flatMap((x, i) => (x === w ? [i] : []));
  if (r.length === 0) return 'none';
  return r.length > 1 && r[r.length - 1]! - r[0]! === r.length - 1 ? `${r[0]}-${r[r.length - 1]}` : r.join(',');
}
