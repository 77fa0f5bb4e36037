/**
 * @module
 * The discrete-event engine of one host worker: the ranks it hosts, their link ports, their tasks,
 * and the transfers between them and to ranks of other workers. Pure logic over plain data, driven
 * window by window by its host; it is tested in-process, several engines in one thread.
 *
 * A transfer's life: issued by a task at the source; sent by the source's egress port (a stream per
 * destination and queue pair, FIFO; streams share the port max-min fairly, each capped by the last
 * credit its receiver sent); the news of its sending rate reaches the destination's ingress port one
 * link latency later, which serves the bytes that have arrived (docs/hardware.md); it is delivered
 * (data readable, counter moved, waiters woken) when its last byte has been served there, so never
 * before an earlier transfer of the same stream. A control message (at most CONTROL_MESSAGE_BYTES:
 * an atomic, a tiny put) is one packet and skips the ports: it reaches the receiver one latency and
 * one packet time after its issue and is delivered there once every earlier transfer of its stream
 * is (docs/hardware.md, "Control messages").
 */
import { fail, toWireError, type WireError } from '../errors.js';
import type { HardwareProfile } from '../hardware/profile.js';
import { LinkModel } from '../transport/links.js';
import { checkRange, RegionTable, type Region } from '../transport/memory.js';
import { FLAG_NO_DATA, FLAG_WANT_ACK, PacketColumns } from '../transport/packets.js';
import {
  C_BYTES, C_DST, C_DST_OFFSET, C_DST_REGION, C_EGRESS_DONE_T, C_EGRESS_START_T, C_FLAGS, C_ISSUE_T, C_KEY_RANK, C_KEY_SEQ,
  C_OP, C_PAIR_SEQ, C_PATH, C_QP, C_RATE, C_SIG_OFFSET, C_SIG_REGION, C_SRC, C_SRC_OFFSET, C_SRC_REGION, C_TIME, C_VALUE,
  C_WAITER, C_XID, CMP_EQ, CMP_GE, CMP_NE, CONTROL_MESSAGE_BYTES, EV_ACK, EV_CONTROL, EV_LOCAL_DELIVER, EV_SETTLE,
  EV_READ, EV_READ_REPLY, EV_TASK, OP_ADD, OP_PUT, OP_READ, PATH_IB, PATH_LOCAL, PATH_NVLINK, PKT_ACK, PKT_CONTROL, PKT_CREDIT, PKT_EGRESS_DONE,
  PKT_INGRESS_START, PKT_RATE, PKT_READ, PKT_READ_REPLY, PORT_IB_IN, PORT_IB_OUT, PORT_NVL_IN, PORT_NVL_OUT, QP_SLOTS, WAIT_COUNTER,
  WAIT_ANY, WAIT_READ, WAIT_SLEEP, WAIT_TASKS, WAIT_TRANSFER,
} from '../transport/protocol.js';
import { EventQueue } from './event-queue.js';
import { FreeList } from './free-list.js';
import { BatchColumnPool, FlowBatch } from './flow-batch.js';
import { NEWS_DONE, NEWS_RATE, NEWS_START, RecvPort, SendPort, type RecvHost, type SendHost } from './flow-port.js';
import { MessageRecvPort, MessageSendPort, type LinkSharing } from './message-port.js';
import { DueHeap, InstantTable } from './link-schedule.js';
import { TransferTable } from './transfers.js';
import { RankContext } from './rank-context.js';
import { DOUBLE } from './field-init.js';
import { KeyIndexMap } from './key-index-map.js';
import { condCount, describeWait, Task, WaitPool, type KernelTag, type RoleStep, type TaskBody, type TaskGroup } from './task.js';
import { ActivityLog, LINK_PORT_TRACK, LINK_RATE_TRACK, SampleLog, TIMELINE_FIELDS, TimelineLog } from './timeline.js';

/** The shape every engine of a cluster agrees on. */
export interface EngineShape {
  numRanks: number;
  gpusPerNode: number;
  hardware: HardwareProfile;
  /** Host worker index of every rank. */
  workerOfRank: readonly number[];
  /** Record a timeline entry per delivered transfer. */
  recordTimeline: boolean;
  /**
   * Keep the counter samples and activity slices tasks record (for traces and utilisation).
   * Absent: as `recordTimeline`.
   */
  recordTraces?: boolean;
  /** How link ports share their bandwidth (default 'fluid'; see message-port.ts). */
  linkSharing?: LinkSharing;
}

/**
 * The event key of an instant's link work (its port settles and timers, the news and credits due
 * then): rank slot 4095 (the last) with seq 2^31 - 1, after every rank's own events of the instant
 * (rank 4095's own seqs stay far below it). 2^31 - 1 is the largest seq V8 passes as a small
 * integer: a larger one is boxed as a heap number at every call that is not inlined.
 */
const SETTLE_RANK = 4095;
const SETTLE_SEQ = 2 ** 31 - 1;
const SEQ_SPAN = 2 ** 32;
/** The two kinds of batches due at an instant (see Engine.dueBatch). */
const DUE_NEWS = 0;
const DUE_CREDITS = 1;

/**
 * The tasks waiting on one counter, in the order they started waiting. The first {@link WAIT_INLINE}
 * are fields of the list itself, the rest in an array made on first need: most counters have one
 * or two waiters, and a list whose waiters sit in a second object (an array's store) costs a second
 * cache miss at every wait and every wake (docs/runtime.md, "Per-event cost at scale"). The count,
 * not a length, says how many are there, and nothing is freed when tasks leave, so a counter that is
 * waited on, released and waited on again allocates nothing after its first waits.
 */
class WaitList {
  n = 0;
  t0: Task | null = null;
  t1: Task | null = null;
  t2: Task | null = null;
  t3: Task | null = null;
  /** Waiters from the fifth on (index i at i - WAIT_INLINE), or null. */
  more: Array<Task | null> | null = null;

  get(i: number): Task {
    return (i === 0 ? this.t0 : i === 1 ? this.t1 : i === 2 ? this.t2 : i === 3 ? this.t3 : this.more![i - WAIT_INLINE]!)!;
  }

  set(i: number, t: Task | null): void {
    if (i === 0) this.t0 = t;
    else if (i === 1) this.t1 = t;
    else if (i === 2) this.t2 = t;
    else if (i === 3) this.t3 = t;
    else {
      const more = (this.more ??= []);
      const j = i - WAIT_INLINE;
      if (j < more.length) more[j] = t;
      else more.push(t);
    }
  }

  add(task: Task): void {
    this.set(this.n++, task);
  }
}

/** Waiters a {@link WaitList} holds in its own fields. */
const WAIT_INLINE = 4;

/** A remote read being served (pooled). */
interface ReadRequest {
  task: Task | null;
  taskId: number;
  region: Region;
  index: number;
  src: number;
  peer: number;
}

/** A task that failed, as reported to the main thread. */
export interface TaskFailure {
  rank: number;
  task: string;
  opId: number;
  error: WireError;
}

/** A task that is blocked, for deadlock reports. */
export interface BlockedTask {
  rank: number;
  task: string;
  waitingFor: string;
}

export class Engine implements SendHost, RecvHost {
  readonly links: LinkModel;
  readonly regions = new RegionTable();
  readonly queue = new EventQueue(4096);
  /** Declared DOUBLE, set to 0 by the constructor (a double from the first engine on: see field-init.ts). */
  now = DOUBLE;
  /** Events taken from the queue so far. */
  eventsProcessed = 0;
  private readonly seq: Float64Array;
  private readonly xidNext: Float64Array;
  /** Per local rank: sender ports [NVLink, NIC] and receiver ports [NVLink, NIC]. */
  private readonly sendPorts: Array<SendPort[] | undefined>;
  private readonly recvPorts: Array<RecvPort[] | undefined>;
  /** The same ports by `rank * 2 + path index` (0 NVLink, 1 IB), as news and credits name them. */
  private readonly sendPortAt: Array<SendPort | undefined>;
  private readonly recvPortAt: Array<RecvPort | undefined>;
  /** Per rank: 1 when this engine hosts it. */
  private readonly localRank: Uint8Array;
  /** Every transfer this engine holds, as records (handles are indexes with a generation). */
  readonly xf = new TransferTable();
  /** Flow batches and read requests, reused. */
  private readonly batchPool = new FreeList<FlowBatch>();
  private readonly batchColumns = new BatchColumnPool();
  /** Ports by when they are next due (settle or timer). */
  private readonly due = new DueHeap<SendPort | RecvPort>();
  /**
   * By instant: whether its link event is queued, and the news and credits due then at this
   * engine's ports (applied by that instant's link event). `newsDue` and `creditsDue` name the kind
   * of batch for {@link dueBatch}.
   */
  private readonly instants = new InstantTable<FlowBatch>();
  private readonly newsDue = DUE_NEWS;
  private readonly creditsDue = DUE_CREDITS;
  private readonly readPool = new FreeList<ReadRequest>();
  private readonly pairSeqOut: Array<Int32Array | undefined>;
  /** Per rank: when its latest local copy is delivered. */
  private readonly localDone: Float64Array;
  /**
   * Control messages (docs/hardware.md, "Control messages"): per local sender, the transfers issued
   * on each of its streams (by `dst * QP_SLOTS + qp`); per local receiver, the transfers delivered
   * on each (by `src * QP_SLOTS + qp`), and the first and last control message parked behind each
   * (linked through the records' `parkNext`; -1: none). Counts are mod 2^32; columns made on a
   * rank's first use, reset when a failed operation is dropped.
   */
  private readonly issuedOn: Array<Int32Array | undefined>;
  private readonly deliveredOn: Array<Int32Array | undefined>;
  private readonly parkHead: Array<Int32Array | undefined>;
  private readonly parkTail: Array<Int32Array | undefined>;
  /** Record link rate segments and port busy periods into the activity log (runTraffic). */
  private recordLinks = false;
  /** Transfers issued (events per transfer is a cost figure). */
  transfersIssued = 0;
  /**
   * Transfers from other workers being received, and sent ones awaiting their ack, by xid and
   * source (`xid * 4096 + source`): typed-array maps, which allocate nothing per entry (see KeyIndexMap).
   */
  private readonly inbound = new KeyIndexMap();
  private readonly sentByXid = new KeyIndexMap();
  /**
   * The tasks not yet ended, unordered (each knows its slot; an ending task's slot takes the last
   * one), and how many there are: the array keeps its capacity, so spawning and ending allocate no
   * map entries. Tasks waiting for a reply from another worker's rank, by id (a few per operation).
   */
  private live: Array<Task | null> = [];
  private liveCount = 0;
  private readonly readWaiters = new Map<number, Task>();

