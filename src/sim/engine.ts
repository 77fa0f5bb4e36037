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
 * before an earlier transfer of the same stream.
 */
import { fail, toWireError, type WireError } from '../errors.js';
import type { HardwareProfile } from '../hardware/profile.js';
import { LinkModel } from '../transport/links.js';
import { checkRange, RegionTable, type Region } from '../transport/memory.js';
import { FLAG_NO_DATA, FLAG_WANT_ACK, PacketColumns } from '../transport/packets.js';
import {
  C_BYTES, C_DST, C_DST_OFFSET, C_DST_REGION, C_EGRESS_DONE_T, C_EGRESS_START_T, C_FLAGS, C_ISSUE_T, C_KEY_RANK, C_KEY_SEQ,
  C_OP, C_PAIR_SEQ, C_PATH, C_QP, C_RATE, C_SIG_OFFSET, C_SIG_REGION, C_SRC, C_SRC_OFFSET, C_SRC_REGION, C_TIME, C_VALUE,
  C_WAITER, C_XID, CMP_EQ, CMP_GE, CMP_NE, CONTROL_MESSAGE_BYTES, EV_ACK, EV_CREDIT, EV_LOCAL_DELIVER, EV_SETTLE, EV_NEWS, EV_PORT, EV_RECV_PORT,
  EV_READ, EV_READ_REPLY, EV_TASK, OP_ADD, OP_PUT, OP_READ, PATH_IB, PATH_LOCAL, PATH_NVLINK, PKT_ACK, PKT_CREDIT, PKT_EGRESS_DONE,
  PKT_INGRESS_START, PKT_RATE, PKT_READ, PKT_READ_REPLY, PORT_IB_IN, PORT_IB_OUT, PORT_NVL_IN, PORT_NVL_OUT, QP_SLOTS, WAIT_COUNTER,
  WAIT_ANY, WAIT_READ, WAIT_SLEEP, WAIT_TASKS, WAIT_TRANSFER,
} from '../transport/protocol.js';
import { EventQueue } from './event-queue.js';
import {
  NEWS_DONE, NEWS_RATE, NEWS_START, RecvPort, SendPort, type FlowJob, type NewsItem, type RecvHost, type SendHost,
} from './flow-port.js';
import { RankContext } from './rank-context.js';
import { describeWait, Task, type KernelTag, type TaskBody, type TaskGroup, type TransferHandle } from './task.js';
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
}

/** A transfer in flight: a job of its sender's port and, once its first byte arrives, of its receiver's. */
class Transfer implements TransferHandle, FlowJob {
  sent = 0;
  arrived = 0;
  served = 0;
  arrRate = 0;
  arrivedAll = false;
  acked = false;
  egressStartT = -1;
  egressDoneT = -1;
  ingressStartT = -1;
  ingressDoneT = -1;
  ackWaiter: Task | null = null;
  waiterId = -1;
  constructor(
    readonly src: number, readonly dst: number, readonly xid: number, readonly pairSeq: number, readonly op: number,
    readonly path: number, readonly bytes: number, readonly srcRegion: number, readonly srcOffset: number,
    readonly dstRegion: number, readonly dstOffset: number, readonly value: number, readonly issueT: number,
    readonly flags: number, readonly sigRegion = -1, readonly sigOffset = -1, readonly qp = 0,
  ) {}
}

/**
 * Event keys of end-of-instant port settles (and port timers): rank slot 4095 (the last) with seqs
 * from 2^31 up, so they sort after every rank's own events of the instant (rank 4095's own seqs stay
 * far below 2^31).
 */
const SETTLE_RANK = 4095;
const SETTLE_SEQ = 2 ** 31;

