/**
 * @module
 * Link ports that share bandwidth as a credit-controlled network does: a sender port (one GPU's
 * NVLink or NIC egress) and a receiver port (its ingress), each a fluid server over per-peer
 * streams with piecewise-constant rates.
 *
 * - A **stream** is the FIFO of transfers between one pair of ranks on one queue pair: the sender
 *   serves its head, then the next, as a NIC serves one QP's work requests in order.
 * - The **sender port** shares its capacity max-min fairly among its streams' heads, each capped at
 *   the last credit its receiver sent (none before the first credit arrives) and at its QP's rate.
 * - The **receiver port** serves only bytes that have arrived (the sender's rate, one latency
 *   later): max-min fairly among its streams, where a stream with bytes queued (arrived faster than
 *   served: the switch buffer) wants all it can get and one without wants its arrival rate. The
 *   fair level it computes is the **credit** it tells its senders, which reaches them one latency
 *   later.
 *
 * Rates are recomputed only when something changes at a port (a transfer starts or ends, news of
 * a sender's rate arrives, a credit arrives, a queue empties); between, everything is linear. The
 * host carries the news between ports with the link latency (events, or packets across workers).
 *
 * Transfers are indexes into the host's {@link FlowJobs} columns; a port's streams are long-lived
 * objects holding their transfers' indexes, and what a settle tells the host (news, credits) goes
 * through the port's reused buffers: a port allocates nothing per transfer or per settle.
 */
import { QP_SLOTS } from '../transport/protocol.js';
import type { DueItem } from './link-schedule.js';
import type { FlowJobs } from './transfers.js';

/** Streams per peer rank (one per queue pair): a stream's key is `peer * QP_STREAMS + qp`. */
const QP_STREAMS = QP_SLOTS;

/** News a sender port sends its receivers (one latency later). */
export const NEWS_START = 0; // first byte: the transfer joins the receiver's stream, at `rate`
export const NEWS_RATE = 1; // the sending rate changed to `rate`
export const NEWS_DONE = 2; // last byte sent: nothing more arrives after it

/**
 * Both hosts: settle `port` once at the end of the instant `time` (after every other event then);
 * the port's timer (`timerAt`) moved. A port due (dirty, or its timer reached) is run by
 * {@link PortStats.runDue}.
 */
export interface SettleHost {
  settleLater(port: SendPort | RecvPort, time: number): void;
  timer(port: SendPort | RecvPort): void;
}

export interface SendHost extends SettleHost {
  /** The ordering key of the event being run (rank * 2^32 + seq): when a stream became active. */
  eventKey(): number;
  /**
   * The port changed what it sends: carry its news items `port.newsJob/newsKind/newsRate[0..count)`
   * to the receivers (in order). The buffers are reused once this returns.
   */
  news(port: SendPort, count: number, time: number): void;
  /** A rate segment of a job ended (only when recording). */
  rateSegment?(port: SendPort, job: number, key: number, start: number, end: number, rate: number): void;
}

export interface RecvHost extends SettleHost {
  /** The job's last byte has been served: deliver it. */
  served(port: RecvPort, job: number, time: number): void;
  /** Tell the senders of streams `port.creditKeys[0..count)` the fair level `level`, bytes/us. */
  credit(port: RecvPort, count: number, level: number, time: number): void;
}

/**
 * Relative change of a receiver's fair level below which no new credit is sent. Without it the
 * senders and receivers of a busy all-to-all keep trading ever smaller corrections, one round trip
 * each, for the whole run; with it they settle in a few rounds. A simulation tolerance, not a
 * hardware figure: the completion times it moves stay within it (docs/hardware.md).
 */
export const CREDIT_RESOLUTION = 1e-2;

/**
 * Relative change of a stream's max-min rate below which a sender keeps the rate it announced (as
 * long as the announced rates fit its capacity and every stream's cap). Where flows end at different
 * times every end moves the shares of every other stream of the port a little, and each move is news
 * for a receiver and maybe a credit back: the tail of an all-to-all would trade such corrections
 * for its whole length. A simulation tolerance, like CREDIT_RESOLUTION (docs/hardware.md).
 */