  private taskIdNext = 0;
  /** Packets for each other host, as reused columns (cleared once the host has sent them). */
  readonly outbox: PacketColumns[];
  readonly contexts: Array<RankContext | undefined>;
  readonly timeline = new TimelineLog();
  /** Whether tasks' counter samples and activity slices are kept (see EngineShape.recordTraces). */
  readonly recordsTraces: boolean;
  /** Counter samples recorded by tasks (kept only with {@link recordsTraces}). */
  readonly samples = new SampleLog();
  /** Activity slices recorded by tasks (kept only with {@link recordsTraces}). */
  readonly activities = new ActivityLog();
  readonly failures: TaskFailure[] = [];
  /** Groups (one per local rank per op) that finished since the host last collected them. */
  readonly finishedGroups: TaskGroup[] = [];

  constructor(
    readonly shape: EngineShape,
    readonly workerIndex: number,
    readonly localRanks: readonly number[],
    numWorkers: number,
  ) {
    const n = shape.numRanks;
    this.now = this.at = this.epochUs = 0; // declared DOUBLE: see field-init.ts
    this.liveCount = this.deferHead = this.deferN = 0; // stored again: mutable from the start (see field-init.ts)
    this.links = new LinkModel(shape.hardware, shape.gpusPerNode);
    this.recordsTraces = shape.recordTraces ?? shape.recordTimeline;
    this.seq = new Float64Array(n);
    this.xidNext = new Float64Array(n);
    this.sendPorts = new Array(n);
    this.recvPorts = new Array(n);
    this.sendPortAt = new Array(2 * n);
    this.recvPortAt = new Array(2 * n);
    this.localRank = new Uint8Array(n);
    for (let r = 0; r < n; r++) this.localRank[r] = shape.workerOfRank[r] === workerIndex ? 1 : 0;
    this.pairSeqOut = new Array(n);
    this.localDone = new Float64Array(n);
    this.issuedOn = new Array(n);
    this.deliveredOn = new Array(n);
    this.parkHead = new Array(n);
    this.parkTail = new Array(n);
    this.xf.reserveOver();
    this.contexts = new Array(n);
    this.outbox = Array.from({ length: numWorkers }, (_, w) => new PacketColumns(w === workerIndex ? 1 : 256));
    const bw = this.links.bytesPerUs;
    const message = shape.linkSharing === 'message';
    const Send = message ? MessageSendPort : SendPort;
    const Recv = message ? MessageRecvPort : RecvPort;
    for (const r of localRanks) {
      this.sendPorts[r] = [
        new Send(r, PORT_NVL_OUT, bw[PATH_NVLINK]!, this.xf, this),
        new Send(r, PORT_IB_OUT, bw[PATH_IB]!, this.xf, this),
      ];
      this.sendPorts[r][1]!.qpLimit = this.shape.hardware.ibQpGBps * 1e3;
      this.recvPorts[r] = [
        new Recv(r, PORT_NVL_IN, bw[PATH_NVLINK]!, this.xf, this),
        new Recv(r, PORT_IB_IN, bw[PATH_IB]!, this.xf, this),
      ];
      for (let i = 0; i < 2; i++) {
        this.sendPortAt[2 * r + i] = this.sendPorts[r][i];
        this.recvPortAt[2 * r + i] = this.recvPorts[r][i];
      }
      this.pairSeqOut[r] = new Int32Array(n);
      this.contexts[r] = new RankContext(this, r);
    }
  }

  isLocal(rank: number): boolean {
    return this.localRank[rank] === 1;
  }

  private nextSeq(rank: number): number {
    const s = this.seq[rank]!;
    this.seq[rank] = s + 1;
    return s;
  }

  // ---------------------------------------------------------------- tasks

  /**
   * Start a task on a local rank at the current time (it runs from its first event). It belongs to
   * kernel `kernel`, by default to the kernel of the task spawning it.
   */
  spawn(rank: number, name: string, body: TaskBody | RoleStep, group: TaskGroup, at = this.now, kernel?: KernelTag | null): Task {
    // Into a failed group: the task is stopped before it starts, as the group's others were.
    if (group.failed) return Object.assign(new Task(this.taskIdNext++, rank, name, body, group), { done: true });
    const t = new Task(this.taskIdNext++, rank, name, body, group);
    t.kernel = kernel !== undefined ? kernel : (this.current?.kernel ?? null);
    group.live++;
    this.addLive(t);
    this.queue.at = at;
    this.queue.pushAt(rank, this.nextSeq(rank), EV_TASK, 0, t);
    return t;
  }

  /**
   * Start a detached task (see RankContext.spawnDetached) at the current time: its record is an
   * ended detached task's when there is one. No time argument: a float passed to a call V8 does not
   * inline is boxed, and a default argument (`at = this.now`) is boxed in the callee, once per
   * posted chunk or head.
   */
  spawnDetached(rank: number, name: string, role: RoleStep, group: TaskGroup): void {
    if (group.failed) {
      // Stopped before it starts, as in spawn (the id is spent all the same).
      this.taskIdNext++;
      return;
    }
    let t: Task;
    const old = this.detachedPool.take();
    if (old !== null) {
      old.reuse(this.taskIdNext++, rank, name, role, group);
      t = old;
    } else t = new Task(this.taskIdNext++, rank, name, role, group);
    t.detached = true;
    t.kernel = this.current?.kernel ?? null;
    group.live++;
    this.addLive(t);
    const seq = this.nextSeq(rank);
    const delay = role.startDelayUs;
    if (delay !== undefined) {
      // Spawned by a task's step (every kernel's NIC posts are): its sleep starts at its own place.
      if (this.current !== null) {
        this.deferStart(t, rank, seq);
        return;
      }
      this.queue.at = this.now + delay;
    } else this.queue.at = this.now;
    this.queue.pushAt(rank, seq, EV_TASK, 0, t);
  }

  /**
   * Detached tasks spawned at this instant whose first wait is a fixed sleep
   * ({@link RoleStep.startDelayUs}: a NIC's doorbell), kept off the event queue. The first event
   * such a task had did nothing but start that sleep, from its own place in the order (time, key):
   * here the sleep starts at that same place, when the loop reaches it ({@link startDeferred}), so
   * the sleep's event gets the same sequence number as before and every timeline is unchanged; the
   * task's first step is at the sleep's end. Sorted by key from `deferHead`; empty whenever the
   * loop moves past the instant, so only `runUntil` reads it (steps run only in task events, never
   * inside a link instant, which comes last in its instant).
   */
  private deferTask: Array<Task | null> = [];
  private deferKey = new Float64Array(64);
  /** Entries in use: [deferHead, deferN); both back to 0 once it is empty (capacity kept). */
  private deferHead = 0;
  private deferN = 0;

  /** Defer task `t`'s start (its key: rank and sequence number, integers: the key is beyond the small integers, boxed as an argument). */
  private deferStart(t: Task, rank: number, seq: number): void {
    const key = rank * SEQ_SPAN + seq;
    const tasks = this.deferTask;
    let i = this.deferN++;
    if (i === this.deferKey.length) {
      const k = new Float64Array(2 * i);
      k.set(this.deferKey);
      this.deferKey = k;
    }
    const keys = this.deferKey;
    if (i === tasks.length) tasks.push(null);
    // Keys mostly arrive in order (one task's posts): insertion from the end.
    while (i > this.deferHead && keys[i - 1]! > key) {
      keys[i] = keys[i - 1]!;
      tasks[i] = tasks[i - 1]!;
      i--;
    }
    keys[i] = key;
    tasks[i] = t;
  }

  /**
   * Start the sleeps of the deferred tasks that come before the queue's earliest event (all of
   * them are at the current instant), as their first events did: a task of a failed group does
   * nothing (as `resume` would).
   */
  private startDeferred(): void {
    const q = this.queue;
    const tasks = this.deferTask, keys = this.deferKey;
    let h = this.deferHead;
    const n = this.deferN;
    while (h < n && (q.size === 0 || q.peekTime() > this.now || q.peekKey() > keys[h]!)) {
      const t = tasks[h]!;
      tasks[h] = null;
      h++;
      if (t.done) continue;
      const w = (t.sleepWait ??= this.waitPool.take(WAIT_SLEEP));
      w.us = t.role!.startDelayUs!;
      t.wait = w;
      q.at = this.now + w.us;
      q.pushAt(t.rank, this.nextSeq(t.rank), EV_TASK, 0, t);
    }
    if (h === n) h = this.deferN = 0;
    this.deferHead = h;
  }