/** News for the receiver ports of one engine, or credits for its sender ports: one event per batch. */
interface CreditBatch {
  /** Path index (0 NVLink, 1 IB) of the ports. */
  pathIdx: number;
  /** Receiver rank and fair level (bytes/us). */
  dst: number;
  level: number;
  /** Sender ranks and their stream keys (dst * QP_SLOTS + qp). */
  srcs: number[];
  keys: number[];
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

export class Engine implements SendHost<Transfer>, RecvHost<Transfer> {
  readonly links: LinkModel;
  readonly regions = new RegionTable();
  readonly queue = new EventQueue(4096);
  now = 0;
  /** Events taken from the queue so far. */
  eventsProcessed = 0;
  private readonly seq: Float64Array;
  private readonly xidNext: Float64Array;
  /** Per local rank: sender ports [NVLink, NIC] and receiver ports [NVLink, NIC]. */
  private readonly sendPorts: Array<SendPort<Transfer>[] | undefined>;
  private readonly recvPorts: Array<RecvPort<Transfer>[] | undefined>;
  private readonly pairSeqOut: Array<Int32Array | undefined>;
  /** Per rank: when its latest local copy is delivered. */
  private readonly localDone: Float64Array;
  /** Record link rate segments and port busy periods into the activity log (runTraffic). */
  private recordLinks = false;
  /** Transfers issued (events per transfer is a cost figure). */
  transfersIssued = 0;
  private readonly inbound = new Map<number, Transfer>();
  private readonly sentByXid = new Map<number, Transfer>();
  private readonly tasks = new Map<number, Task>();

  private taskIdNext = 0;
  /** Packets for each other host, as reused columns (cleared once the host has sent them). */
  readonly outbox: PacketColumns[];
  readonly contexts: Array<RankContext | undefined>;
  readonly timeline = new TimelineLog();
  /** Counter samples recorded by tasks (kept only when the timeline is recorded). */
  readonly samples = new SampleLog();
  /** Activity slices recorded by tasks (kept only when the timeline is recorded). */
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
    this.links = new LinkModel(shape.hardware, shape.gpusPerNode);
    this.seq = new Float64Array(n);
    this.xidNext = new Float64Array(n);
    this.sendPorts = new Array(n);
    this.recvPorts = new Array(n);
    this.pairSeqOut = new Array(n);
    this.localDone = new Float64Array(n);
    this.contexts = new Array(n);
    this.outbox = Array.from({ length: numWorkers }, (_, w) => new PacketColumns(w === workerIndex ? 1 : 256));
    const bw = this.links.bytesPerUs;
    for (const r of localRanks) {
      this.sendPorts[r] = [
        new SendPort<Transfer>(r, PORT_NVL_OUT, bw[PATH_NVLINK]!, this),
        new SendPort<Transfer>(r, PORT_IB_OUT, bw[PATH_IB]!, this),
      ];
      this.recvPorts[r] = [
        new RecvPort<Transfer>(r, PORT_NVL_IN, bw[PATH_NVLINK]!, this),
        new RecvPort<Transfer>(r, PORT_IB_IN, bw[PATH_IB]!, this),
      ];
      this.pairSeqOut[r] = new Int32Array(n);
      this.contexts[r] = new RankContext(this, r);
    }
  }