export const SEND_RESOLUTION = 1e-2;

/** Bytes under which a remainder counts as nothing (float rounding of rate x time). */
function eps(bytes: number): number {
  return 1e-9 * bytes + 1e-6;
}

/**
 * A timer's time, strictly after `time`. A remainder above {@link eps} can still take less than one
 * unit in the last place of a late clock (a queue of 1e-6 bytes drained at 160 GB/s is 6e-12 us,
 * below the 2.9e-11 us resolution of a clock at 139,902 us): its timer would fire at the same
 * instant, serve nothing and re-arm there forever. It fires one representable step later instead,
 * which serves the remainder.
 */
export function timerAfter(time: number, next: number): number {
  return next > time ? next : time + Math.max(Math.abs(time) * Number.EPSILON, Number.MIN_VALUE);
}

/** A growable list of numbers in a typed array (reused: clearing keeps the storage). */
/** A sender stream may keep its announced rate (see SendPort.hold). */
function keeps(s: Stream): boolean {
  return s.told >= 0 && Math.abs(s.rate - s.told) <= SEND_RESOLUTION * s.told && s.told <= Math.min(s.credit, s.limit);
}

class NumList<A extends Float64Array | Int32Array | Uint8Array> {
  n = 0;
  constructor(public a: A, private readonly make: (n: number) => A) {}
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = this.make(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

export class Stream {
  /** Job indexes, FIFO: `jobs[head..tail)`. */
  jobs = new Int32Array(4);
  head = 0;
  tail = 0;
  rate = 0;
  /** Sender: the last credit heard (Infinity before the first); the QP's own rate limit. */
  credit = Infinity;
  limit = Infinity;
  /** Sender: rate last announced for the head, and since when (for rate segments). */
  told = -1;
  since = 0;
  /** Sender: when the stream last became active, and the ordering key of the event that did it. */
  actT = -1;
  actKey = 0;
  /** Receiver: sum of the arrival rates of its jobs; the credit last sent (-1: none yet). */
  arr = 0;
  lastCredit = -1;
  active = false;
  constructor(readonly key: number) {}
  get size(): number {
    return this.tail - this.head;
  }
  first(): number {
    return this.jobs[this.head]!;
  }
  push(job: number): void {
    if (this.tail === this.jobs.length) {
      if (this.head > 0) {
        this.jobs.copyWithin(0, this.head, this.tail);
        this.tail -= this.head;
        this.head = 0;
      } else {
        const b = new Int32Array(this.jobs.length * 2);
        b.set(this.jobs);
        this.jobs = b;
      }
    }
    this.jobs[this.tail++] = job;
  }
  shift(): void {
    this.head++;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    }
  }
}

/** Busy-time and load bookkeeping shared by both port kinds. */
export abstract class PortStats implements DueItem {
  /** The host's schedule of due ports (see link-schedule.ts). */
  dueAt = Infinity;
  heapPos = -1;
  readonly id: number;
  /** Time with bytes moving, us; bytes moved; the largest total rate ever allocated (bytes/us). */
  busyUs = 0;
  bytesMoved = 0;
  maxLoad = 0;
  protected lastT = 0;
  /** Start of the current busy period (-1 when idle) and bytes moved in it. */
  busyStart = -1;
  busyBytes = 0;
  /** A settle is scheduled for the current instant. */
  dirty = false;
  /** Called with each busy period when it ends (set while recording). */
  onBusy: ((port: PortStats, start: number, end: number, bytes: number) => void) | null = null;
  /** Streams by peer rank, then queue pair (rows made on first use), and the active ones in their allocation order. */
  protected readonly streams: Array<Array<Stream | undefined> | undefined> = [];
  protected readonly active: Stream[] = [];
  /** When the port's own timer falls due (a transfer sent or served, a queue empty); Infinity: none. */
  timerAt = Infinity;
  /** Scratch of the water-filling (demands, and the finite ones sorted), reused. */
  private wantBuf = new Float64Array(8);
  private sortBuf = new Float64Array(8);
  constructor(readonly owner: number, readonly index: number, readonly bytesPerUs: number, protected readonly jobs: FlowJobs) {
    this.id = owner * 4 + index;
  }