  private addLive(t: Task): void {
    const n = this.liveCount++;
    t.slot = n;
    if (n < this.live.length) this.live[n] = t;
    else this.live.push(t);
  }

  private removeLive(t: Task): void {
    const i = t.slot;
    if (i < 0) return;
    const n = --this.liveCount;
    const last = this.live[n]!;
    this.live[i] = last;
    last.slot = i;
    this.live[n] = null;
    t.slot = -1;
  }

  /** The tasks not yet ended, in the order they were spawned. */
  private liveTasks(): Task[] {
    return (this.live.slice(0, this.liveCount) as Task[]).sort((a, b) => a.id - b.id);
  }

  /** Ended detached tasks, for new detached tasks to reuse. */
  private readonly detachedPool = new FreeList<Task>();
  /** Wait records of ended tasks, for new tasks to reuse. */
  readonly waitPool = new WaitPool();

  /** The task being resumed (its context helpers reuse its wait records). */
  current: Task | null = null;

  private resume(task: Task, value: number): void {
    if (task.done) return; // (a failed group's tasks are all done: see failGroup)
    task.wait = null;
    const prev = this.current;
    this.current = task;
    try {
      this.step(task, value);
    } finally {
      this.current = prev;
    }
  }

  private step(task: Task, value: number): void {
    let v = value;
    const role = task.role;
    for (;;) {
      let w: Task['wait'];
      if (role !== null) {
        try {
          w = task.roleStep!.call(role, v);
        } catch (e) {
          this.failTask(task, e);
          return;
        }
        if (w === null) {
          this.finishTask(task);
          return;
        }
      } else {
        let r: IteratorResult<unknown, void>;
        try {
          r = task.body!.next(v);
        } catch (e) {
          this.failTask(task, e);
          return;
        }
        if (r.done) {
          this.finishTask(task);
          return;
        }
        w = r.value as Task['wait'];
        if (!w) {
          this.failTask(task, new Error(`yielded ${String(r.value)} instead of a wait`));
          return;
        }
      }
      switch (w.kind) {
        case WAIT_SLEEP:
          if (!(w.us >= 0)) {
            this.failTask(task, new Error(`sleep of ${w.us} us`));
            return;
          }
          task.wait = w;
          this.queue.at = this.now + w.us;
          this.queue.pushAt(task.rank, this.nextSeq(task.rank), EV_TASK, 0, task);
          return;
        case WAIT_COUNTER: {
          const cur = w.region.i32[w.index]!;
          if (counterSatisfied(cur, w.cmp, w.value)) {
            v = cur;
            continue;
          }
          task.wait = w;
          this.watch(w.region, w.index, task);
          return;
        }
        case WAIT_ANY: {
          const nc = condCount(w);
          const hit = firstSatisfied(w.conds, nc);
          if (hit >= 0) {
            v = hit;
            continue;
          }
          task.wait = w;
          // Entries left under the other counters once one fires are dropped when next scanned.
          for (let i = 0; i < nc; i++) this.watch(w.conds[i]!.region, w.conds[i]!.index, task);
          return;
        }
        case WAIT_TRANSFER: {
          // A released record's transfer is over (a record asking for an ack outlives its ack).
          const x = this.xf.index(w.transfer);
          if (x < 0 || this.xf.acked[x]) {
            v = 0;
            continue;
          }
          task.wait = w;
          this.xf.ackWaiter[x] = task;
          return;
        }
        case WAIT_READ:
          task.wait = w;
          this.issueRead(task, w.peer, w.region, w.index);
          return;
        case WAIT_TASKS: {
          const ts = w.tasks;
          let pending = 0;
          for (let i = 0; i < ts.length; i++) if (!ts[i]!.done) pending++;
          if (pending === 0) {
            v = 0;
            continue;
          }
          task.wait = w;
          // Each task not done yet tells this one when it ends; the last one resumes it.
          task.joinPending = pending;
          for (let i = 0; i < ts.length; i++) {
            const t = ts[i]!;
            if (t.done) continue;
            if (t.joiner === null) t.joiner = task;
            else (t.joiners ??= []).push(task);
          }
          return;
        }
      }
    }
  }

  private finishTask(task: Task): void {
    task.done = true;
    task.wait = null;
    this.removeLive(task);
    this.waitPool.release(task);
    if (task.joiner !== null) {
      this.joinedOne(task.joiner);
      if (task.joiners !== null) for (const j of task.joiners) this.joinedOne(j);
    }
    const g = task.group;
    if (--g.live === 0 && !g.failed) {
      g.endTime = this.now;
      this.finishedGroups.push(g);
    }
    if (task.detached) this.detachedPool.give(task);
  }

  /** One of the tasks `j` joins has ended: resume `j` once it was the last. */
  private joinedOne(j: Task): void {
    if (j.wait?.kind === WAIT_TASKS && --j.joinPending === 0) {
      this.queue.at = this.now;
      this.queue.pushAt(j.rank, this.nextSeq(j.rank), EV_TASK, 0, j);
    }
  }

  private failTask(task: Task, e: unknown): void {
    task.done = true;
    this.removeLive(task);
    const g = task.group;
    if (g.failed) return;
    this.failGroup(g);
    const w = toWireError(e);
    this.failures.push({
      rank: task.rank,
      task: task.name,
      opId: g.opId,
      error: { ...w, message: `rank ${task.rank} task '${task.name}': ${w.message}`, data: { ...w.data, rank: task.rank, task: task.name } },
    });
    task.kernel?.onFail?.(w.message);
  }

  /**
   * Group `g` has failed: every task of it not yet ended stops (marked done, so a resume needs no
   * look at its group), and a task spawned into it later is done at once.
   */
  failGroup(g: TaskGroup): void {
    g.failed = true;
    for (const t of this.liveTasks()) if (t.group === g) { t.done = true; this.removeLive(t); }
  }

  /** Tasks still blocked, with what each waits for. */
  blockedTasks(): BlockedTask[] {
    return this.liveTasks()
      .filter((t) => !t.done)
      .map((t) => ({ rank: t.rank, task: t.name, waitingFor: describeWait(t.wait) }));
  }

  private watch(region: Region, index: number, task: Task): void {
    // Dense per-counter lists for counter regions of ordinary size (a sparse array is a hash table).
    // (The region's `waiters` slot is the engine's own: it holds WaitLists.)
    const lists = (region.waiters ??= (region.i32.length <= 1 << 16 ? new Array<WaitList | undefined>(region.i32.length).fill(undefined) : []) as unknown as Array<unknown[] | undefined>) as unknown as Array<WaitList | undefined>;
    let list = lists[index];
    if (!list) lists[index] = list = new WaitList();
    const n = list.n;
    if (n === 0 || list.get(n - 1) !== task) list.add(task);
  }

  /** Re-check the tasks waiting on counter `region[index]` after it changed (it alone). */
  wakeCounter(region: Region, index: number): void {
    this.wake(region, index, true);
  }

  /**
   * Re-check the tasks waiting on counter `region[index]`. With `alone` (the counter is the only
   * one that moved since the waiters were last checked), a waiter on any of several counters is
   * checked only against its conditions on this one: every counter move reaches its waiters here,
   * so a condition on another counter that holds would have woken the task when that counter moved,
   * and none holds unless one of this counter's does (then the first that holds is found, as
   * before). A range of counters written at once ({@link wakeRange}) is checked in full.
   */
  private wake(region: Region, index: number, alone: boolean): void {
    const lists = region.waiters as unknown as Array<WaitList | undefined> | null;
    if (lists === null) return;
    const list = lists[index];
    if (!list || list.n === 0) return;
    const n = list.n;
    let keep = 0;
    for (let i = 0; i < n; i++) {
      const t = list.get(i);
      const w = t.wait;
      if (t.done || w === null) continue;
      let value: number;
      if (w.kind === WAIT_COUNTER) {
        if (w.region !== region || w.index !== index) continue;
        value = region.i32[index]!;
        if (!counterSatisfied(value, w.cmp, w.value)) {
          if (keep !== i) list.set(keep, t);
          keep++;
          continue;
        }
      } else if (w.kind === WAIT_ANY) {
        value = alone && !holdsOn(w.conds, condCount(w), region, index) ? -1 : firstSatisfied(w.conds, condCount(w));
        if (value < 0) {
          if (keep !== i) list.set(keep, t);
          keep++;
          continue;
        }
      } else continue;
      // Resume through the queue so the task runs under its own rank's ordering key; the wait
      // resumes with the counter value (WAIT_ANY: the index of the condition) that satisfied it.
      this.queue.at = this.now;
      this.queue.pushAt(t.rank, this.nextSeq(t.rank), EV_TASK, value, t);
      t.wait = null;
    }
    // Slots past the count are cleared, not cut off: the array keeps its capacity for the next waits.
    for (let i = keep; i < n; i++) list.set(i, null);
    list.n = keep;
  }