  isLocal(rank: number): boolean {
    return this.shape.workerOfRank[rank] === this.workerIndex;
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
  spawn(rank: number, name: string, body: TaskBody, group: TaskGroup, at = this.now, kernel?: KernelTag | null): Task {
    const t = new Task(this.taskIdNext++, rank, name, body, group);
    t.kernel = kernel !== undefined ? kernel : (this.current?.kernel ?? null);
    group.live++;
    this.tasks.set(t.id, t);
    this.queue.push(at, rank, this.nextSeq(rank), EV_TASK, 0, t);
    return t;
  }

  /** The task being resumed (its context helpers reuse its wait records). */
  current: Task | null = null;

  private resume(task: Task, value: number): void {
    if (task.done || task.group.failed) return;
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
    for (;;) {
      let r: IteratorResult<unknown, void>;
      try {
        r = task.body.next(v);
      } catch (e) {
        this.failTask(task, e);
        return;
      }
      if (r.done) {
        this.finishTask(task);
        return;
      }
      const w = r.value as Task['wait'];
      if (!w) {
        this.failTask(task, new Error(`yielded ${String(r.value)} instead of a wait`));
        return;
      }
      switch (w.kind) {
        case WAIT_SLEEP:
          if (!(w.us >= 0)) {
            this.failTask(task, new Error(`sleep of ${w.us} us`));
            return;
          }
          task.wait = w;
          this.queue.push(this.now + w.us, task.rank, this.nextSeq(task.rank), EV_TASK, 0, task);
          return;
        case WAIT_COUNTER: {
          const cur = Atomics.load(w.region.i32, w.index);
          if (counterSatisfied(cur, w.cmp, w.value)) {
            v = cur;
            continue;
          }
          task.wait = w;
          this.watch(w.region, w.index, task);
          return;
        }
        case WAIT_ANY: {
          const hit = firstSatisfied(w.conds);
          if (hit >= 0) {
            v = hit;
            continue;
          }
          task.wait = w;
          // Entries left under the other counters once one fires are dropped when next scanned.
          for (let i = 0; i < w.conds.length; i++) this.watch(w.conds[i]!.region, w.conds[i]!.index, task);
          return;
        }
        case WAIT_TRANSFER:
          if (w.transfer.acked) {
            v = 0;
            continue;
          }
          task.wait = w;
          (w.transfer as Transfer).ackWaiter = task;
          return;
        case WAIT_READ:
          task.wait = w;
          this.issueRead(task, w.peer, w.region, w.index);
          return;
        case WAIT_TASKS: {
          const pending = w.tasks.filter((t) => !t.done);
          if (pending.length === 0) {
            v = 0;
            continue;
          }
          task.wait = w;
          for (const t of pending) (t.joiners ??= []).push(task);
          return;
        }
      }
    }
  }

  private finishTask(task: Task): void {
    task.done = true;
    task.wait = null;
    this.tasks.delete(task.id);
    if (task.joiners) {
      for (const j of task.joiners)
        if (j.wait?.kind === WAIT_TASKS && j.wait.tasks.every((t) => t.done))
          this.queue.push(this.now, j.rank, this.nextSeq(j.rank), EV_TASK, 0, j);
    }
    const g = task.group;
    if (--g.live === 0 && !g.failed) {
      g.endTime = this.now;
      this.finishedGroups.push(g);
    }
  }

  private failTask(task: Task, e: unknown): void {
    task.done = true;
    this.tasks.delete(task.id);
    const g = task.group;
    if (g.failed) return;
    g.failed = true;
    const w = toWireError(e);
    this.failures.push({
      rank: task.rank,
      task: task.name,
      opId: g.opId,
      error: { ...w, message: `rank ${task.rank} task '${task.name}': ${w.message}`, data: { ...w.data, rank: task.rank, task: task.name } },
    });
    // Every other task of the failed group stops too.
    for (const t of [...this.tasks.values()]) if (t.group === g) { t.done = true; this.tasks.delete(t.id); }
    task.kernel?.onFail?.(w.message);
  }

  /** Tasks still blocked, with what each waits for. */
  blockedTasks(): BlockedTask[] {
    return [...this.tasks.values()]
      .filter((t) => !t.done)
      .map((t) => ({ rank: t.rank, task: t.name, waitingFor: describeWait(t.wait) }));
  }

  private watch(region: Region, index: number, task: Task): void {
    const lists = (region.waiters ??= []) as Array<Task[] | undefined>;
    let list = lists[index];
    if (!list) lists[index] = list = [];
    if (list[list.length - 1] !== task) list.push(task);
  }

  /** Re-check the tasks waiting on counter `region[index]` after it changed. */
  wakeCounter(region: Region, index: number): void {
    const lists = region.waiters as Array<Task[] | undefined> | null;
    if (lists === null) return;
    const list = lists[index];
    if (!list || list.length === 0) return;
    let keep = 0;
    for (let i = 0; i < list.length; i++) {
      const t = list[i]!;
      const w = t.wait;
      if (t.done || w === null) continue;
      let value: number;
      if (w.kind === WAIT_COUNTER) {
        if (w.region !== region || w.index !== index) continue;
        value = Atomics.load(region.i32, index);
        if (!counterSatisfied(value, w.cmp, w.value)) {
          list[keep++] = t;
          continue;
        }
      } else if (w.kind === WAIT_ANY) {
        value = firstSatisfied(w.conds);
        if (value < 0) {
          list[keep++] = t;
          continue;
        }
      } else continue;
      // Resume through the queue so the task runs under its own rank's ordering key; the wait
      // resumes with the counter value (WAIT_ANY: the index of the condition) that satisfied it.
      this.queue.push(this.now, t.rank, this.nextSeq(t.rank), EV_TASK, value, t);
      t.wait = null;
    }
    list.length = keep;
  }

  /** Re-check the waiters on every watched counter in bytes [offset, offset + length) of `region`. */
  wakeRange(region: Region, offset: number, length: number): void {
    const lists = region.waiters;
    if (lists === null) return;
    const lo = offset >> 2;
    const hi = Math.min((offset + length + 3) >> 2, lists.length);
    for (let i = lo; i < hi; i++) if (lists[i] !== undefined) this.wakeCounter(region, i);
  }

  // ---------------------------------------------------------------- transfers

  /**
   * Issue a one-sided operation from `src` (local). `srcRegion`/`dstRegion` are region ids or -1.
   * Returns the transfer, whose delivery a task can wait on when `wantAck` is set.
   */
  issue(
    src: number, dst: number, op: number, bytes: number, srcRegion: number, srcOffset: number,
    dstRegion: number, dstOffset: number, value: number, flags: number, sigRegion = -1, sigOffset = -1, qp = -1,
  ): Transfer {
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
    const x = new Transfer(
      src, dst, xid, pairSeq, op, path, wire,
      srcRegion, srcOffset, dstRegion, dstOffset, value, this.now, flags, sigRegion, sigOffset, wr ? qp : 0,
    );
    this.transfersIssued++;
    if (flags & FLAG_WANT_ACK) this.sentByXid.set(x.xid * 4096 + (src & 4095), x);
    if (path === PATH_LOCAL) {
      x.egressStartT = x.ingressStartT = this.now;
      // Never before an earlier copy within the rank (FIFO, as the pair's streams are).
      const t = Math.max(this.now + wire / this.links.bytesPerUs[PATH_LOCAL]!, this.localDone[src]!);
      this.localDone[src] = t;
      this.queue.push(t, src, this.nextSeq(src), EV_LOCAL_DELIVER, 0, x);
    } else {
      const limit = wr ? this.shape.hardware.ibQpGBps * 1e3 : Infinity;
      this.sendPorts[src]![path === PATH_NVLINK ? 0 : 1]!.enqueue(x, dst * QP_SLOTS + x.qp, limit, this.now);
    }
    return x;
  }

  private issueRead(task: Task, peer: number, region: Region, index: number): void {
    const src = task.rank;
    const lat = this.links.latencyUs[this.links.path(src, peer)]!;
    const t = this.now + lat;
    const seq = this.nextSeq(src);
    if (this.isLocal(peer)) {
      const x = { task, region, index, src, peer };
      this.queue.push(t, src, seq, EV_READ, 0, x);
    } else {
      this.outbox[this.shape.workerOfRank[peer]!]!.push(
        PKT_READ, t, src, seq, src, peer, 0, 0, OP_READ, this.links.path(src, peer), CONTROL_MESSAGE_BYTES,
        -1, -1, region.id, index * 4, 0, this.now, -1, -1, 0, task.id, -1, -1, 0, 0,
      );
    }
  }

  // ---------------------------------------------------------------- link flow (docs/hardware.md)

  /** Port timers share the port's settle key: what falls due settles with the rest of its instant. */
  sendTimer(port: SendPort<Transfer>, time: number, generation: number): void {
    this.queue.push(time, SETTLE_RANK, SETTLE_SEQ + port.owner * 4 + port.index, EV_PORT, generation, port);
  }

  recvTimer(port: RecvPort<Transfer>, time: number, generation: number): void {
    this.queue.push(time, SETTLE_RANK, SETTLE_SEQ + port.owner * 4 + port.index, EV_RECV_PORT, generation, port);
  }

  /**
   * A sender port's news (starts, rate changes, ends), due at the receivers one latency later.
   * Every item takes its own key (consecutive seqs of the sender); the items for this engine's
   * receivers travel as one event under the first of their keys, the others as packets. Items for
   * different receivers are independent and nothing else can sit between consecutive seqs of one
   * rank, so the outcome is the same however the receivers are spread over workers.
   */
  news(port: SendPort<Transfer>, items: NewsItem<Transfer>[], time: number): void {
    const src = port.owner;
    let local: NewsItem<Transfer>[] | null = null;
    let localSeq = -1;
    for (const it of items) {
      const x = it.job;
      const t = time + this.links.latencyUs[x.path]!;
      const seq = this.nextSeq(src);
      if (it.kind === NEWS_START) x.egressStartT = time;
      else if (it.kind === NEWS_DONE) x.egressDoneT = time;
      it.key = src * QP_SLOTS + x.qp;
      it.seq = seq;
      if (this.isLocal(x.dst)) {
        if (local === null) {
          local = [];
          localSeq = seq;
        }
        local.push(it);
        continue;
      }
      const box = this.outbox[this.shape.workerOfRank[x.dst]!]!;
      const kind = it.kind === NEWS_START ? PKT_INGRESS_START : it.kind === NEWS_DONE ? PKT_EGRESS_DONE : PKT_RATE;
      pushPacketOf(box, kind, t, src, seq, x, it.rate);
    }
    if (local !== null) this.queue.push(time + this.links.latencyUs[port.index === PORT_NVL_OUT ? PATH_NVLINK : PATH_IB]!, src, localSeq, EV_NEWS, 0, local);
  }

  /** Apply a batch of news in order; settle each receiver port once its items of the batch are in. */
  private applyNews(items: readonly NewsItem<Transfer>[]): void {
    for (const it of items) {
      const x = it.job;
      if (it.kind === NEWS_START) x.ingressStartT = this.now;
      else if (it.kind === NEWS_DONE) this.inbound.delete(x.xid * 4096 + (x.src & 4095));
      this.recvPorts[x.dst]![x.path === PATH_NVLINK ? 0 : 1]!.news(it, this.now);
    }
  }

  /**
   * A port changed at `time`: settle it once after every other event of that instant, under a key
   * of its own past every rank's (pseudo-rank SETTLE_RANK, seq = the port's number), so the same
   * changes are settled together however ranks are spread over workers.
   */
  settleLater(port: SendPort<never> | RecvPort<never>, time: number): void {
    this.queue.push(time, SETTLE_RANK, SETTLE_SEQ + port.owner * 4 + port.index, EV_SETTLE, 0, port);
  }

  /** A receiver port's credit, due at its senders one latency later (keys as for news). */
  credit(port: RecvPort<Transfer>, keys: number[], level: number, time: number): void {
    const dst = port.owner;
    const pathIdx = port.index === PORT_NVL_IN ? 0 : 1;
    const path = pathIdx === 0 ? PATH_NVLINK : PATH_IB;
    const t = time + this.links.latencyUs[path]!;
    let local: CreditBatch | null = null;
    let localSeq = -1;
    for (const key of keys) {
      const src = Math.floor(key / QP_SLOTS);
      const qp = key - src * QP_SLOTS;
      const seq = this.nextSeq(dst);
      if (this.isLocal(src)) {
        if (local === null) {
          local = { pathIdx, dst, level, srcs: [], keys: [] };
          localSeq = seq;
        }
        local.srcs.push(src);
        local.keys.push(dst * QP_SLOTS + qp);
        continue;
      }
      this.outbox[this.shape.workerOfRank[src]!]!.push(
        PKT_CREDIT, t, dst, seq, src, dst, 0, 0, OP_PUT, path, 0, -1, -1, -1, -1, 0, time, -1, -1, 0, -1, -1, -1, level === Infinity ? 0 : level, qp, // rate 0: no limit
      );
    }
    if (local !== null) this.queue.push(t, dst, localSeq, EV_CREDIT, 0, local);
  }

  private applyCredits(b: CreditBatch): void {
    for (let i = 0; i < b.srcs.length; i++) this.sendPorts[b.srcs[i]!]![b.pathIdx]!.credit(b.keys[i]!, b.level, this.now);
  }

  served(_port: RecvPort<Transfer>, x: Transfer, time: number): void {
    x.ingressDoneT = time;
    this.deliver(x);
  }

  /** Sender rate segments (src, start, end, dst, rate) for runTraffic, as activities on link tracks. */
  rateSegment(port: SendPort<Transfer>, x: Transfer, _key: number, start: number, end: number, rate: number): void {
    if (end > start) this.activities.record(start, end, port.owner, LINK_RATE_TRACK + x.dst, rate);
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

  private deliver(x: Transfer): void {
    if (x.dstRegion >= 0) {
      const dr = this.regions.get(x.dstRegion);
      if (x.op === OP_PUT) {
        if (!(x.flags & FLAG_NO_DATA) && x.srcRegion >= 0) {
          const sr = this.regions.get(x.srcRegion);
          dr.u8.set(sr.u8.subarray(x.srcOffset, x.srcOffset + x.bytes), x.dstOffset);
        }
        this.wakeRange(dr, x.dstOffset, x.bytes);
      } else if (x.op === OP_ADD) {
        Atomics.add(dr.i32, x.dstOffset >> 2, x.value);
        this.wakeCounter(dr, x.dstOffset >> 2);
      }
    }
    if (x.sigRegion >= 0) {
      // Put with signal: the counter moves with the data, as a release store of a tail after it.
      const sr = this.regions.get(x.sigRegion);
      Atomics.add(sr.i32, x.sigOffset >> 2, x.value);
      this.wakeCounter(sr, x.sigOffset >> 2);
    }
    if (this.shape.recordTimeline) {
      this.timeline.record(
        x.dst, x.src, x.pairSeq, x.op, x.path, x.bytes, x.issueT, x.egressStartT, x.egressDoneT, x.ingressStartT,
        x.ingressDoneT, this.now,
      );
    }
    if (x.flags & FLAG_WANT_ACK) {
      const t = this.now + this.links.latencyUs[x.path]!;
      const seq = this.nextSeq(x.dst);
      if (this.isLocal(x.src)) this.queue.push(t, x.dst, seq, EV_ACK, 0, x);
      else pushPacketOf(this.outbox[this.shape.workerOfRank[x.src]!]!, PKT_ACK, t, x.dst, seq, x);
    }
  }

  private acked(x: Transfer): void {
    x.acked = true;
    this.sentByXid.delete(x.xid * 4096 + (x.src & 4095));
    const t = x.ackWaiter;
    if (t) {
      x.ackWaiter = null;
      this.resume(t, 0);
    }
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
    let news: NewsItem<Transfer>[] | null = null;
    let credits: CreditBatch | null = null;
    for (let i = 0; i < b.count; i++) {
      const kind = k[i]!;
      // Consecutive flow packets of one batch (same time and sender, same receiver port or sender
      // port) become one event, as they would have been on one engine.
      const j = i - 1;
      const follows = j >= 0 && time[i] === time[j] && keyRank[i] === keyRank[j] && keySeq[i] === keySeq[j]! + 1 && path[i] === path[j];
      if (news !== null && !(follows && k[j] !== PKT_CREDIT && dst[i] === dst[j] && (kind === PKT_INGRESS_START || kind === PKT_RATE || kind === PKT_EGRESS_DONE))) news = null;
      if (credits !== null && !(follows && kind === PKT_CREDIT && rate[i] === rate[j])) credits = null;
      switch (kind) {
        case PKT_INGRESS_START:
        case PKT_RATE:
        case PKT_EGRESS_DONE: {
          const key = xid[i]! * 4096 + (src[i]! & 4095);
          let x: Transfer;
          if (kind === PKT_INGRESS_START) {
            x = new Transfer(
              src[i]!, dst[i]!, xid[i]!, c[C_PAIR_SEQ]![i]!, c[C_OP]![i]!, path[i]!, c[C_BYTES]![i]!, c[C_SRC_REGION]![i]!,
              c[C_SRC_OFFSET]![i]!, c[C_DST_REGION]![i]!, c[C_DST_OFFSET]![i]!, c[C_VALUE]![i]!, c[C_ISSUE_T]![i]!, c[C_FLAGS]![i]!,
              c[C_SIG_REGION]![i]!, c[C_SIG_OFFSET]![i]!, qp[i]!,
            );
            x.egressStartT = c[C_EGRESS_START_T]![i]!;
            this.inbound.set(key, x);
          } else {
            x = this.inbound.get(key)!;
            if (kind === PKT_EGRESS_DONE) x.egressDoneT = c[C_EGRESS_DONE_T]![i]!;
          }
          const item: NewsItem<Transfer> = {
            job: x, kind: kind === PKT_INGRESS_START ? NEWS_START : kind === PKT_RATE ? NEWS_RATE : NEWS_DONE, rate: rate[i]!, key: src[i]! * QP_SLOTS + qp[i]!, seq: keySeq[i]!,
          };
          if (news !== null) news.push(item);
          else {
            news = [item];
            this.queue.push(time[i]!, keyRank[i]!, keySeq[i]!, EV_NEWS, 0, news);
          }
          break;
        }
        case PKT_CREDIT: {
          const pathIdx = path[i] === PATH_NVLINK ? 0 : 1;
          if (credits === null) {
            credits = { pathIdx, dst: dst[i]!, level: rate[i] === 0 ? Infinity : rate[i]!, srcs: [], keys: [] };
            this.queue.push(time[i]!, keyRank[i]!, keySeq[i]!, EV_CREDIT, 0, credits);
          }
          credits.srcs.push(src[i]!);
          credits.keys.push(dst[i]! * QP_SLOTS + qp[i]!);
          break;
        }
        case PKT_ACK: {
          const x = this.sentByXid.get(xid[i]! * 4096 + (src[i]! & 4095))!;
          this.queue.push(time[i]!, keyRank[i]!, keySeq[i]!, EV_ACK, 0, x);
          break;
        }
        case PKT_READ: {
          const region = this.regions.get(c[C_DST_REGION]![i]!);
          const req = { task: null, taskId: c[C_WAITER]![i]!, region, index: c[C_DST_OFFSET]![i]! >> 2, src: src[i]!, peer: dst[i]! };
          this.queue.push(time[i]!, keyRank[i]!, keySeq[i]!, EV_READ, 0, req);
          break;
        }
        case PKT_READ_REPLY: {
          const task = this.tasks.get(c[C_WAITER]![i]!);
          if (task) this.queue.push(time[i]!, keyRank[i]!, keySeq[i]!, EV_READ_REPLY, c[C_VALUE]![i]!, task);
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
      if (kind === PKT_INGRESS_START) started.add(key);
      else if ((kind === PKT_EGRESS_DONE || kind === PKT_RATE) && !this.inbound.has(key) && !started.has(key))
        fail('E_PACKET', `packet ${i}: field 'xid': ${kind === PKT_RATE ? 'rate' : 'egress-done'} for unknown transfer ${xid[i]} from rank ${src[i]}`, { index: i, field: 'xid', value: xid[i] });
      else if (kind === PKT_CREDIT && !this.isLocal(src[i]!))
        fail('E_PACKET', `packet ${i}: field 'src': credit for rank ${src[i]}, which this worker does not host`, { index: i, field: 'src', value: src[i] });
      else if (kind === PKT_ACK && !this.sentByXid.has(key))
        fail('E_PACKET', `packet ${i}: field 'xid': ack for unknown transfer ${xid[i]} of rank ${src[i]}`, { index: i, field: 'xid', value: xid[i] });
      else if (kind === PKT_READ && !this.hasRegion(c[C_DST_REGION]![i]!))
        fail('E_PACKET', `packet ${i}: field 'dstRegion': read of unknown region ${c[C_DST_REGION]![i]}`, { index: i, field: 'dstRegion', value: c[C_DST_REGION]![i] });
    }
  }

  /** Transfers whose ingress-start is in the batch being checked (reused). */
  private readonly startedInBatch = new Set<number>();

  private hasRegion(id: number): boolean {
    try {
      this.regions.get(id);
      return true;
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- the loop

  /** Process every event earlier than `end`. */
  runUntil(end: number): void {
    const q = this.queue;
    while (q.size > 0 && q.peekTime() < end) {
      q.pop();
      this.now = q.popTime;
      this.eventsProcessed++;
      const o = q.popObj;
      switch (q.popKind) {
        case EV_TASK:
          this.resume(o as Task, q.popArg);
          break;
        case EV_PORT:
          (o as SendPort<Transfer>).onTimer(this.now, q.popArg);
          break;
        case EV_RECV_PORT:
          (o as RecvPort<Transfer>).onTimer(this.now, q.popArg);
          break;
        case EV_SETTLE:
          (o as SendPort<Transfer> | RecvPort<Transfer>).settle(this.now);
          break;
        case EV_NEWS:
          this.applyNews(o as NewsItem<Transfer>[]);
          break;
        case EV_CREDIT:
          this.applyCredits(o as CreditBatch);
          break;
        case EV_LOCAL_DELIVER: {
          const x = o as Transfer;
          x.egressDoneT = x.ingressDoneT = this.now;
          this.deliver(x);
          break;
        }
        case EV_ACK:
          this.acked(o as Transfer);
          break;
        case EV_READ:
          this.serveRead(o as ReadRequest);
          break;
        case EV_READ_REPLY:
          this.resume(o as Task, q.popArg);
          break;
      }
    }
  }

  private serveRead(req: ReadRequest): void {
    const value = Atomics.load(req.region.i32, req.index);
    const t = this.now + this.links.latencyUs[this.links.path(req.src, req.peer)]!;
    const seq = this.nextSeq(req.peer);
    if (req.task) this.queue.push(t, req.peer, seq, EV_READ_REPLY, value, req.task);
    else
      this.outbox[this.shape.workerOfRank[req.src]!]!.push(
        PKT_READ_REPLY, t, req.peer, seq, req.peer, req.src, 0, 0, OP_READ, this.links.path(req.src, req.peer),
        CONTROL_MESSAGE_BYTES, -1, -1, req.region.id, req.index * 4, value, this.now, -1, -1, 0, req.taskId ?? -1, -1, -1, 0, 0,
      );
  }

  /** Time of the next local event (Infinity if none). */
  nextEventTime(): number {
    return this.queue.peekTime();
  }
}

/** Append the packet describing transfer `x` (one fixed argument order: see PacketColumns.push). */
function pushPacketOf(box: PacketColumns, kind: number, time: number, keyRank: number, keySeq: number, x: Transfer, rate = 0): void {
  box.push(
    kind, time, keyRank, keySeq, x.src, x.dst, x.xid, x.pairSeq, x.op, x.path, x.bytes, x.srcRegion, x.srcOffset,
    x.dstRegion, x.dstOffset, x.value, x.issueT, x.egressStartT, x.egressDoneT, x.flags, x.waiterId, x.sigRegion, x.sigOffset, rate, x.qp,
  );
}

interface ReadRequest {
  task: Task | null;
  taskId?: number;
  region: Region;
  index: number;
  src: number;
  peer: number;
}


/** [offset, offset + length) lies inside the region (whole, non-negative numbers). */
function inRange(r: Region, offset: number, length: number): boolean {
  return offset >= 0 && length >= 0 && offset + length <= r.byteLength && Number.isInteger(offset) && Number.isInteger(length);
}

/** Index of the first satisfied condition, or -1. */
function firstSatisfied(conds: readonly { region: Region; index: number; cmp: number; value: number }[]): number {
  for (let i = 0; i < conds.length; i++) {
    const c = conds[i]!;
    if (counterSatisfied(Atomics.load(c.region.i32, c.index), c.cmp, c.value)) return i;
  }
  return -1;
}

export function counterSatisfied(cur: number, cmp: number, value: number): boolean {
  return cmp === CMP_GE ? cur >= value : cmp === CMP_NE ? cur !== value : cmp === CMP_EQ ? cur === value : false;
}

export { TIMELINE_FIELDS };