  /**
   * The host runs the port at `time`, when it is due there (changed during the instant, or its
   * timer reached): a timer that fell due is spent; settle.
   */
  runDue(time: number): void {
    if (this.timerAt <= time) this.timerAt = Infinity;
    this.settle(time);
  }

  abstract settle(time: number): void;

  /** A timer passed over without an event (see the ports' `quiet`), Infinity when none. */
  protected quietAt = Infinity;

  /** Move the port's bytes on to `time`. */
  protected abstract advanceBy(time: number): void;

  protected advance(time: number): void {
    if (this.quietAt < Infinity) {
      // The quiet timer: passed, it happened (its step of the clock, nothing else); not yet, the
      // port changes before it, and the timer is again what it was.
      if (this.quietAt < time) this.advanceBy(this.quietAt);
      else this.timerAt = this.quietAt;
      this.quietAt = Infinity;
    }
    this.advanceBy(time);
  }

  get activeStreams(): number {
    return this.active.length;
  }

  /** No active stream, no settle or timer pending, no busy period open. */
  get idle(): boolean {
    return this.active.length === 0 && !this.dirty && this.timerAt === Infinity && this.dueAt === Infinity && this.busyStart < 0;
  }

  /**
   * Move the clock of this idle port by `shift` us (its host re-bases, see Engine.rebase): its last
   * step, in the past, moves with it; a quiet timer left over no streams steps nothing and goes.
   */
  rebase(shift: number): void {
    this.lastT -= shift;
    this.quietAt = Infinity;
  }

  protected stream(key: number): Stream {
    const peer = (key / QP_STREAMS) | 0;
    let row = this.streams[peer];
    if (!row) this.streams[peer] = row = new Array<Stream | undefined>(QP_STREAMS).fill(undefined);
    let s = row[key - peer * QP_STREAMS];
    if (!s) row[key - peer * QP_STREAMS] = s = new Stream(key);
    return s;
  }

  /** Charge `dt` us at `total` bytes/us of moving streams and move the clock to `time`. */
  protected account(time: number, dt: number, total: number): void {
    if (total > 0) {
      this.busyUs += dt;
      this.bytesMoved += total * dt;
      this.busyBytes += total * dt;
    }
    this.lastT = time;
  }

  protected closeBusy(time: number): void {
    this.onBusy?.(this, this.busyStart, time, this.busyBytes);
    this.busyStart = -1;
    this.busyBytes = 0;
  }

  /** The demand buffer of the next {@link waterFill}, room for `n` streams. */
  protected wants(n: number): Float64Array {
    if (this.wantBuf.length < n) {
      let c = this.wantBuf.length;
      while (c < n) c *= 2;
      this.wantBuf = new Float64Array(c);
      this.sortBuf = new Float64Array(c);
    }
    return this.wantBuf;
  }