  /** Re-check the waiters on every watched counter in bytes [offset, offset + length) of `region`. */
  wakeRange(region: Region, offset: number, length: number): void {
    const lists = region.waiters;
    if (lists === null) return;
    const lo = offset >> 2;
    const hi = Math.min((offset + length + 3) >> 2, lists.length);
    for (let i = lo; i < hi; i++) if (lists[i] !== undefined) this.wake(region, i, false);
  }

  // ---------------------------------------------------------------- transfers

  /**
   * Issue a one-sided operation from `src` (local). `srcRegion`/`dstRegion` are region ids or -1.
   * Returns the transfer's record, whose handle (`xf.handle`) a task can wait on for its delivery
   * when `wantAck` is set. The record, not the handle: a handle carries its record's generation and
   * soon exceeds V8's small integers, and returning it from this call (never inlined) would box it
   * as a heap number per transfer.
   */
  issue(
    src: number, dst: number, op: number, bytes: number, srcRegion: number, srcOffset: number,
    dstRegion: number, dstOffset: number, value: number, flags: number, sigRegion = -1, sigOffset = -1, qp = -1,
  ): number {
    if (qp !== -1 && !(Number.isInteger(qp) && qp >= 0 && qp < QP_SLOTS))
      fail('E_ARGUMENT', `rank ${src}: queue pair ${qp} outside 0..${QP_SLOTS - 1}`, { rank: src, qp });
    if (!Number.isInteger(dst) || dst < 0 || dst >= this.shape.numRanks)
      fail('E_RANK', `rank ${src}: destination rank ${dst} does not exist (cluster has ${this.shape.numRanks} ranks)`, { rank: src, dst });
    // Checked inline on this hot path; the messages are only built when a check fails.
    if (dstRegion >= 0) {
      const dr = this.regions.get(dstRegion);
      const len = op === OP_PUT ? bytes : 4;
      if (dr.rank !== dst || !inRange(dr, dstOffset, len)) {
        if (dr.rank !== dst) fail('E_REGION', `region '${dr.name}' belongs to rank ${dr.rank}, not destination rank ${dst}`, { region: dr.name, dst });
        checkRange(dr, dstOffset, len, `rank ${src} ${op === OP_PUT ? 'put' : 'atomic add'} to rank ${dst}`);
      }
    }
    if (sigRegion >= 0) {
      const gr = this.regions.get(sigRegion);
      if (gr.rank !== dst || (sigOffset & 3) !== 0 || !inRange(gr, sigOffset, 4)) {
        if (gr.rank !== dst) fail('E_REGION', `signal region '${gr.name}' belongs to rank ${gr.rank}, not destination rank ${dst}`, { region: gr.name, dst });
        if ((sigOffset & 3) !== 0) fail('E_REGION', `signal offset ${sigOffset} in '${gr.name}' is not 4-byte aligned`, { offset: sigOffset });
        checkRange(gr, sigOffset, 4, `rank ${src} put signal to rank ${dst}`);
      }
    }
    if (srcRegion >= 0) {
      const sr = this.regions.get(srcRegion);
      if (sr.rank !== src || !inRange(sr, srcOffset, bytes)) {
        if (sr.rank !== src) fail('E_REGION', `source region '${sr.name}' belongs to rank ${sr.rank}, not rank ${src}`, { region: sr.name, src });
        checkRange(sr, srcOffset, bytes, `rank ${src} put source`);
      }
    }
    const path = this.links.path(src, dst);
    const wire = op === OP_PUT ? bytes : CONTROL_MESSAGE_BYTES;
    const xid = this.xidNext[src]!;
    this.xidNext[src] = xid + 1;
    const pairOut = this.pairSeqOut[src]!;
    const pairSeq = pairOut[dst]!;
    pairOut[dst] = pairSeq + 1;
    // An RDMA work request (qp >= 0, InfiniBand) runs on its queue pair, at most at the QP's rate.
    const wr = qp >= 0 && path === PATH_IB;
    const T = this.xf;
    const x = T.alloc();
    T.src[x] = src; T.dst[x] = dst; T.xid[x] = xid; T.pairSeq[x] = pairSeq; T.op[x] = op; T.path[x] = path; T.bytes[x] = wire;
    T.srcRegion[x] = srcRegion; T.srcOffset[x] = srcOffset; T.dstRegion[x] = dstRegion; T.dstOffset[x] = dstOffset;
    T.value[x] = value; T.issueT[x] = this.now; T.flags[x] = flags; T.sigRegion[x] = sigRegion; T.sigOffset[x] = sigOffset;
    T.qp[x] = wr ? qp : 0;
    this.transfersIssued++;
    // An ack from another worker finds its transfer by xid; a local one carries the record's index.
    if (flags & FLAG_WANT_ACK && !this.isLocal(dst)) this.sentByXid.set(xid * 4096 + (src & 4095), x);
    if (path === PATH_LOCAL) {
      T.egressStartT[x] = T.ingressStartT[x] = this.now;
      // Never before an earlier copy within the rank (FIFO, as the pair's streams are).
      const t = Math.max(this.now + wire / this.links.bytesPerUs[PATH_LOCAL]!, this.localDone[src]!);
      this.localDone[src] = t;
      this.queue.at = t;
      this.queue.pushAt(src, this.nextSeq(src), EV_LOCAL_DELIVER, x, null);
      return x;
    }
    // Every transfer of the stream is counted: a control message waits for as many deliveries.
    const stream = dst * QP_SLOTS + T.qp[x]!;
    const issued = this.issuedOn[src] ?? this.streamColumn(this.issuedOn, src, 0);
    const ahead = issued[stream]!;
    issued[stream] = (ahead + 1) | 0;
    if (wire <= CONTROL_MESSAGE_BYTES) return this.sendControl(x, ahead);
    // (The port reads the clock and the QP's rate limit itself: float arguments would be boxed.)
    this.sendPorts[src]![path === PATH_NVLINK ? 0 : 1]!.enqueue(x, stream, wr);
    return x;
  }

  // ---------------------------------------------------------------- control messages (docs/hardware.md)

  /**
   * Control message `x` (at most CONTROL_MESSAGE_BYTES on the wire: one packet) leaves at once,
   * outside the ports' fair sharing: a port arbitrates packet by packet, and one packet holds it
   * for a fraction of a nanosecond. It reaches its receiver (see below), where it is delivered
   * after the `ahead` transfers its stream had before it (see {@link controlArrived}). Returns the
   * record a task's handle names: to another worker without an ack asked for, the sender keeps no
   * record (the table's `over` record, always acknowledged).
   */
  private sendControl(x: number, ahead: number): number {
    const T = this.xf;
    const src = T.src[x]!, dst = T.dst[x]!;
    const path = T.path[x]!;
    T.egressStartT[x] = this.now;
    T.egressDoneT[x] = this.now + CONTROL_MESSAGE_BYTES / this.links.bytesPerUs[path]!;
    T.ahead[x] = ahead;
    // When it reaches its receiver on an idle stream: its issue + the path's latency + one packet
    // of CONTROL_MESSAGE_BYTES at the link rate (as an 8-byte transfer on idle ports), whatever it
    // carries (a put of 0 to 8 bytes takes a packet as an atomic does). One packet time for all
    // keeps the arrivals of a stream's control messages in their issue order. One expression for
    // both ends, so the event time and the record's times agree to the bit on 1 and 2 workers.
    // (Computed here, not returned by a helper: a float returned by a call that V8 does not inline
    // is boxed as a heap number, one per control message.)
    const t = T.issueT[x]! + this.links.latencyUs[path]! + CONTROL_MESSAGE_BYTES / this.links.bytesPerUs[path]!;
    const seq = this.nextSeq(src);
    if (this.isLocal(dst)) {
      this.queue.at = t;
      this.queue.pushAt(src, seq, EV_CONTROL, x, null);
      return x;
    }
    // The count travels unsigned in the packet's `rate` column (see PKT_CONTROL).
    PACKET_TIME_RATE[0] = t;
    PACKET_TIME_RATE[1] = ahead >>> 0;
    pushPacketOf(this.outbox[this.shape.workerOfRank[dst]!]!, PKT_CONTROL, src, seq, T, x);
    if (T.flags[x]! & FLAG_WANT_ACK) return x;
    T.release(x);
    return T.over;
  }

  /**
   * Control message `x` has reached its receiver: delivered now when its stream has delivered every
   * transfer issued before it, else parked behind the stream (released by {@link deliver} the
   * moment its last predecessor is delivered, before any later transfer of the stream).
   */
  private controlArrived(x: number): void {
    const T = this.xf;
    const path = T.path[x]!;
    const start = T.issueT[x]! + this.links.latencyUs[path]!;
    T.ingressStartT[x] = start;
    T.ingressDoneT[x] = this.now;
    const dst = T.dst[x]!, stream = T.src[x]! * QP_SLOTS + T.qp[x]!;
    const done = this.deliveredOn[dst] ?? this.streamColumn(this.deliveredOn, dst, 0);
    if (((done[stream]! - T.ahead[x]!) | 0) >= 0) {
      this.deliver(x);
      return;
    }
    const head = this.parkHead[dst] ?? this.streamColumn(this.parkHead, dst, -1);
    const tail = this.parkTail[dst] ?? this.streamColumn(this.parkTail, dst, -1);
    const ahead = T.ahead[x]!;
    const last = tail[stream]!;
    let at = head[stream]!;
    if (at < 0 || ((T.ahead[last]! - ahead) | 0) < 0) {
      // In stream order (always, as a stream's control messages arrive in issue order): at the end.
      T.parkNext[x] = -1;
      if (at < 0) head[stream] = x;
      else T.parkNext[last] = x;
      tail[stream] = x;
      return;
    }
    // Kept in stream order whatever the arrival order: before the first one issued after it.
    if (((T.ahead[at]! - ahead) | 0) > 0) {
      T.parkNext[x] = at;
      head[stream] = x;
      return;
    }
    while (((T.ahead[T.parkNext[at]!]! - ahead) | 0) < 0) at = T.parkNext[at]!;
    T.parkNext[x] = T.parkNext[at]!;
    T.parkNext[at] = x;
  }

  /** A rank's column of per-stream numbers, made on its first use (filled with `fill`). */
  private streamColumn(cols: Array<Int32Array | undefined>, rank: number, fill: number): Int32Array {
    const a = new Int32Array(this.shape.numRanks * QP_SLOTS);
    if (fill !== 0) a.fill(fill);
    cols[rank] = a;
    return a;
  }

  private issueRead(task: Task, peer: number, region: Region, index: number): void {
    const src = task.rank;
    const lat = this.links.latencyUs[this.links.path(src, peer)]!;
    const t = this.now + lat;
    const seq = this.nextSeq(src);
    if (this.isLocal(peer)) {
      const x = this.readPool.take() ?? { task: null, taskId: -1, region, index: 0, src: 0, peer: 0 };
      x.task = task; x.taskId = task.id; x.region = region; x.index = index; x.src = src; x.peer = peer;
      this.queue.at = t;
      this.queue.pushAt(src, seq, EV_READ, 0, x);
    } else {
      this.readWaiters.set(task.id, task);
      this.outbox[this.shape.workerOfRank[peer]!]!.push(
        PKT_READ, t, src, seq, src, peer, 0, 0, OP_READ, this.links.path(src, peer), CONTROL_MESSAGE_BYTES,
        -1, -1, region.id, index * 4, 0, this.now, -1, -1, 0, task.id, -1, -1, 0, 0,
      );
    }
  }

  // ---------------------------------------------------------------- link flow (docs/hardware.md)

  /**
   * Link work runs once per instant and engine, at the end of the instant (key SETTLE_RANK,
   * SETTLE_SEQ): the credits and news due then are applied (in the order they were sent), then
   * every port due then settles, in port-number order, as if each had an event of its own keyed by
   * its number. Tasks a settle wakes (deliveries) run before the next port settles, as they would
   * have: the link event gives way to them and comes back. So the outcome is the same as one event
   * per news batch, credit batch, settle and timer, and the same however ranks are spread over
   * workers (news and credits act on ports only, which settle after every rank's event of the
   * instant; a credit keeps the key it was sent under, see SendPort.credit).
   */
  private linkAt(): void {
    const t = this.at;
    const tab = this.instants;
    tab.at = t;
    const i = tab.addAt();
    if (tab.queued[i]) return;
    tab.queued[i] = 1;
    this.queue.at = t;
    this.queue.pushAt(SETTLE_RANK, SETTLE_SEQ, EV_SETTLE, 0, null);
  }

  /**
   * The instant {@link linkAt} and {@link dueBatch} act on: a field, not an argument, since a float
   * passed to a call that V8 does not inline is boxed, and which of these calls are inlined moves
   * with each caller's inlining budget.
   */
  private at = DOUBLE;

  /** {@link linkAt} the earliest due port's time. */
  private linkAtDue(): void {
    this.at = this.due.minTime();
    this.linkAt();
  }

  /** The port's due time changed: it is due now while dirty, else at its timer. */
  private reschedule(port: SendPort | RecvPort): void {
    const due = this.due;
    due.at = port.dirty ? this.now : port.timerAt;
    due.setAt(port);
    const m = this.due.minTime();
    // The earliest due time seldom changes: known queued, it needs no look-up.
    if (m < Infinity && m !== this.linkMin) {
      this.linkAtDue();
      this.linkMin = m;
    }
  }

  /** The due time reschedule last made sure of (its link event not run yet), NaN when none. */
  private linkMin = NaN;

  settleLater(port: SendPort | RecvPort): void {
    this.reschedule(port);
  }

  timer(port: SendPort | RecvPort): void {
    this.reschedule(port);
  }

  eventKey(): number {
    return this.queue.popKey;
  }

  /** The link event of the instant `now`. */
  private linkInstant(): void {
    const t = this.now;
    const tab = this.instants;
    // Found once: found again only if entries moved since.
    tab.at = t;
    let i = tab.findAt();
    let moves = tab.moves;
    const credits = i >= 0 ? tab.credits[i] ?? null : null;
    if (credits !== null) {
      tab.credits[i] = null;
      this.applyCredits(credits);
      if (tab.moves !== moves) {
        tab.at = t;
        i = tab.findAt();
        moves = tab.moves;
      }
    }
    const news = i >= 0 ? tab.news[i] ?? null : null;
    if (news !== null) {
      tab.news[i] = null;
      this.applyNews(news);
    }
    const due = this.due;
    const q = this.queue;
    // `t` stays queued while ports run (a port due now needs no second event).
    while (due.size > 0 && due.minTime() === t) {
      const p = due.pop();
      p.runDue();
      this.reschedule(p);
      if (q.size > 0 && q.peekTime() === t) break; // woken tasks first
    }
    if (tab.moves !== moves || i < 0) {
      tab.at = t;
      i = tab.findAt();
    }
    if (i >= 0) {
      tab.queued[i] = 0;
      tab.drop(i);
    }
    if (this.linkMin === t) this.linkMin = NaN;
    const m = due.minTime();
    // (Known queued when it is the due time reschedule last made sure of.)
    if (m < Infinity && m !== this.linkMin) {
      this.linkAtDue();
      this.linkMin = m;
    }
  }

  /** The batch of news or credits due at this engine at `at` (one per instant, kept in arrival order). */
  private dueBatch(kind: typeof DUE_NEWS | typeof DUE_CREDITS): FlowBatch {
    const tab = this.instants;
    tab.at = this.at;
    const i = tab.addAt();
    const col = kind === DUE_NEWS ? tab.news : tab.credits;
    let b = col[i] ?? null;
    if (b === null) {
      b = this.batch();
      col[i] = b;
      this.linkAt();
    }
    return b;
  }

  /**
   * A sender port's news (starts, rate changes, ends), due at the receivers one latency later.
   * Every item takes its own key (consecutive seqs of the sender); the items for this engine's
   * receivers join the news due at that instant, the others travel as packets.
   */
  news(port: SendPort, count: number): void {
    const time = this.now;
    const src = port.owner;
    const T = this.xf;
    const jobs = port.newsJob, kinds = port.newsKind, rates = port.newsRate, keys = port.newsKey;
    // The port's stream key names the receiver and queue pair (no read of the transfer's row).
    const pathIdx = port.index === PORT_NVL_OUT ? 0 : 1;
    const lat = this.links.latencyUs[pathIdx === 0 ? PATH_NVLINK : PATH_IB]!;
    const localRank = this.localRank;
    const seqs = this.seq;
    let local: FlowBatch | null = null;
    for (let i = 0; i < count; i++) {
      const x = jobs[i]!;
      const kind = kinds[i]!;
      const seq = seqs[src]!;
      seqs[src] = seq + 1;
      if (kind === NEWS_START) T.egressStartT[x] = time;
      else if (kind === NEWS_DONE) T.egressDoneT[x] = time;
      const key = keys[i]!;
      const dst = (key / QP_SLOTS) | 0;
      if (localRank[dst]) {
        if (local === null) {
          this.at = time + lat;
          local = this.dueBatch(this.newsDue);
        }
        const order = src * SEQ_SPAN + seq;
        local.sendKey = order;
        const k = local.addSent(x, kind);
        local.rate[k] = rates[i]!;
        local.key[k] = src * QP_SLOTS + (key - dst * QP_SLOTS);
        local.ekey[k] = dst * 2 + pathIdx;
        local.order[k] = order;
        continue;
      }
      const box = this.outbox[this.shape.workerOfRank[dst]!]!;
      const pkt = kind === NEWS_START ? PKT_INGRESS_START : kind === NEWS_DONE ? PKT_EGRESS_DONE : PKT_RATE;
      PACKET_TIME_RATE[0] = time + this.links.latencyUs[T.path[x]!]!;
      PACKET_TIME_RATE[1] = rates[i]!;
      pushPacketOf(box, pkt, src, seq, T, x);
      // The receiving worker holds its own record from here; this one waits only for an ack.
      if (kind === NEWS_DONE && !(T.flags[x]! & FLAG_WANT_ACK)) T.release(x);
    }
  }

  /** A flow batch from the pool, empty. */
  private batch(): FlowBatch {
    const b = this.batchPool.take() ?? new FlowBatch(this.batchColumns);
    b.clear();
    return b;
  }