  /**
   * Max-min share of the capacity among the active streams with demands `wants()[i]` (filled by
   * the caller): sets each stream's rate and returns the fair level (what a stream with unlimited
   * demand would get; with spare capacity, what the largest one could take).
   */
  protected waterFill(): number {
    const streams = this.active;
    const n = streams.length;
    const d = this.wantBuf;
    const capacity = this.bytesPerUs;
    // Every demand at least the equal share: everyone gets it (the walk below would stop at once).
    let min = Infinity;
    for (let i = 0; i < n; i++) if (d[i]! < min) min = d[i]!;
    const equal = capacity / n;
    if (min >= equal) {
      for (let i = 0; i < n; i++) streams[i]!.rate = equal;
      return equal;
    }
    // The walk takes the finite demands in ascending order: each one below the share of what is
    // left is granted and subtracted from it, and the first one not below stops it; every stream from
    // there on gets that share (the unlimited ones come after all finite ones). Its floating-point
    // path depends only on the sorted values (equal demands subtract the same amount whatever their
    // order), so the values are sorted natively, O(f log f); which streams got their demand is
    // decided afterwards by value, ties by position, as an ordering by (demand, position) would.
    const sorted = this.sortBuf;
    let f = 0;
    for (let i = 0; i < n; i++) if (d[i] !== Infinity) sorted[f++] = d[i]!;
    if (f > 1) sorted.subarray(0, f).sort();
    let rem = capacity;
    let share = capacity;
    let k = 0;
    for (; ; k++) {
      share = rem / (n - k);
      const dk = k < f ? sorted[k]! : Infinity;
      if (dk < share && k < n - 1) rem -= dk;
      else break;
    }
    if (k === 0) {
      for (let i = 0; i < n; i++) streams[i]!.rate = Math.min(d[i]!, share);
      return share;
    }
    // Granted: every demand below the last granted value, and that value's first `ties` streams.
    const last = sorted[k - 1]!;
    let ties = 0;
    for (let j = k - 1; j >= 0 && sorted[j] === last; j--) ties++;
    for (let i = 0; i < n; i++) {
      const di = d[i]!;
      if (di < last || (di === last && ties-- > 0)) streams[i]!.rate = di;
      else streams[i]!.rate = Math.min(di, share);
    }
    return share;
  }
}

export class SendPort extends PortStats {
  /** News of the settle in progress, for the host: job, NEWS_* kind and rate per item (reused). */
  private readonly nJob = new NumList(new Int32Array(16), (n) => new Int32Array(n));
  private readonly nKind = new NumList(new Uint8Array(16), (n) => new Uint8Array(n));
  private readonly nRate = new NumList(new Float64Array(16), (n) => new Float64Array(n));
  /** Record rate segments through the host. */
  recording = false;

  constructor(owner: number, index: number, bytesPerUs: number, jobs: FlowJobs, private readonly host: SendHost) {
    super(owner, index, bytesPerUs, jobs);
  }

  get newsJob(): Int32Array { return this.nJob.a; }
  get newsKind(): Uint8Array { return this.nKind.a; }
  get newsRate(): Float64Array { return this.nRate.a; }

  private item(job: number, kind: number, rate: number): void {
    this.nJob.push(job);
    this.nKind.push(kind);
    this.nRate.push(rate);
  }

  /** Add a job to stream `key` (destination rank * QP_SLOTS + qp) with the QP's rate limit. */
  enqueue(job: number, key: number, limit: number, time: number): void {
    const s = this.stream(key);
    s.limit = limit;
    s.push(job);
    if (s.active) return; // queued behind the head: nothing changes now
    this.advance(time);
    this.activate(s, time);
    this.touch(time);
  }

  /**
   * A credit for stream `key` arrived, sent under ordering key `eventKey`: a stream not active then
   * (active only from a later event of the instant) drops it, wherever in the instant it is applied.
   */
  credit(key: number, level: number, time: number, eventKey: number): void {
    const peer = (key / QP_STREAMS) | 0;
    const s = this.streams[peer]?.[key - peer * QP_STREAMS];
    if (!s || !s.active || s.credit === level || (s.actT === time && s.actKey > eventKey)) return;
    // A cap that neither binds now nor bound before changes no rate: keep it for later.
    if (level >= s.rate && s.credit > s.rate * (1 + 1e-12) && !this.dirty) {
      s.credit = level;
      // A quiet timer still to come would settle with this cap (rates held within the send
      // resolution may move then): it is an ordinary timer again.
      if (this.quietAt >= time && this.quietAt < Infinity) {
        this.timerAt = this.quietAt;
        this.quietAt = Infinity;
        this.host.timer(this);
      }
      return;
    }
    this.advance(time);
    s.credit = level;
    this.touch(time);
  }

  /** Changes of one instant are settled together, once, at its end. */
  private touch(time: number): void {
    if (this.dirty) return;
    this.dirty = true;
    this.host.settleLater(this, time);
  }

  private activate(s: Stream, time: number): void {
    s.active = true;
    s.actT = time;
    s.actKey = this.host.eventKey();
    s.told = -1;
    s.since = time;
    this.jobs.sent[s.first()] = 0;
    this.active.push(s);
  }

  protected advanceBy(time: number): void {
    const dt = time - this.lastT;
    if (dt <= 0) return;
    let total = 0;
    const sent = this.jobs.sent;
    const act = this.active;
    for (let i = 0; i < act.length; i++) {
      const s = act[i]!;
      const h = s.first();
      sent[h] = sent[h]! + s.rate * dt;
      total += s.rate;
    }
    this.account(time, dt, total);
  }

  /** Finish what is done, start what follows, reallocate, tell the receivers, re-arm. */
  settle(time: number): void {
    this.dirty = false;
    this.advance(time);
    const { sent, bytes } = this.jobs;
    const act = this.active;
    for (let i = 0; i < act.length; ) {
      const s = act[i]!;
      const h = s.first();
      if (bytes[h]! - sent[h]! > eps(bytes[h]!)) {
        i++;
        continue;
      }
      sent[h] = bytes[h]!;
      if (s.told < 0) this.item(h, NEWS_START, 0);
      else if (this.recording) this.host.rateSegment?.(this, h, s.key, s.since, time, s.told);
      this.item(h, NEWS_DONE, 0);
      s.shift();
      if (s.size > 0) {
        s.told = -1;
        s.since = time;
        sent[s.first()] = 0;
        continue; // the new head may be empty too
      }
      s.active = false;
      s.credit = Infinity; // a stream that went idle starts afresh at its sender share
      act[i] = act[act.length - 1]!;
      act.pop();
    }
    this.allocate();
    this.hold();
    for (let i = 0; i < act.length; i++) {
      const s = act[i]!;
      if (s.rate === s.told) continue;
      const h = s.first();
      if (s.told < 0) this.item(h, NEWS_START, s.rate);
      else {
        if (this.recording) this.host.rateSegment?.(this, h, s.key, s.since, time, s.told);
        this.item(h, NEWS_RATE, s.rate);
      }
      s.told = s.rate;
      s.since = time;
    }
    const count = this.nJob.n;
    if (count > 0) {
      this.host.news(this, count, time);
      this.nJob.n = this.nKind.n = this.nRate.n = 0;
    }
    let total = 0;
    let next = Infinity;
    for (let i = 0; i < act.length; i++) {
      const s = act[i]!;
      total += s.rate;
      if (s.rate > 0) {
        const h = s.first();
        const t = time + (bytes[h]! - sent[h]!) / s.rate;
        if (t < next) next = t;
      }
    }
    if (total > this.maxLoad) this.maxLoad = total;
    if (total > 0 && this.busyStart < 0) this.busyStart = time;
    if (total === 0 && this.busyStart >= 0) this.closeBusy(time);
    if (next !== Infinity) next = timerAfter(time, next);
    if (next < this.timerAt) {
      this.timerAt = next;
      this.host.timer(this);
    } else if (next > this.timerAt) this.quiet(time);
  }

  /**
   * The timer is early: set for a change that no longer comes then (rates fell since). Its settle
   * would change nothing but the clock's steps (nothing ends there, and the rates, caps and credits
   * stay what they are until the port changes), then re-arm for the next change as seen from its
   * time. That is done here instead, without an event: the port keeps the early time (`quietAt`),
   * its next advance steps through it as the settle would have, and the timer goes straight to
   * the change after it, computed as that settle would compute it. If anything changes the port
   * before then, the early timer is restored and the port settles as before.
   */
  private quiet(time: number): void {
    const at = this.timerAt;
    const dt = at - time;
    const { sent, bytes } = this.jobs;
    const act = this.active;
    let next = Infinity;
    for (let i = 0; i < act.length; i++) {
      const s = act[i]!;
      if (s.rate <= 0) continue;
      const h = s.first();
      const left = bytes[h]! - (sent[h]! + s.rate * dt);
      if (left <= eps(bytes[h]!)) return; // it would end a transfer there: keep the timer
      const t = at + left / s.rate;
      if (t < next) next = t;
    }
    if (next !== Infinity) next = timerAfter(at, next);
    this.quietAt = at;
    this.timerAt = next;
    this.host.timer(this);
  }