  /** Apply a batch of news in order (each receiver port settles at the end of the instant). */
  private applyNews(b: FlowBatch): void {
    const T = this.xf;
    const n = b.n;
    const perm = b.ordered ? null : this.inKeyOrder(b.order, n);
    const { job, kind: kinds, ekey, rate, key } = b;
    const ports = this.recvPortAt;
    const now = this.now;
    for (let k = 0; k < n; k++) {
      const i = perm === null ? k : perm[k]!;
      const x = job[i]!;
      const kind = kinds[i]!;
      // News from this engine's senders name their receiver port (dst * 2 + path index) in `ekey`;
      // news from another worker (ekey -1) are looked up in the record, and end its inbound entry.
      const p = ekey[i]!;
      if (kind === NEWS_START) T.ingressStartT[x] = now;
      else if (kind === NEWS_DONE && p < 0) this.inbound.delete(T.xid[x]! * 4096 + (T.src[x]! & 4095));
      const port = ports[p >= 0 ? p : T.dst[x]! * 2 + (T.path[x] === PATH_NVLINK ? 0 : 1)]!;
      port.news(x, kind, rate, i, key[i]!);
    }
    b.release();
    this.batchPool.give(b);
  }

  /** A receiver port's credit, due at its senders one latency later (keys as for news). */
  credit(port: RecvPort, count: number): void {
    const time = this.now;
    const level = port.level;
    const dst = port.owner;
    const pathIdx = port.index === PORT_NVL_IN ? 0 : 1;
    const path = pathIdx === 0 ? PATH_NVLINK : PATH_IB;
    const t = time + this.links.latencyUs[path]!;
    const keys = port.creditKeys;
    let local: FlowBatch | null = null;
    for (let i = 0; i < count; i++) {
      const key = keys[i]!;
      const src = Math.floor(key / QP_SLOTS);
      const qp = key - src * QP_SLOTS;
      const seq = this.nextSeq(dst);
      if (this.isLocal(src)) {
        if (local === null) {
          this.at = t;
          local = this.dueBatch(this.creditsDue);
        }
        const ekey = dst * SEQ_SPAN + seq;
        local.sendKey = ekey;
        const k = local.addSent(src, pathIdx);
        local.rate[k] = level;
        local.key[k] = dst * QP_SLOTS + qp;
        local.ekey[k] = ekey;
        continue;
      }
      this.outbox[this.shape.workerOfRank[src]!]!.push(
        PKT_CREDIT, t, dst, seq, src, dst, 0, 0, OP_PUT, path, 0, -1, -1, -1, -1, 0, time, -1, -1, 0, -1, -1, -1, level === Infinity ? 0 : level, qp, // rate 0: no limit
      );
    }
  }

  private applyCredits(b: FlowBatch): void {
    const n = b.n;
    const perm = b.ordered ? null : this.inKeyOrder(b.ekey, n);
    const { job, kind, key, rate, ekey } = b;
    const ports = this.sendPortAt;
    for (let k = 0; k < n; k++) {
      const i = perm === null ? k : perm[k]!;
      ports[job[i]! * 2 + kind[i]!]!.credit(key[i]!, rate, i, ekey);
    }
    b.release();
    this.batchPool.give(b);
  }

  /** Scratch of {@link inKeyOrder}, reused. */
  private permBuf = new Int32Array(64);