  /**
   * Keep the rate announced for every stream whose new max-min rate is within the send resolution of
   * it and under its cap, when the rates kept and the new ones still fit in the port's capacity
   * (else every stream takes its new rate). A kept rate is at most the resolution below the
   * stream's share, or above it with the capacity and the cap respected.
   */
  private hold(): void {
    const act = this.active;
    let sum = 0;
    for (let i = 0; i < act.length; i++) {
      const s = act[i]!;
      sum += keeps(s) ? s.told : s.rate;
    }
    if (sum > this.bytesPerUs) return;
    for (let i = 0; i < act.length; i++) {
      const s = act[i]!;
      if (keeps(s)) s.rate = s.told;
    }
  }

  /** Water-filling: capacity shared equally, streams capped below their share keep their cap. */
  private allocate(): void {
    const act = this.active;
    const n = act.length;
    if (n === 0) return;
    let capped = false;
    for (let i = 0; i < n; i++) if (Math.min(act[i]!.credit, act[i]!.limit) < Infinity) capped = true;
    if (!capped) {
      const r = this.bytesPerUs / n;
      for (let i = 0; i < n; i++) act[i]!.rate = r;
      return;
    }
    const d = this.wants(n);
    for (let i = 0; i < n; i++) d[i] = Math.min(act[i]!.credit, act[i]!.limit);
    this.waterFill();
  }
}

export class RecvPort extends PortStats {
  /** The fair level last computed (bytes/us). */
  level = 0;
  /** Stream keys to credit, filled by a settle for the host (reused). */
  private readonly keys = new NumList(new Float64Array(16), (n) => new Float64Array(n));
  /** Bytes queued per active stream in the settle in progress (reused). */
  private queuedBuf = new Float64Array(8);
  recording = false;
  /**
   * The demands of the last water-filling and its fair level; `sharesStale` when the active streams
   * changed since. News of a queued stream's rate leaves every demand as it was (all it can get):
   * the shares are then the same, and are not computed again.
   */
  private lastWants = new Float64Array(8);
  private lastN = -1;
  private lastFair = 0;
  private sharesStale = true;

  constructor(owner: number, index: number, bytesPerUs: number, jobs: FlowJobs, private readonly host: RecvHost) {
    super(owner, index, bytesPerUs, jobs);
  }

  get creditKeys(): Float64Array { return this.keys.a; }

  /** Apply news from a sender (settled at the end of the instant): job `j` of stream `key`. */
  news(j: number, kind: number, rate: number, key: number, time: number): void {
    this.advance(time);
    if (!this.dirty) {
      this.dirty = true;
      this.host.settleLater(this, time);
    }
    const J = this.jobs;
    const s = this.stream(key);
    if (kind === NEWS_START) {
      // A stream's jobs arrive one after another (see advance).
      if (s.tail > s.head && !J.arrivedAll[s.jobs[s.tail - 1]!]) throw new Error(`port ${this.owner}.${this.index}: stream ${key} starts a job before the previous one has arrived`);
      J.arrived[j] = 0;
      J.served[j] = 0;
      J.arrRate[j] = rate;
      J.arrivedAll[j] = 0;
      s.push(j);
      s.arr += rate;
      if (!s.active) {
        s.active = true;
        this.active.push(s);
        this.sharesStale = true;
      }
    } else if (kind === NEWS_RATE) {
      s.arr += rate - J.arrRate[j]!;
      J.arrRate[j] = rate;
    } else {
      s.arr -= J.arrRate[j]!;
      J.arrRate[j] = 0;
      J.arrived[j] = J.bytes[j]!;
      J.arrivedAll[j] = 1;
    }
    if (Math.abs(s.arr) < 1e-9) s.arr = 0;
  }

  protected advanceBy(time: number): void {
    const dt = time - this.lastT;
    if (dt <= 0) return;
    let total = 0;
    const { arrived, served, arrRate, arrivedAll, bytes } = this.jobs;
    const act = this.active;
    for (let i = 0; i < act.length; i++) {
      const s = act[i]!;
      let give = s.rate * dt;
      total += s.rate;
      const q = s.jobs;
      // Bytes arrive for the stream's last job only: its sender sends one job at a time, and the
      // news of a job's end comes before the next one's start, so every earlier job has all its
      // bytes.
      if (s.tail > s.head) {
        const j = q[s.tail - 1]!;
        if (!arrivedAll[j] && arrRate[j]! > 0) arrived[j] = Math.min(bytes[j]!, arrived[j]! + arrRate[j]! * dt);
      }
      for (let k = s.head; k < s.tail && give > 0; k++) {
        const j = q[k]!;
        const take = Math.min(give, arrived[j]! - served[j]!);
        if (take > 0) {
          served[j] = served[j]! + take;
          give -= take;
        }
      }
    }
    this.account(time, dt, total);
  }

  /** Bytes arrived and not yet served in stream `s`. */
  private queued(s: Stream): number {
    const { arrived, served } = this.jobs;
    const q = s.jobs;
    let sum = 0;
    for (let k = s.head; k < s.tail; k++) {
      const j = q[k]!;
      sum += arrived[j]! - served[j]!;
    }
    return sum;
  }