  /**
   * The order in which to apply a batch of news or credits due at one instant: by the key each item
   * was sent under. Items from this engine's senders join the batch as they are sent, items from
   * other workers when their packets are drained, so the batch's own order depends on how ranks are
   * spread over workers (a receiver port then activated its streams, and summed their rates, in a
   * different order with 1 and 2 workers). Null when the batch is already in key order (the common
   * case); else a reused permutation. Keys are unique (one seq per item of a rank).
   */
  private inKeyOrder(keys: Float64Array, n: number): Int32Array | null {
    let sorted = true;
    for (let i = 1; i < n; i++) {
      if (keys[i - 1]! > keys[i]!) {
        sorted = false;
        break;
      }
    }
    if (sorted) return null;
    if (this.permBuf.length < n) this.permBuf = new Int32Array(Math.max(n, 2 * this.permBuf.length));
    const perm = this.permBuf;
    // Insertion sort: batches are short and nearly in order.
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      let j = i;
      while (j > 0 && keys[perm[j - 1]!]! > key) {
        perm[j] = perm[j - 1]!;
        j--;
      }
      perm[j] = i;
    }
    return perm;
  }

  served(_port: RecvPort, x: number): void {
    this.xf.ingressDoneT[x] = this.now;
    this.deliver(x);
  }

  /** Sender rate segments (src, start, end, dst, rate) for runTraffic, as activities on link tracks. */
  rateSegment(port: SendPort, x: number, _key: number, start: number, end: number, rate: number): void {
    if (end > start) this.activities.record(start, end, port.owner, LINK_RATE_TRACK + this.xf.dst[x]!, rate);
  }

  private linkRecorders = 0;

  /**
   * A rank's operation starts (+1) or stops (-1) asking for link figures (runTraffic's per-port busy
   * periods and per-transfer rate segments); the ports of this engine record while anyone asks.
   */
  recordLinksFor(delta: number): void {
    this.linkRecorders += delta;
    this.setRecordLinks(this.linkRecorders > 0);
  }

  private setRecordLinks(on: boolean): void {
    if (this.recordLinks === on) return;
    this.recordLinks = on;
    for (const r of this.localRanks) {
      for (const p of [...this.sendPorts[r]!, ...this.recvPorts[r]!]) {
        p.recording = on;
        p.onBusy = on ? (q, start, end, bytes) => this.activities.record(start, end, q.owner, LINK_PORT_TRACK + q.index, bytes) : null;
      }
    }
  }

  /** Port figures of this engine's ranks: [rank, port index, busy us, bytes, max load / capacity] rows. */
  portStats(): number[][] {
    const out: number[][] = [];
    for (const r of this.localRanks)
      for (const p of [...this.sendPorts[r]!, ...this.recvPorts[r]!]) out.push([r, p.index, p.busyUs, p.bytesMoved, p.maxLoad / p.bytesPerUs]);
    return out;
  }

  /**
   * Deliver transfer `x` (see {@link land}); on a link, count it on its stream and deliver the
   * control messages parked behind the stream that were waiting for it, in order, at once: before
   * any later transfer of the stream. A released one's record says what the model did: it left at
   * its issue (egress times unchanged) and was taken in as it was delivered (ingress: the one
   * packet time up to now). On one queue pair the hardware holds it at the sender instead, behind
   * the earlier work requests' last byte: it lands with them, within one packet time of now.
   */
  private deliver(x: number): void {
    const T = this.xf;
    if (T.path[x] === PATH_LOCAL) {
      this.land(x);
      return;
    }
    const dst = T.dst[x]!, stream = T.src[x]! * QP_SLOTS + T.qp[x]!;
    this.land(x);
    const done = this.deliveredOn[dst] ?? this.streamColumn(this.deliveredOn, dst, 0);
    let n = (done[stream]! + 1) | 0;
    done[stream] = n;
    const head = this.parkHead[dst];
    if (head === undefined) return;
    for (let c = head[stream]!; c >= 0 && ((n - T.ahead[c]!) | 0) >= 0; c = head[stream]!) {
      head[stream] = T.parkNext[c]!;
      T.ingressStartT[c] = this.now - (T.egressDoneT[c]! - T.egressStartT[c]!);
      T.ingressDoneT[c] = this.now;
      this.land(c);
      n = (n + 1) | 0;
      done[stream] = n;
    }
  }

  /** Transfer `x` lands: data readable, counters moved, waiters woken, timeline, ack; its record released. */
  private land(x: number): void {
    const T = this.xf;
    const dstRegion = T.dstRegion[x]!, op = T.op[x]!, flags = T.flags[x]!;
    if (dstRegion >= 0) {
      const dr = this.regions.get(dstRegion);
      const dstOffset = T.dstOffset[x]!;
      if (op === OP_PUT) {
        const srcRegion = T.srcRegion[x]!;
        if (!(flags & FLAG_NO_DATA) && srcRegion >= 0) {
          const sr = this.regions.get(srcRegion);
          const srcOffset = T.srcOffset[x]!;
          dr.u8.set(sr.u8.subarray(srcOffset, srcOffset + T.bytes[x]!), dstOffset);
        }
        this.wakeRange(dr, dstOffset, T.bytes[x]!);
      } else if (op === OP_ADD) {
        dr.i32[dstOffset >> 2] = dr.i32[dstOffset >> 2]! + T.value[x]!;
        this.wakeCounter(dr, dstOffset >> 2);
      }
    }
    const sigRegion = T.sigRegion[x]!;
    if (sigRegion >= 0) {
      // Put with signal: the counter moves with the data, as a release store of a tail after it.
      const sr = this.regions.get(sigRegion);
      const sigOffset = T.sigOffset[x]!;
      sr.i32[sigOffset >> 2] = sr.i32[sigOffset >> 2]! + T.value[x]!;
      this.wakeCounter(sr, sigOffset >> 2);
    }
    if (this.shape.recordTimeline) {
      // The floats through the log's scratch row, not as arguments (boxed: record is not inlined here).
      const times = this.timeline.times;
      times[0] = T.bytes[x]!;
      times[1] = T.issueT[x]!;
      times[2] = T.egressStartT[x]!;
      times[3] = T.egressDoneT[x]!;
      times[4] = T.ingressStartT[x]!;
      times[5] = T.ingressDoneT[x]!;
      times[6] = this.now;
      this.timeline.recordRow(T.dst[x]!, T.src[x]!, T.pairSeq[x]!, op, T.path[x]!);
    }
    const local = this.isLocal(T.src[x]!);
    if (flags & FLAG_WANT_ACK) {
      const dst = T.dst[x]!;
      const t = this.now + this.links.latencyUs[T.path[x]!]!;
      const seq = this.nextSeq(dst);
      if (local) {
        // The sender's record too: released once acknowledged.
        this.queue.at = t;
        this.queue.pushAt(dst, seq, EV_ACK, x, null);
        return;
      }
      PACKET_TIME_RATE[0] = t;
      PACKET_TIME_RATE[1] = 0;
      pushPacketOf(this.outbox[this.shape.workerOfRank[T.src[x]!]!]!, PKT_ACK, dst, seq, T, x);
    }
    T.release(x);
  }

  private acked(x: number): void {
    const T = this.xf;
    T.acked[x] = 1;
    if (!this.isLocal(T.dst[x]!)) this.sentByXid.delete(T.xid[x]! * 4096 + (T.src[x]! & 4095));
    const t = T.ackWaiter[x] as Task | null;
    T.release(x);
    if (t) this.resume(t, 0);
  }

  // ---------------------------------------------------------------- packets from other engines

  /**
   * Turn a validated batch of packets (columns, read by index: no object per packet) into events.
   * The batch is checked as a whole first, so a rejected batch changes nothing.
   */
  acceptColumns(b: PacketColumns): void {
    this.checkColumns(b);
    const k = b.kinds, c = b.col;
    const time = c[C_TIME]!, keyRank = c[C_KEY_RANK]!, keySeq = c[C_KEY_SEQ]!, src = c[C_SRC]!, dst = c[C_DST]!, xid = c[C_XID]!;
    const path = c[C_PATH]!, rate = c[C_RATE]!, qp = c[C_QP]!;
    const T = this.xf;
    let newsAt = NaN, creditsAt = NaN;
    let news: FlowBatch | null = null, credits: FlowBatch | null = null;
    for (let i = 0; i < b.count; i++) {
      const kind = k[i]!;
      // Flow packets join the news and credits due at their instant, in the order they were sent.
      switch (kind) {
        case PKT_INGRESS_START:
        case PKT_RATE:
        case PKT_EGRESS_DONE: {
          const key = xid[i]! * 4096 + (src[i]! & 4095);
          let x: number;
          if (kind === PKT_INGRESS_START) {
            x = recordOf(b, i, T);
            this.inbound.set(key, x);
          } else {
            x = this.inbound.get(key);
            if (kind === PKT_EGRESS_DONE) T.egressDoneT[x] = c[C_EGRESS_DONE_T]![i]!;
          }
          // Packets of one instant come in runs: its batch is looked up once per run.
          if (time[i] !== newsAt) {
            newsAt = time[i]!;
            this.at = newsAt;
            news = this.dueBatch(this.newsDue);
          }
          const nb = news!;
          const k = nb.add(x, kind === PKT_INGRESS_START ? NEWS_START : kind === PKT_RATE ? NEWS_RATE : NEWS_DONE);
          nb.rate[k] = rate[i]!;
          nb.key[k] = src[i]! * QP_SLOTS + qp[i]!;
          nb.ekey[k] = -1;
          nb.order[k] = keyRank[i]! * SEQ_SPAN + keySeq[i]!;
          break;
        }
        case PKT_CREDIT:
        {
          if (time[i] !== creditsAt) {
            creditsAt = time[i]!;
            this.at = creditsAt;
            credits = this.dueBatch(this.creditsDue);
          }
          const nb = credits!;
          const k = nb.add(src[i]!, path[i] === PATH_NVLINK ? 0 : 1);
          nb.rate[k] = rate[i] === 0 ? Infinity : rate[i]!;
          nb.key[k] = dst[i]! * QP_SLOTS + qp[i]!;
          nb.ekey[k] = keyRank[i]! * SEQ_SPAN + keySeq[i]!;
          break;
        }
        case PKT_CONTROL: {
          // The receiver's own record of it, from here to its delivery (and ack).
          const x = recordOf(b, i, T);
          T.egressDoneT[x] = c[C_EGRESS_DONE_T]![i]!;
          T.ahead[x] = rate[i]! | 0;
          this.queue.at = time[i]!;
          this.queue.pushAt(keyRank[i]!, keySeq[i]!, EV_CONTROL, x, null);
          break;
        }
        case PKT_ACK: {
          const x = this.sentByXid.get(xid[i]! * 4096 + (src[i]! & 4095));
          this.queue.at = time[i]!;
          this.queue.pushAt(keyRank[i]!, keySeq[i]!, EV_ACK, x, null);
          break;
        }
        case PKT_READ: {
          const region = this.regions.get(c[C_DST_REGION]![i]!);
          const req = this.readPool.take() ?? { task: null, taskId: -1, region, index: 0, src: 0, peer: 0 };
          req.task = null; req.taskId = c[C_WAITER]![i]!; req.region = region; req.index = c[C_DST_OFFSET]![i]! >> 2; req.src = src[i]!; req.peer = dst[i]!;
          this.queue.at = time[i]!;
          this.queue.pushAt(keyRank[i]!, keySeq[i]!, EV_READ, 0, req);
          break;
        }
        case PKT_READ_REPLY: {
          const task = this.readWaiters.get(c[C_WAITER]![i]!);
          this.readWaiters.delete(c[C_WAITER]![i]!);
          if (task && task.slot >= 0) {
            this.queue.at = time[i]!;
            this.queue.pushAt(keyRank[i]!, keySeq[i]!, EV_READ_REPLY, c[C_VALUE]![i]!, task);
          }
          break;
        }
      }
    }
  }

  /**
   * What field validation cannot see: packets due before this engine's clock, transfers and
   * regions it does not know, credits for ranks it does not host. Checked for the whole batch
   * before any packet is applied, so a rejected batch changes nothing.
   */
  private checkColumns(b: PacketColumns): void {
    const k = b.kinds, c = b.col;
    const time = c[C_TIME]!, src = c[C_SRC]!, xid = c[C_XID]!;
    const started = this.startedInBatch;
    started.clear();
    for (let i = 0; i < b.count; i++) {
      const key = xid[i]! * 4096 + (src[i]! & 4095);
      if (time[i]! < this.now)
        fail('E_PACKET', `packet ${i}: field 'time' ${time[i]} is before the receiver's clock ${this.now}`, { index: i, field: 'time', value: time[i] });
      const kind = k[i];
      if (kind === PKT_INGRESS_START) started.set(key, 0);
      else if ((kind === PKT_EGRESS_DONE || kind === PKT_RATE) && !this.inbound.has(key) && !started.has(key))
        fail('E_PACKET', `packet ${i}: field 'xid': ${kind === PKT_RATE ? 'rate' : 'egress-done'} for unknown transfer ${xid[i]} from rank ${src[i]}`, { index: i, field: 'xid', value: xid[i] });
      else if (kind === PKT_CONTROL && !this.isLocal(c[C_DST]![i]!))
        fail('E_PACKET', `packet ${i}: field 'dst': control message for rank ${c[C_DST]![i]}, which this worker does not host`, { index: i, field: 'dst', value: c[C_DST]![i] });
      else if (kind === PKT_CREDIT && !this.isLocal(src[i]!))
        fail('E_PACKET', `packet ${i}: field 'src': credit for rank ${src[i]}, which this worker does not host`, { index: i, field: 'src', value: src[i] });
      else if (kind === PKT_ACK && !this.sentByXid.has(key))
        fail('E_PACKET', `packet ${i}: field 'xid': ack for unknown transfer ${xid[i]} of rank ${src[i]}`, { index: i, field: 'xid', value: xid[i] });
      else if (kind === PKT_READ && !this.hasRegion(c[C_DST_REGION]![i]!))
        fail('E_PACKET', `packet ${i}: field 'dstRegion': read of unknown region ${c[C_DST_REGION]![i]}`, { index: i, field: 'dstRegion', value: c[C_DST_REGION]![i] });
    }
  }

  /** Transfers whose ingress-start is in the batch being checked (reused). */
  private readonly startedInBatch = new KeyIndexMap();

  private hasRegion(id: number): boolean {
    try {
      this.regions.get(id);
      return true;
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- the loop

  /**
   * Process every event earlier than `end`, or at most `budget` events (the host's watchdog runs
   * a window in slices); true when events before `end` remain.
   */
  runUntil(end: number, budget = Infinity): boolean {
    const q = this.queue;
    for (let n = 0; ; n++) {
      if (this.deferN > 0 && this.now < end) this.startDeferred();
      if (!(q.size > 0 && q.peekTime() < end)) break;
      if (n >= budget) return true;
      q.pop();
      this.now = q.popTime;
      this.eventsProcessed++;
      const o = q.popObj;
      switch (q.popKind) {
        case EV_TASK:
          this.resume(o as Task, q.popArg);
          break;
        case EV_SETTLE:
          this.linkInstant();
          break;
        case EV_LOCAL_DELIVER: {
          const x = q.popArg;
          this.xf.egressDoneT[x] = this.xf.ingressDoneT[x] = this.now;
          this.deliver(x);
          break;
        }
        case EV_CONTROL:
          this.controlArrived(q.popArg);
          break;
        case EV_ACK:
          this.acked(q.popArg);
          break;
        case EV_READ:
          this.serveRead(o as ReadRequest);
          break;
        case EV_READ_REPLY:
          this.resume(o as Task, q.popArg);
          break;
      }
    }
    return false;
  }

  private serveRead(req: ReadRequest): void {
    const value = req.region.i32[req.index]!;
    const t = this.now + this.links.latencyUs[this.links.path(req.src, req.peer)]!;
    const seq = this.nextSeq(req.peer);
    if (req.task) {
      this.queue.at = t;
      this.queue.pushAt(req.peer, seq, EV_READ_REPLY, value, req.task);
    } else
      this.outbox[this.shape.workerOfRank[req.src]!]!.push(
        PKT_READ_REPLY, t, req.peer, seq, req.peer, req.src, 0, 0, OP_READ, this.links.path(req.src, req.peer),
        CONTROL_MESSAGE_BYTES, -1, -1, req.region.id, req.index * 4, value, this.now, -1, -1, 0, req.taskId, -1, -1, 0, 0,
      );
    req.task = null;
    this.readPool.give(req);
  }

  /** Time of the next local event (Infinity if none). */
  nextEventTime(): number {
    return this.deferN > 0 ? this.now : this.queue.peekTime();
  }

  // ---------------------------------------------------------------- the clock's origin

  /**
   * Where this engine's time 0 lies on the cluster's clock, us: `now` and every time it holds are
   * relative to it; its timeline, samples and activities keep its times and where they lie, and
   * the reader adds it back (or reads them on an operation's own clock).
   */
  epochUs = DOUBLE;

  /**
   * Nothing queued, running or in flight: no event, no task, no transfer record, no packet to send,
   * and every port without an active stream, a settle or a timer pending.
   */
  get idle(): boolean {
    if (this.queue.size > 0 || this.liveCount > 0 || this.readWaiters.size > 0 || this.xf.live > 0 || this.inbound.size > 0 || this.sentByXid.size > 0) return false;
    if (this.instants.size > 0 || this.due.size > 0) return false;
    for (const box of this.outbox) if (box.count > 0) return false;
    for (const r of this.localRanks) {
      for (const p of this.sendPorts[r]!) if (!p.idle) return false;
      for (const p of this.recvPorts[r]!) if (!p.idle) return false;
    }
    return true;
  }

  /**
   * Drop what an operation that failed (ended stuck, past its virtual-time bound, or aborted; its
   * promise rejected) left behind, so the engine is {@link idle} and the next operation re-bases
   * as after a successful one: queued events, tasks and their waits (the counters' wait lists),
   * remote reads awaited, transfer records, the ports' streams, settles and timers, the news and
   * credits due, packets not yet sent, link recording asked for. Kept: the clock (where the run
   * stopped; a rank's last local copy no later than it), registered regions and their data, the
   * timeline, samples and activities recorded, failures not yet reported, and the ordering
   * counters (only their order matters).
   */
  dropAll(): void {
    const q = this.queue;
    while (q.size > 0) q.pop();
    this.deferTask.fill(null);
    this.deferHead = this.deferN = 0;
    for (let i = 0; i < this.liveCount; i++) {
      const t = this.live[i]!;
      t.done = true;
      t.wait = null;
      t.slot = -1;
      this.live[i] = null;
    }
    this.liveCount = 0;
    this.current = null;
    this.finishedGroups.length = 0;
    this.readWaiters.clear();
    this.regions.forEach((r) => { r.waiters = null; });
    this.xf.clear();
    this.inbound.clear();
    this.sentByXid.clear();
    for (const box of this.outbox) box.clear();
    this.instants.clear();
    while (this.due.size > 0) this.due.pop();
    this.linkMin = NaN;
    for (const r of this.localRanks) {
      if (this.localDone[r]! > this.now) this.localDone[r] = this.now;
      // Every host drops the operation: its streams start again from 0 at both ends.
      this.issuedOn[r]?.fill(0);
      this.deliveredOn[r]?.fill(0);
      this.parkHead[r]?.fill(-1);
      for (const p of this.sendPorts[r]!) p.dropAll();
      for (const p of this.recvPorts[r]!) p.dropAll();
    }
    this.linkRecorders = 0;
    this.setRecordLinks(false);
  }

  /**
   * Move this idle engine's clock origin to its time `shift` (so `now`, at most `shift`, becomes at
   * most 0), which lies at `epochUs` on the cluster's clock. An idle engine holds no time that is
   * not past: its clock, the ranks' last local copies and its ports' clocks, each moved by `shift`
   * (ordered as before against every later time; a port's quiet timer over no streams steps
   * nothing and is dropped). What runs next then runs on the same numbers as on a fresh engine,
   * whatever ran before (see docs/runtime.md, "One clock per operation").
   * @throws ExpertmeshError `E_WORKER` when the engine is not idle (the host's check failed).
   */
  rebase(shift: number, epochUs: number): void {
    if (!this.idle) fail('E_WORKER', `host worker ${this.workerIndex}: the clock cannot be re-based at ${this.now} us while work is in flight`, { worker: this.workerIndex });
    this.now -= shift;
    for (const r of this.localRanks) {
      this.localDone[r] = this.localDone[r]! - shift;
      for (const p of this.sendPorts[r]!) p.rebase(shift);
      for (const p of this.recvPorts[r]!) p.rebase(shift);
    }
    this.linkMin = NaN;
    this.epochUs = epochUs;
    this.timeline.rebase(epochUs);
    this.samples.rebase(epochUs);
    this.activities.rebase(epochUs);
  }
}

/**
 * The `time` and `rate` of the next {@link pushPacketOf}: its callers write them here rather than
 * pass them, because V8 does not inline that call into `news` and boxes every float argument of a
 * call it does not inline as a heap number (two per packet: ~3 B per event on the hosts of a
 * 2-worker DeepEP EP32 run, docs/runtime.md).
 */
const PACKET_TIME_RATE = new Float64Array(2);

/**
 * Append the packet describing transfer `x` (one fixed argument order: see PacketColumns.push), at
 * the time and with the rate in {@link PACKET_TIME_RATE}.
 */
function pushPacketOf(box: PacketColumns, kind: number, keyRank: number, keySeq: number, T: TransferTable, x: number): void {
  const time = PACKET_TIME_RATE[0]!, rate = PACKET_TIME_RATE[1]!;
  box.push(
    kind, time, keyRank, keySeq, T.src[x]!, T.dst[x]!, T.xid[x]!, T.pairSeq[x]!, T.op[x]!, T.path[x]!, T.bytes[x]!, T.srcRegion[x]!,
    T.srcOffset[x]!, T.dstRegion[x]!, T.dstOffset[x]!, T.value[x]!, T.issueT[x]!, T.egressStartT[x]!, T.egressDoneT[x]!, T.flags[x]!,
    -1, T.sigRegion[x]!, T.sigOffset[x]!, rate, T.qp[x]!,
  );
}

/** A new record in `T` for the transfer packet `i` of `b` describes (its egress end not read). */
function recordOf(b: PacketColumns, i: number, T: TransferTable): number {
  const c = b.col;
  const x = T.alloc();
  T.src[x] = c[C_SRC]![i]!; T.dst[x] = c[C_DST]![i]!; T.xid[x] = c[C_XID]![i]!; T.pairSeq[x] = c[C_PAIR_SEQ]![i]!; T.op[x] = c[C_OP]![i]!;
  T.path[x] = c[C_PATH]![i]!; T.bytes[x] = c[C_BYTES]![i]!; T.srcRegion[x] = c[C_SRC_REGION]![i]!; T.srcOffset[x] = c[C_SRC_OFFSET]![i]!;
  T.dstRegion[x] = c[C_DST_REGION]![i]!; T.dstOffset[x] = c[C_DST_OFFSET]![i]!; T.value[x] = c[C_VALUE]![i]!;
  T.issueT[x] = c[C_ISSUE_T]![i]!; T.flags[x] = c[C_FLAGS]![i]!; T.sigRegion[x] = c[C_SIG_REGION]![i]!;
  T.sigOffset[x] = c[C_SIG_OFFSET]![i]!; T.qp[x] = c[C_QP]![i]!;
  T.egressStartT[x] = c[C_EGRESS_START_T]![i]!;
  return x;
}

/** [offset, offset + length) lies inside the region (whole, non-negative numbers). */
function inRange(r: Region, offset: number, length: number): boolean {
  return offset >= 0 && length >= 0 && offset + length <= r.byteLength && Number.isInteger(offset) && Number.isInteger(length);
}

/** Whether one of the first `count` conditions on counter `region[index]` holds. */
function holdsOn(conds: readonly { region: Region; index: number; cmp: number; value: number }[], count: number, region: Region, index: number): boolean {
  for (let i = 0; i < count; i++) {
    const c = conds[i]!;
    if (c.index === index && c.region === region && counterSatisfied(region.i32[index]!, c.cmp, c.value)) return true;
  }
  return false;
}

/** Index of the first satisfied condition, or -1. */
function firstSatisfied(conds: readonly { region: Region; index: number; cmp: number; value: number }[], count: number): number {
  for (let i = 0; i < count; i++) {
    const c = conds[i]!;
    if (counterSatisfied(c.region.i32[c.index]!, c.cmp, c.value)) return i;
  }
  return -1;
}

export function counterSatisfied(cur: number, cmp: number, value: number): boolean {
  return cmp === CMP_GE ? cur >= value : cmp === CMP_NE ? cur !== value : cmp === CMP_EQ ? cur === value : false;
}

export { TIMELINE_FIELDS };