  /** Deliver what is served, reallocate, tell senders the new level, re-arm. */
  settle(time: number): void {
    this.dirty = false;
    this.advance(time);
    const act = this.active;
    for (let i = 0; i < act.length; ) {
      const s = act[i]!;
      while (s.size > 0) {
        const h = s.first();
        const J = this.jobs;
        if (!J.arrivedAll[h] || J.bytes[h]! - J.served[h]! > eps(J.bytes[h]!)) break;
        J.served[h] = J.bytes[h]!;
        s.shift();
        this.host.served(this, h, time);
      }
      if (s.size > 0) {
        i++;
        continue;
      }
      s.active = false;
      s.arr = 0;
      s.lastCredit = -1;
      act[i] = act[act.length - 1]!;
      act.pop();
      this.sharesStale = true;
    }
    const n = act.length;
    if (n === 0) {
      if (this.busyStart >= 0) this.closeBusy(time);
      return;
    }
    // Demand: all it can get with bytes queued, else its arrival rate.
    if (this.queuedBuf.length < n) this.queuedBuf = new Float64Array(Math.max(n, this.queuedBuf.length * 2));
    const qb = this.queuedBuf;
    const d = this.wants(n);
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      const q = this.queued(s);
      qb[i] = q;
      d[i] = q > eps(1) ? Infinity : s.arr;
    }
    let same = !this.sharesStale && n === this.lastN;
    const lw = this.lastWants;
    for (let i = 0; same && i < n; i++) if (d[i] !== lw[i]) same = false;
    let fair = this.lastFair;
    if (!same) {
      fair = this.waterFill();
      if (this.lastWants.length < n) this.lastWants = new Float64Array(this.wants(n).length);
      this.lastWants.set(this.wants(n).subarray(0, n));
      this.lastN = n;
      this.lastFair = fair;
      this.sharesStale = false;
    }
    const { bytes, served, arrivedAll } = this.jobs;
    let total = 0;
    let next = Infinity;
    let saturated = false;
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      total += s.rate;
      const q = qb[i]!;
      if (s.rate < s.arr * (1 - 1e-12)) saturated = true; // a queue starts now
      if (q > eps(1)) {
        saturated = true;
        // A queue served as fast as it fills (to rounding) keeps its bytes until the stream ends.
        if (s.rate - s.arr > 1e-9 * s.rate) {
          const t = time + q / (s.rate - s.arr);
          if (t < next) next = t;
        }
      }
      const h = s.first();
      if (arrivedAll[h] && s.rate > 0) {
        const t = time + (bytes[h]! - served[h]!) / s.rate;
        if (t < next) next = t;
      }
    }
    // The credit: the fair level while bytes queue here, no limit while everything that arrives is
    // served at once (the port is then nobody's bottleneck).
    const level = saturated ? fair : Infinity;
    this.level = level;
    const keys = this.keys;
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      // Tell a sender only what changes its rate by more than the credit resolution: a level below
      // what it sends, or a higher one when it was held at the old level (to the send resolution:
      // a sender may keep a rate that close under its cap), or nothing heard yet.
      const last = s.lastCredit;
      if (last < 0 || (level < last && level < s.arr * (1 - CREDIT_RESOLUTION)) || (last <= s.arr * (1 + SEND_RESOLUTION) && level > last * (1 + CREDIT_RESOLUTION))) {
        s.lastCredit = level;
        keys.push(s.key);
      }
    }
    if (keys.n > 0) {
      this.host.credit(this, keys.n, level, time);
      keys.n = 0;
    }
    if (total > this.maxLoad) this.maxLoad = total;
    if (total > 0 && this.busyStart < 0) this.busyStart = time;
    if (total === 0 && this.busyStart >= 0) this.closeBusy(time);
    if (next !== Infinity) next = timerAfter(time, next);
    if (next < this.timerAt) {
      this.timerAt = next;
      this.host.timer(this);
    } else if (next > this.timerAt) this.quiet();
  }

  /**
   * The timer is early (set for a queue to empty or a transfer to be served, which rates that fell
   * since have moved later). As SendPort.quiet: when its settle would change nothing but the
   * clock's steps, pass over it without an event. It would if no transfer is served there and every
   * stream has bytes queued there exactly when it has now (the same demands, so the same shares,
   * level and credits); the bytes there are computed as the advance to it computes them.
   */
  private quiet(): void {
    const at = this.timerAt;
    const dt = at - this.lastT;
    if (!(dt > 0)) return;
    const { arrived, served, arrRate, arrivedAll, bytes } = this.jobs;
    const act = this.active;
    const qb = this.queuedBuf;
    let next = Infinity;
    for (let i = 0; i < act.length; i++) {
      const s = act[i]!;
      const q = s.jobs;
      const last = s.tail - 1;
      const jl = q[last]!;
      const arrivedLast = !arrivedAll[jl] && arrRate[jl]! > 0 ? Math.min(bytes[jl]!, arrived[jl]! + arrRate[jl]! * dt) : arrived[jl]!;
      let give = s.rate * dt;
      let queued = 0;
      let headServed = 0;
      for (let k = s.head; k < s.tail; k++) {
        const j = q[k]!;
        const a = k === last ? arrivedLast : arrived[j]!;
        let sv = served[j]!;
        if (give > 0) {
          const take = Math.min(give, a - sv);
          if (take > 0) {
            sv = sv + take;
            give -= take;
          }
        }
        queued += a - sv;
        if (k === s.head) headServed = sv;
      }
      const h = q[s.head]!;
      if (arrivedAll[h] && !(bytes[h]! - headServed > eps(bytes[h]!))) return; // served there
      const queues = queued > eps(1);
      if (queues !== qb[i]! > eps(1)) return; // a queue starts or ends there
      if (queues && s.rate - s.arr > 1e-9 * s.rate) {
        const t = at + queued / (s.rate - s.arr);
        if (t < next) next = t;
      }
      if (arrivedAll[h] && s.rate > 0) {
        const t = at + (bytes[h]! - headServed) / s.rate;
        if (t < next) next = t;
      }
    }
    if (next !== Infinity) next = timerAfter(at, next);
    this.quietAt = at;
    this.timerAt = next;
    this.host.timer(this);
  }
}
