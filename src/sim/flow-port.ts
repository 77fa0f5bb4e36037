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
 * Transfers are indexes into the host's {@link FlowJobs} columns. A port keeps its streams and the
 * transfers queued in them in typed columns of its own (see {@link PortStats}), and what a settle
 * tells the host (news, credits) goes through the port's reused buffers: a port allocates nothing
 * per transfer or per settle. Both port kinds work per change: a stream is visited when something
 * reaches it (its news, its credit, its own next change, a fair level that moves past it), not at
 * every settle of its port; each evaluates a stream from its own last change, so floats round
 * otherwise than when every stream was stepped at every instant (docs/runtime.md).
 */
import { QP_SLOTS } from '../transport/protocol.js';
import type { DueItem } from './link-schedule.js';
import { SlotHeap } from './slot-heap.js';
import type { FlowJobs } from './transfers.js';
import { DOUBLE } from './field-init.js';

/** A sender slot's record (see SendPort.sF): the places of its fields, in doubles from `s << 4`. */
const S_DONE = 0;
const S_DEM = 1;
const S_TOLD = 2;
const S_NEW = 3;
const S_END = 4;
const S_RATE = 5;
const S_KEEP = 6;
const S_CREDIT = 7;
const S_LIMIT = 8;
const S_SENT = 9;
const S_BYTES = 10;
const S_ANCHOR = 11;
const S_SINCE = 12;
const S_ACTT = 13;
const S_ACTKEY = 14;
/** Its transfer, an int32 in the record's last double (in int32 from `s << 5`). */
const SI_JOB = 30;

/** Streams per peer rank (one per queue pair): a stream's key is `peer * QP_STREAMS + qp`. */
const QP_STREAMS = QP_SLOTS;

/** News a sender port sends its receivers (one latency later). */
export const NEWS_START = 0; // first byte: the transfer joins the receiver's stream, at `rate`
export const NEWS_RATE = 1; // the sending rate changed to `rate`
export const NEWS_DONE = 2; // last byte sent: nothing more arrives after it

/**
 * Both hosts: settle `port` once at the end of the current instant (after every other event then);
 * the port's timer (`timerAt`) moved. A port due (dirty, or its timer reached) is run by
 * {@link PortStats.runDue}.
 *
 * The port acts at the host's clock, `now`, read from the host rather than passed: a float
 * argument to a call V8 does not inline is boxed as a heap number, and these calls run per transfer
 * and per settle (no allocation per event on the steady path, issue 14). Rates and levels come
 * from the caller's columns (a `Float64Array` and an index) for the same reason.
 */
export interface SettleHost {
  /** The current instant, us. */
  readonly now: number;
  settleLater(port: SendPort | RecvPort): void;
  timer(port: SendPort | RecvPort): void;
}

export interface SendHost extends SettleHost {
  /** The ordering key of the event being run (rank * 2^32 + seq): when a stream became active. */
  eventKey(): number;
  /**
   * The port changed what it sends: carry its news items `port.newsJob/newsKind/newsRate[0..count)`
   * to the receivers (in order). The buffers are reused once this returns.
   */
  news(port: SendPort, count: number): void;
  /** A rate segment of a job ended (only when recording). */
  rateSegment?(port: SendPort, job: number, key: number, start: number, end: number, rate: number): void;
}

export interface RecvHost extends SettleHost {
  /** The job's last byte has been served: deliver it. */
  served(port: RecvPort, job: number): void;
  /** Tell the senders of streams `port.creditKeys[0..count)` the fair level `port.level`, bytes/us. */
  credit(port: RecvPort, count: number): void;
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

/** `a` copied into a new array of `cap` elements (the rest filled with `fill`). */
function grown<A extends Float64Array | Int32Array | Uint8Array>(a: A, cap: number, fill = 0): A {
  const b = new (a.constructor as new (n: number) => A)(cap);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/** The no-job mark of a stream's FIFO ends and of the job links. */
const NONE = -1;
const EPS1 = eps(1);

/**
 * An entry's record (see PortStats.eF): the place of each field. Doubles from `e << eSh`: its
 * bytes; a receiver's bytes arrived, served, arrival rate and all-arrived (1 / 0). Int32 from
 * `e << (eSh + 1)`: its transfer and the next entry of its stream (in the record's second double).
 */
const E_BYTES = 0;
const E_ARRIVED = 2;
const E_SERVED = 3;
const E_RATE = 4;
const E_ALL = 5;
const EI_JOB = 2;
const EI_NEXT = 3;

/**
 * Busy-time and load bookkeeping shared by both port kinds, and the port's streams.
 *
 * A **stream** is a slot of the port's columns (struct of arrays, by slot: made on a key's first
 * use, kept for the port's life), so the loops over the active streams run over typed arrays: its
 * key, rate, whether it is active, and its FIFO of transfers (first, last and count). A transfer in
 * a stream is an **entry** of the port's own columns (its transfer, bytes and progress, the next
 * entry of its stream; reused through a free list): the loops read a few hundred entries in the
 * port's own arrays, not scattered rows of the host's table of every transfer in flight.
 */
export abstract class PortStats<H extends SettleHost = SettleHost> implements DueItem {
  /** The host's schedule of due ports (see link-schedule.ts). */
  dueAt = Infinity;
  heapPos = -1;
  readonly id: number;
  /** Time with bytes moving, us; bytes moved; the largest total rate ever allocated (bytes/us). */
  busyUs = DOUBLE;
  bytesMoved = DOUBLE;
  maxLoad = DOUBLE;
  protected lastT = DOUBLE;
  /** Start of the current busy period (-1 when idle) and bytes moved in it. */
  busyStart = DOUBLE;
  busyBytes = DOUBLE;
  /** A settle is scheduled for the current instant. */
  dirty = false;
  /** Called with each busy period when it ends (set while recording). */
  onBusy: ((port: PortStats, start: number, end: number, bytes: number) => void) | null = null;
  /** When the port's own timer falls due (a transfer sent or served, a queue empty); Infinity: none. */
  timerAt = Infinity;
  /**
   * Stream slots by stream key (peer rank * QP_STREAMS + queue pair; NONE: none yet), in one
   * array grown to the largest key used: a look-up is one read of the port's own column (credits
   * look up a stream of a different port each, and most change nothing).
   */
  private slotOf = new Int32Array(0);
  /** Slots made, and the columns' room. */
  protected nSlots = 0;
  protected room = 0;
  /** Per slot: the stream key (peer * QP_STREAMS + qp), rate (bytes/us), active (1). */
  protected key = new Int32Array(0);
  protected rate = new Float64Array(0);
  protected on = new Uint8Array(0);
  /** Per slot: the FIFO's first and last transfer (NONE when empty) and its length. */
  protected first = new Int32Array(0);
  protected last = new Int32Array(0);
  protected size = new Int32Array(0);
  /** The active slots, in their allocation order: `act[0..nAct)`. */
  protected act = new Int32Array(8);
  protected nAct = 0;
  /** The water-filling's demands by active position (reused). */
  protected wantBuf = new Float64Array(8);
  /** Per slot: its last demand, and whether it is in `ord`; the slots by their last demand (`ord[0..nOrd)`). */
  protected want = new Float64Array(0);
  private inOrd = new Uint8Array(0);
  private ord = new Int32Array(0);
  private nOrd = 0;
  /** The active slots changed since `ord` was last brought up to date. */
  private ordStale = true;
  /**
   * The entries, one record of `1 << eSh` doubles each (entry `e` at `e << eSh`): its bytes, its
   * transfer and the next entry of its stream (two int32 in one double's place, read through `eI`
   * at `(e << (eSh + 1)) + EI_JOB / EI_NEXT`), and a receiver's progress (bytes arrived, served,
   * the arrival rate, all arrived). One record instead of a column per field: an entry read cold (a
   * stream's next head, a free entry reused, news of a transfer) costs one cache line, not one per
   * field, and one typed array's header instead of seven. A sender's record is 16 bytes (eSh 1), a
   * receiver's 64 (eSh 3, see RecvPort).
   */
  protected eF = new Float64Array(0);
  protected eI = new Int32Array(0);
  protected readonly eSh: number = 1;
  /** Entries made, the entry records' room, the first free entry (a stack linked through their next). */
  private eMade = 0;
  private eRoom = 0;
  private eFree = NONE;
  constructor(readonly owner: number, readonly index: number, readonly bytesPerUs: number, protected readonly jobs: FlowJobs, protected readonly host: H) {
    this.id = owner * 4 + index;
    // The number fields declared DOUBLE (double from the first port on: see field-init.ts) start here.
    this.busyUs = this.bytesMoved = this.maxLoad = this.lastT = this.busyBytes = 0;
    this.busyStart = -1;
    this.charged = this.busyEnd = this.share = 0;
    // Stored again: mutable from the first port on, not from its first timer or stream (see field-init.ts).
    this.timerAt = this.quietAt = Infinity;
    this.nAct = 0;
  }

  /**
   * The host runs the port at its clock, when it is due then (changed during the instant, or its
   * timer reached): a timer that fell due is spent; settle.
   */
  runDue(): void {
    if (this.timerAt <= this.host.now) this.timerAt = Infinity;
    this.settle();
  }

  /** Settle at the host's clock. */
  abstract settle(): void;

  /** A timer passed over without an event (see the ports' `quiet`), Infinity when none. */
  protected quietAt = Infinity;

  /** Move the port's bytes on to `stepTo`. */
  protected abstract advanceBy(): void;

  /** Where {@link advanceBy} moves the port's clock (a field: a float argument would be boxed). */
  protected stepTo = DOUBLE; // written before each read (a double from the start: see field-init.ts)

  /** Move the port's bytes on to the host's clock. */
  protected advance(): void {
    const time = this.host.now;
    if (this.quietAt < Infinity) {
      // The quiet timer: passed, it happened (its step of the clock, nothing else); not yet, the
      // port changes before it, and the timer is again what it was.
      if (this.quietAt < time) {
        this.stepTo = this.quietAt;
        this.advanceBy();
      } else this.timerAt = this.quietAt;
      this.quietAt = Infinity;
    }
    this.stepTo = time;
    this.advanceBy();
  }

  get activeStreams(): number {
    return this.nAct;
  }

  /** No active stream, no settle or timer pending, no busy period open. */
  get idle(): boolean {
    return this.nAct === 0 && !this.dirty && this.timerAt === Infinity && this.dueAt === Infinity && this.busyStart < 0;
  }

  /**
   * Move the clock of this idle port by `shift` us (its host re-bases, see Engine.rebase): its last
   * step, in the past, moves with it; a quiet timer left over no streams steps nothing and goes.
   */
  rebase(shift: number): void {
    this.lastT -= shift;
    this.quietAt = Infinity;
  }

  /**
   * Drop every transfer in the port's streams (a failed operation's leftovers, see Engine.dropAll):
   * each active stream ends as one emptied by its last transfer does, and the port is idle, its
   * clock (last step) where it is, its busy period cut without a report.
   */
  dropAll(): void {
    while (this.nAct > 0) {
      const i = this.nAct - 1;
      const s = this.act[i]!;
      for (let h = this.headOf(s); h !== NONE; h = this.headOf(s)) {
        this.shift(s);
        this.release(h);
      }
      this.dropStream(s, i);
    }
    this.dirty = false;
    this.timerAt = Infinity;
    this.quietAt = Infinity;
    this.dueAt = Infinity;
    this.heapPos = -1;
    this.busyStart = -1;
    this.busyBytes = 0;
  }

  /** Slot `s`'s first entry, NONE when its FIFO is empty. */
  protected headOf(s: number): number {
    return this.size[s]! > 0 ? this.first[s]! : NONE;
  }

  /** Empty stream `s`, at active position `i`, leaves as when its last transfer ends. */
  protected dropStream(_s: number, i: number): void {
    this.deactivate(i);
  }

  /** The slot of stream `key`, or NONE when it has none yet. */
  protected find(key: number): number {
    const slotOf = this.slotOf;
    return key < slotOf.length ? slotOf[key]! : NONE;
  }

  /** The slot of stream `key`, made on first use. */
  protected slot(key: number): number {
    if (key >= this.slotOf.length) {
      // Whole peers' rows, at least doubling.
      const need = ((key / QP_STREAMS) | 0) * QP_STREAMS + QP_STREAMS;
      this.slotOf = grown(this.slotOf, Math.max(need, 2 * this.slotOf.length), NONE);
    }
    let s = this.slotOf[key]!;
    if (s === NONE) {
      s = this.nSlots++;
      if (s === this.room) this.grow(Math.max(8, 2 * this.room));
      this.slotOf[key] = s;
      this.key[s] = key;
      this.first[s] = this.last[s] = NONE;
      this.init(s);
    }
    return s;
  }

  /** Room for `cap` slots in every column (a port kind grows its own columns too). */
  protected grow(cap: number): void {
    this.key = grown(this.key, cap);
    this.rate = grown(this.rate, cap);
    this.on = grown(this.on, cap);
    this.first = grown(this.first, cap);
    this.last = grown(this.last, cap);
    this.size = grown(this.size, cap);
    this.want = grown(this.want, cap);
    this.inOrd = grown(this.inOrd, cap);
    this.ord = grown(this.ord, cap);
    this.room = cap;
  }

  /** A new slot's own fields (the port kind's columns). */
  protected abstract init(s: number): void;

  /** A new entry for transfer `job` (its progress columns are the caller's to set). */
  protected entry(job: number): number {
    let e = this.eFree;
    if (e !== NONE) this.eFree = this.eI[(e << (this.eSh + 1)) + EI_NEXT]!;
    else {
      e = this.eMade++;
      if (e === this.eRoom) this.growEntries(Math.max(16, 2 * this.eRoom));
    }
    this.eI[(e << (this.eSh + 1)) + EI_JOB] = job;
    this.eF[(e << this.eSh) + E_BYTES] = this.jobs.bytes[job]!;
    return e;
  }

  /** Entry `e`'s transfer, its bytes, and the next entry of its stream. */
  protected jobOf(e: number): number {
    return this.eI[(e << (this.eSh + 1)) + EI_JOB]!;
  }

  protected bytesOf(e: number): number {
    return this.eF[(e << this.eSh) + E_BYTES]!;
  }

  protected nextOf(e: number): number {
    return this.eI[(e << (this.eSh + 1)) + EI_NEXT]!;
  }

  /** Entry `e` (out of its stream) is free again. */
  protected release(e: number): void {
    this.eI[(e << (this.eSh + 1)) + EI_NEXT] = this.eFree;
    this.eFree = e;
  }

  /** Room for `cap` entries in every entry column (a port kind grows its own too). */
  protected growEntries(cap: number): void {
    this.eF = grown(this.eF, cap << this.eSh);
    this.eI = new Int32Array(this.eF.buffer);
    this.eRoom = cap;
  }

  /** Append entry `e` to slot `s`'s FIFO. */
  protected push(s: number, e: number): void {
    const eI = this.eI;
    const sh = this.eSh + 1;
    eI[(e << sh) + EI_NEXT] = NONE;
    if (this.size[s] === 0) this.first[s] = e;
    else eI[(this.last[s]! << sh) + EI_NEXT] = e;
    this.last[s] = e;
    this.size[s] = this.size[s]! + 1;
  }

  /** Take slot `s`'s first entry out of its FIFO (the caller releases it). */
  protected shift(s: number): void {
    if (--this.size[s]! === 0) this.first[s] = this.last[s] = NONE;
    else this.first[s] = this.eI[(this.first[s]! << (this.eSh + 1)) + EI_NEXT]!;
  }

  /** Slot `s` joins the active ones (at the end). */
  protected activate(s: number): void {
    this.on[s] = 1;
    this.ordStale = true;
    if (this.nAct === this.act.length) this.act = grown(this.act, 2 * this.act.length);
    this.act[this.nAct++] = s;
  }

  /** The active slot at position `i` leaves (the last one takes its place). */
  protected deactivate(i: number): void {
    this.on[this.act[i]!] = 0;
    this.ordStale = true;
    this.act[i] = this.act[--this.nAct]!;
  }

  /**
   * The load {@link account} charges (bytes/us of moving streams), and the end of the busy period
   * {@link closeBusy} closes: fields, not arguments (a float argument to a call V8 does not inline
   * is boxed as a heap number, per clock step and per busy period).
   */
  protected charged = DOUBLE;
  protected busyEnd = DOUBLE;

  /** Charge the clock's step from `lastT` to `stepTo` at `charged` bytes/us and move the clock there. */
  protected account(): void {
    const time = this.stepTo;
    const dt = time - this.lastT;
    if (dt <= 0) return;
    const total = this.charged;
    if (total > 0) {
      this.busyUs += dt;
      this.bytesMoved += total * dt;
      this.busyBytes += total * dt;
    }
    this.lastT = time;
  }

  /** The busy period ends at `busyEnd`. */
  protected closeBusy(): void {
    this.onBusy?.(this, this.busyStart, this.busyEnd, this.busyBytes);
    this.busyStart = -1;
    this.busyBytes = 0;
  }

  /** The demand buffer of the next {@link waterFill}, room for `n` streams. */
  protected wants(n: number): Float64Array {
    if (this.wantBuf.length < n) {
      let c = this.wantBuf.length;
      while (c < n) c *= 2;
      this.wantBuf = new Float64Array(c);
    }
    return this.wantBuf;
  }

  /**
   * Max-min share of the capacity among the active streams with demands `wants()[i]` (filled by
   * the caller, by active position): sets each stream's rate and the fair level `share` (what a
   * stream with unlimited demand would get; with spare capacity, what the largest one could take).
   *
   * The walk takes the demands in ascending order: each one below the share of what is left is
   * granted and subtracted from it, and the first one not below stops it; every stream from there
   * on gets that share. Its floating-point path depends only on the sorted values (equal demands
   * subtract the same amount whatever their order), and which streams got their demand is decided
   * afterwards by value, ties by position, as an ordering by (demand, position) would. The order
   * is kept from one water-filling to the next (the port's slots by their last demand) and
   * repaired by insertion: between two settles few demands change, so this costs O(n) plus the
   * moves of the demands that did.
   */
  protected waterFill(): void {
    const act = this.act;
    const n = this.nAct;
    const d = this.wantBuf;
    const want = this.want;
    let min = Infinity;
    for (let i = 0; i < n; i++) {
      const di = d[i]!;
      if (di < min) min = di;
      want[act[i]!] = di;
    }
    this.fillMin = min;
    this.fillLevels();
    const rate = this.rate;
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      this.grant(s);
      rate[s] = this.granted;
    }
  }

  /**
   * Stream `s`'s rate after {@link fillLevels}, from its demand `want[s]`, the streams taken in
   * active position order (each call takes one of the ties at `fillLast`): the demand when granted,
   * else min(demand, share); every stream the share when all got the equal share. Left in
   * {@link granted}: the demand is read and the rate returned through fields, since a float passed
   * to or returned by a call that V8 does not inline is boxed as a heap number.
   */
  protected grant(s: number): void {
    if (this.fillEqual) {
      this.granted = this.share;
      return;
    }
    const di = this.want[s]!;
    const last = this.fillLast;
    this.granted = di < last || (di === last && this.tiesLeft-- > 0) ? di : Math.min(di, this.share);
  }

  /** The rate the last {@link grant} gave (declared DOUBLE, read only after a write: see field-init.ts). */
  protected granted = DOUBLE;

  /**
   * The walk of {@link waterFill} over the demands `want[act[i]]` (already written, `fillMin` the
   * smallest): sets the fair level `share` and which streams get their demand, every demand below
   * `fillLast` and the first `fillTies` (by position) equal to it. Stream i's rate is then its
   * demand when granted, else `min(demand, share)`; with every demand at least the equal share
   * (`fillEqual`), every stream's rate is that share.
   */
  protected fillLevels(): void {
    const min = this.fillMin;
    const act = this.act;
    const n = this.nAct;
    const capacity = this.bytesPerUs;
    const want = this.want;
    this.fillLast = NaN;
    this.fillTies = 0;
    this.tiesLeft = 0;
    // Every demand at least the equal share: everyone gets it (the walk would stop at once).
    const equal = capacity / n;
    this.fillEqual = min >= equal;
    if (this.fillEqual) {
      this.share = equal;
      return;
    }
    // The order: the slots still active keep their places, the new ones come last; then insertion.
    const ord = this.ord;
    if (this.ordStale) {
      const { on, inOrd } = this;
      let m = 0;
      for (let j = 0; j < this.nOrd; j++) {
        const s = ord[j]!;
        if (on[s]) ord[m++] = s;
        else inOrd[s] = 0;
      }
      for (let i = 0; i < n; i++) {
        const s = act[i]!;
        if (!inOrd[s]) {
          inOrd[s] = 1;
          ord[m++] = s;
        }
      }
      this.nOrd = m;
      this.ordStale = false;
    }
    for (let j = 1; j < n; j++) {
      const s = ord[j]!;
      const v = want[s]!;
      let h = j - 1;
      if (!(want[ord[h]!]! > v)) continue;
      do {
        ord[h + 1] = ord[h]!;
        h--;
      } while (h >= 0 && want[ord[h]!]! > v);
      ord[h + 1] = s;
    }
    let rem = capacity;
    let share = capacity;
    let k = 0;
    for (; ; k++) {
      share = rem / (n - k);
      const dk = want[ord[k]!]!;
      if (dk < share && k < n - 1) rem -= dk;
      else break;
    }
    this.share = share;
    if (k === 0) return;
    // Granted: every demand below the last granted value, and that value's first `ties` streams.
    const last = want[ord[k - 1]!]!;
    let ties = 0;
    for (let j = k - 1; j >= 0 && want[ord[j]!] === last; j--) ties++;
    this.fillLast = last;
    this.fillTies = ties;
    this.tiesLeft = ties;
  }

  /** The last granted demand of the last {@link fillLevels} (NaN: none) and how many streams got it by ties. */
  protected fillLast = NaN;
  protected fillTies = 0;
  /** Ties at `fillLast` not yet given their demand by {@link granted}. */
  private tiesLeft = 0;
  /** The last {@link fillLevels} gave every stream the equal share. */
  protected fillEqual = false;
  /** The smallest demand, for the next {@link fillLevels} (a field: a float argument is boxed; declared DOUBLE, read only after a write: see field-init.ts). */
  protected fillMin = DOUBLE;

  /**
   * The fair level the last {@link waterFill} found (a field, not its return value: a float
   * returned by a call that is not inlined is a heap number).
   */
  protected share = DOUBLE;
}

/**
 * The sender port: each active stream's head is exact at the stream's own last rate change (its
 * `anchor`: bytes sent then), so a clock step moves no head and charges only the port's load, and
 * the caps are kept sorted for the water-filling. A settle makes passes over the active streams
 * (finish what is done, take every rate and decide the holds, tell the news and find the timer).
 *
 * The model is the one the port had when every settle stepped every head (same finishes, caps,
 * max-min rates, holds within {@link SEND_RESOLUTION}, news in the same order, timers and quiet
 * timers): a stream's max-min rate is min(cap, level), the level from the water-filling's walk over
 * the caps in ascending order (the same walk, so the same level to the last bit). Floats round
 * differently from that port (a head is stepped once from its last rate change, its end from
 * there): docs/runtime.md, "Sender ports that work per change". That port is the tests' reference.
 */
export class SendPort extends PortStats<SendHost> {
  /** News of the settle in progress, for the host: job, NEWS_* kind, rate and stream key per item (reused). */
  protected nJob = new Int32Array(16);
  protected nKind = new Uint8Array(16);
  protected nRate = new Float64Array(16);
  protected nKey = new Int32Array(16);
  protected nNews = 0;
  /** Record rate segments through the host. */
  recording = false;
  /**
   * Each slot's own fields, one record of 16 doubles (128 bytes) per slot, at `s << 4` (the
   * places: S_* below), so a settle's passes and a tell read one or two cache lines per stream and
   * the headers of two typed arrays, not one line and one header per column:
   * - the first line, what the settle's passes read for every active stream: the time before which
   *   its head cannot be found done (`S_DONE`, see {@link timeEnd}), its cap in the order
   *   (`S_DEM`: min(credit, limit)), the rate last announced for the head (`S_TOLD`, -1: none yet),
   *   in the rate stage the new max-min rate (`S_NEW`) and whether the told rate is kept (`S_KEEP`,
   *   1 / 0), when its head ends at its rate (`S_END`, Infinity at no rate), its rate (`S_RATE`)
   *   and the last credit heard (`S_CREDIT`, Infinity before the first);
   * - the second, what a head's change reads: the QP's own rate limit (`S_LIMIT`), of its head the
   *   bytes sent at `S_ANCHOR` (`S_SENT`, exact at the head's start or its last rate change), its
   *   bytes (`S_BYTES`) and its transfer (int32 `sI[(s << 5) + SI_JOB]`), since when its rate is
   *   told (`S_SINCE`, for rate segments), when the stream last became active (`S_ACTT`) and the
   *   ordering key of the event that did it (`S_ACTKEY`).
   * The end and done-from times are kept by every change of the head or its rate.
   */
  private sF = new Float64Array(0);
  private sI = new Int32Array(0);
  /** Per slot: in `srt`; listed in `pend`. */
  private inSrt = new Uint8Array(0);
  private inPend = new Uint8Array(0);
  /** The active slots by (cap, slot), ascending: `srt[0..nSrt)`. */
  private srt = new Int32Array(8);
  private nSrt = 0;
  /** Streams started or whose cap may have changed since the last settle: `pend[0..nPend)`. */
  private pend = new Int32Array(16);
  private nPend = 0;
  /** The water-filling's level of the last settle (NaN: none, the port was idle). */
  private level = NaN;
  /** The caps changed (a stream came, left or its cap moved) since the last water-filling. */
  private capsMoved = false;
  /**
   * The sum of the told rates of the active streams (every rate is what was told after a settle):
   * what every advance until the next settle moves the port at. Summed in position order by each
   * settle; a stream that leaves between settles (dropped) takes its rate off.
   */
  private load = DOUBLE;
  /** Active streams told a rate above 0 (none: the load is exactly 0). */
  private nPos = 0;

  constructor(owner: number, index: number, bytesPerUs: number, jobs: FlowJobs, host: SendHost) {
    super(owner, index, bytesPerUs, jobs, host);
    // Declared DOUBLE (double from the first port on: see field-init.ts), start at 0.
    this.load = this.itemRate = this.placing = 0;
  }

  /** The rate limit of a queue pair (bytes/us) for the streams of RDMA work requests (see enqueue). */
  qpLimit = Infinity;

  get newsJob(): Int32Array { return this.nJob; }
  get newsKind(): Uint8Array { return this.nKind; }
  get newsRate(): Float64Array { return this.nRate; }
  /** Per news item: its stream's key (destination rank * QP_SLOTS + qp). */
  get newsKey(): Int32Array { return this.nKey; }

  protected override grow(cap: number): void {
    super.grow(cap);
    this.sF = grown(this.sF, cap << 4);
    this.sI = new Int32Array(this.sF.buffer);
    this.inSrt = grown(this.inSrt, cap);
    this.inPend = grown(this.inPend, cap);
    if (this.srt.length < cap) this.srt = grown(this.srt, cap);
  }

  protected init(s: number): void {
    const sF = this.sF;
    const o = s << 4;
    sF[o + S_CREDIT] = Infinity;
    sF[o + S_LIMIT] = Infinity;
    sF[o + S_TOLD] = -1;
    sF[o + S_SINCE] = 0;
    sF[o + S_ACTT] = -1;
    sF[o + S_ACTKEY] = 0;
  }

  /** Stream `s` (active position `i`) has no transfer left: it leaves the caps' order and the active set. */
  private closeStream(s: number, i: number): void {
    this.sF[(s << 4) + S_CREDIT] = Infinity; // a stream that went idle starts afresh at its sender share
    this.untell(s);
    this.unsort(s);
    this.deactivate(i);
    this.capsMoved = true;
  }

  protected override dropStream(s: number, i: number): void {
    this.closeStream(s, i);
    for (let k = 0; k < this.nPend; k++) this.inPend[this.pend[k]!] = 0;
    this.nPend = 0;
    this.nNews = 0;
    if (this.nAct === 0) this.idleNow();
  }

  /** No stream left: the sums start afresh. */
  private idleNow(): void {
    this.load = 0;
    this.nPos = 0;
    this.level = NaN;
  }

  /** Stream `s` no longer counts its told rate in the load (it is told again, or leaves). */
  private untell(s: number): void {
    const sF = this.sF;
    const t = sF[(s << 4) + S_TOLD]!;
    if (t > 0) {
      this.load -= t;
      this.nPos--;
    }
    sF[(s << 4) + S_TOLD] = -1;
  }

  /** Slot `s`'s first entry is its new head: nothing of it sent yet, at the host's clock. */
  private head(s: number): void {
    const h = this.first[s]!;
    const sF = this.sF;
    const o = s << 4;
    sF[o + S_SENT] = 0;
    sF[o + S_BYTES] = this.eF[(h << 1) + E_BYTES]!; // (a sender's entry: eSh 1)
    this.sI[(s << 5) + SI_JOB] = this.eI[(h << 2) + EI_JOB]!;
    sF[o + S_ANCHOR] = this.host.now;
    this.timeEnd(s);
  }

  /**
   * Slot `s`'s head end at its rate, `anchor + (bytes - sent) / rate`: the expression the timer's
   * pass computed per stream at every settle, from the same columns, so the same value. And a time
   * before which the head cannot be found done (a remainder within eps(bytes): see finish): its end
   * less four times that slack at its rate and a relative 1e-9 of the time, far more than the
   * rounding of either computation (a few units in the last place), so a settle or a quiet check
   * before it skips the head's check and decides as that check would.
   */
  private timeEnd(s: number): void {
    const sF = this.sF;
    const o = s << 4;
    const r = sF[o + S_RATE]!;
    const b = sF[o + S_BYTES]!;
    const left = b - sF[o + S_SENT]!;
    if (r > 0) {
      const t = sF[o + S_ANCHOR]! + left / r;
      sF[o + S_END] = t;
      sF[o + S_DONE] = t - ((4 * eps(b)) / r + 1e-9 * Math.abs(t));
    } else {
      sF[o + S_END] = Infinity;
      sF[o + S_DONE] = left > eps(b) ? Infinity : -Infinity;
    }
  }

  /** The rate of the next {@link item} (a field: a float argument to a call not inlined is boxed). */
  protected itemRate = DOUBLE;

  /** A news item for transfer `job` of stream `key`, at rate `itemRate`. */
  protected item(job: number, kind: number, key: number): void {
    const n = this.nNews;
    if (n === this.nJob.length) {
      this.nJob = grown(this.nJob, 2 * n);
      this.nKind = grown(this.nKind, 2 * n);
      this.nRate = grown(this.nRate, 2 * n);
      this.nKey = grown(this.nKey, 2 * n);
    }
    this.nJob[n] = job;
    this.nKind[n] = kind;
    this.nRate[n] = this.itemRate;
    this.nKey[n] = key;
    this.nNews = n + 1;
  }

  /** Stream `s` is looked at by the next settle (it started, or its cap may have moved). */
  private pending(s: number): void {
    if (this.inPend[s]) return;
    this.inPend[s] = 1;
    if (this.nPend === this.pend.length) this.pend = grown(this.pend, 2 * this.nPend);
    this.pend[this.nPend++] = s;
  }

  /**
   * Add a job to stream `key` (destination rank * QP_SLOTS + qp) at the host's clock; a work
   * request's stream (`wr`) runs at most at the queue pair's rate limit (`qpLimit`).
   */
  enqueue(job: number, key: number, wr: boolean): void {
    const s = this.slot(key);
    const lim = wr ? this.qpLimit : Infinity;
    const sF = this.sF; // (the slot is made: the record is there)
    if (sF[(s << 4) + S_LIMIT] !== lim) {
      sF[(s << 4) + S_LIMIT] = lim;
      if (this.on[s]) this.pending(s); // its cap is read again at the next settle
    }
    this.push(s, this.entry(job));
    if (this.on[s]) return; // queued behind the head: nothing changes now
    this.advance();
    this.start(s);
    this.touch();
  }

  /**
   * A credit for stream `key` arrived at the host's clock, the level `levels[i]`, sent under ordering
   * key `eventKeys[i]`: a stream not active then (active only from a later event of the instant)
   * drops it, wherever in the instant it is applied. (The level and the key, rank * 2^32 + seq,
   * are read from their columns here: floats passed to a call that V8 does not inline are boxed.)
   */
  credit(key: number, levels: Float64Array, i: number, eventKeys: Float64Array): void {
    const time = this.host.now;
    const level = levels[i]!;
    const eventKey = eventKeys[i]!;
    const s = this.find(key);
    const sF = this.sF;
    const o = s << 4;
    if (s === NONE || !this.on[s] || sF[o + S_CREDIT] === level || (sF[o + S_ACTT] === time && sF[o + S_ACTKEY]! > eventKey)) return;
    // A cap that neither binds now nor bound before changes no rate: keep it for later.
    const r = sF[o + S_RATE]!;
    if (level >= r && sF[o + S_CREDIT]! > r * (1 + 1e-12) && !this.dirty) {
      sF[o + S_CREDIT] = level;
      this.pending(s);
      // A quiet timer still to come would settle with this cap (rates held within the send
      // resolution may move then): it is an ordinary timer again.
      if (this.quietAt >= time && this.quietAt < Infinity) {
        this.timerAt = this.quietAt;
        this.quietAt = Infinity;
        this.host.timer(this);
      }
      return;
    }
    this.advance();
    sF[o + S_CREDIT] = level;
    this.pending(s);
    this.touch();
  }

  /** Changes of one instant are settled together, once, at its end. */
  private touch(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.host.settleLater(this);
  }

  /**
   * Stream `s` starts at the host's clock (read here, not passed: a float argument to a call that V8
   * does not inline is boxed).
   */
  private start(s: number): void {
    const time = this.host.now;
    const sF = this.sF;
    const o = s << 4;
    sF[o + S_ACTT] = time;
    sF[o + S_ACTKEY] = this.host.eventKey();
    sF[o + S_TOLD] = -1;
    sF[o + S_SINCE] = time;
    this.head(s);
    this.activate(s);
    this.pending(s);
  }

  /** The port's clock: its busy time and bytes at its load (the heads are stepped lazily). */
  protected advanceBy(): void {
    this.charged = this.load;
    this.account();
  }

  // --- The order of the caps ---

  /**
   * The cap {@link place} places (a field: the settle's calls pass no float, which would be boxed
   * where V8 does not inline the call).
   */
  private placing = DOUBLE;

  /** Where (cap `placing`, slot `s`) goes in `srt`: the first place not before it. */
  private place(s: number): number {
    const { srt, sF } = this;
    const d = this.placing;
    let lo = 0;
    let hi = this.nSrt;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      const q = srt[m]!;
      const dq = sF[(q << 4) + S_DEM]!;
      if (dq < d || (dq === d && q < s)) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  private unsort(s: number): void {
    if (!this.inSrt[s]) return;
    this.placing = this.sF[(s << 4) + S_DEM]!;
    const k = this.place(s);
    this.srt.copyWithin(k, k + 1, this.nSrt);
    this.nSrt--;
    this.inSrt[s] = 0;
  }

  /** Stream `s` takes its cap, the lower of its credit and its limit, in the order (false: it had it already). */
  private sort(s: number): boolean {
    const d = Math.min(this.sF[(s << 4) + S_CREDIT]!, this.sF[(s << 4) + S_LIMIT]!);
    if (this.inSrt[s]) {
      const old = this.sF[(s << 4) + S_DEM]!;
      if (old === d) return false;
      // Moved from its place to the new one: only the streams between shift (the same order as
      // taking it out and putting it back).
      this.placing = old;
      const k0 = this.place(s);
      this.placing = d;
      const k1 = this.place(s); // (counts `s` itself when its old cap is below `d`)
      this.sF[(s << 4) + S_DEM] = d;
      const srt = this.srt;
      if (k1 > k0) {
        srt.copyWithin(k0, k0 + 1, k1);
        srt[k1 - 1] = s;
      } else {
        srt.copyWithin(k1 + 1, k1, k0);
        srt[k1] = s;
      }
      return true;
    }
    this.placing = d;
    const k = this.place(s);
    this.sF[(s << 4) + S_DEM] = d;
    this.srt.copyWithin(k + 1, k, this.nSrt);
    this.srt[k] = s;
    this.nSrt++;
    this.inSrt[s] = 1;
    return true;
  }

  /**
   * Water-filling: capacity shared equally, streams capped below their share keep their cap. The
   * walk of {@link PortStats.fillLevels} over the caps in ascending order (its floating-point path
   * depends only on the sorted values, so the level is the same to the last bit); a stream's
   * max-min rate is then min(cap, level). Sets `level` (a float returned by a call V8 does not
   * inline would be boxed).
   */
  private fill(): void {
    const n = this.nSrt;
    const capacity = this.bytesPerUs;
    const { srt, sF } = this;
    const min = sF[(srt[0]! << 4) + S_DEM]!;
    // Nobody capped, or every cap at least the equal share: the equal share.
    const equal = capacity / n;
    if (min === Infinity || min >= equal) {
      this.level = equal;
      return;
    }
    let rem = capacity;
    let share = capacity;
    for (let k = 0; ; k++) {
      share = rem / (n - k);
      const dk = sF[(srt[k]! << 4) + S_DEM]!;
      if (dk < share && k < n - 1) rem -= dk;
      else break;
    }
    this.level = share;
  }

  // --- The settle ---

  /**
   * Stream `s` at active position `i`, at the host's clock: finish what its head sent (news), start
   * the next transfer; false when it left (its last transfer done).
   */
  private finish(s: number, i: number): boolean {
    const time = this.host.now;
    const { sF, sI, key } = this;
    for (;;) {
      const dt = time - sF[(s << 4) + S_ANCHOR]!;
      const v = dt > 0 ? sF[(s << 4) + S_SENT]! + sF[(s << 4) + S_RATE]! * dt : sF[(s << 4) + S_SENT]!;
      if (sF[(s << 4) + S_BYTES]! - v > eps(sF[(s << 4) + S_BYTES]!)) return true;
      const job = sI[(s << 5) + SI_JOB]!;
      this.itemRate = 0;
      if (sF[(s << 4) + S_TOLD]! < 0) this.item(job, NEWS_START, key[s]!);
      else if (this.recording) this.host.rateSegment?.(this, job, key[s]!, sF[(s << 4) + S_SINCE]!, time, sF[(s << 4) + S_TOLD]!);
      this.item(job, NEWS_DONE, key[s]!);
      const h = this.first[s]!;
      this.shift(s);
      this.release(h);
      if (this.size[s]! > 0) {
        this.untell(s);
        sF[(s << 4) + S_SINCE] = time;
        this.head(s);
        this.pending(s); // its rate is decided anew
        continue; // the new head may be empty too
      }
      this.closeStream(s, i);
      return false;
    }
  }

  /** Finish what is done, start what follows, reallocate, tell the receivers, re-arm. */
  settle(): void {
    const time = this.host.now;
    this.dirty = false;
    this.advance();
    // 1. The heads that may be done: every stream (one that leaves moves the last into its place).
    // (A head before its `doneFrom` is not done: its check is skipped.)
    const sF = this.sF;
    for (let i = 0; i < this.nAct; ) {
      const s = this.act[i]!;
      if (time < sF[(s << 4) + S_DONE]! || this.finish(s, i)) i++;
    }
    const n = this.nAct;
    // 2. The caps of the streams started or changed.
    const { pend, inPend } = this;
    for (let k = 0; k < this.nPend; k++) {
      const s = pend[k]!;
      inPend[s] = 0;
      if (!this.on[s]) continue;
      if (this.sort(s)) this.capsMoved = true;
    }
    this.nPend = 0;
    if (n === 0) {
      this.idleNow();
      this.nextAt = Infinity;
      this.finishSettle();
      return;
    }
    // 3. The level (when a cap moved), the rates and the holds.
    if (this.capsMoved || this.level !== this.level) {
      this.fill();
      this.capsMoved = false;
    }
    this.settleAll();
    if (this.nPos === 0) this.load = 0;
    this.finishSettle();
  }

  /**
   * The hold decided over every stream, in position order, as the old pass did (the sum of the rates
   * kept and new, in that order), and the rates that change told; with the earliest end of a head
   * (`nextAt`), taken in the same pass once each stream's rate is final (a minimum: exact in any order).
   */
  private settleAll(): void {
    const { act, sF } = this;
    const n = this.nAct;
    const level = this.level;
    let sum = 0;
    let any = false;
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      const di = sF[(s << 4) + S_DEM]!;
      const r = di < level ? di : level;
      sF[(s << 4) + S_NEW] = r;
      const t = sF[(s << 4) + S_TOLD]!;
      const k = t >= 0 && Math.abs(r - t) <= SEND_RESOLUTION * t && t <= di;
      sF[(s << 4) + S_KEEP] = k ? 1 : 0;
      if (k) any = true;
      sum += k ? t : r;
    }
    const hold = any && !(sum > this.bytesPerUs);
    let total = 0;
    let next = Infinity;
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      const r = hold && sF[(s << 4) + S_KEEP] ? sF[(s << 4) + S_TOLD]! : sF[(s << 4) + S_NEW]!;
      total += r;
      // (Told only when it is the new rate, `S_NEW`: tell reads it there, and the clock from the host.)
      if (r !== sF[(s << 4) + S_TOLD]) this.tell(s);
      const t = sF[(s << 4) + S_END]!;
      if (t < next) next = t;
    }
    this.load = total;
    this.nextAt = next;
  }

  /** The earliest end of a head after the settle in progress (see {@link settleAll}; a field: a float return would be boxed). */
  private nextAt = Infinity;

  /**
   * Stream `s`'s rate becomes its new rate (`S_NEW`) at the host's clock, told to its receiver (no
   * float arguments: they would be boxed where V8 does not inline the call).
   */
  private tell(s: number): void {
    const time = this.host.now;
    const sF = this.sF;
    const r = sF[(s << 4) + S_NEW]!;
    // Its head up to now at the old rate, then from now at the new one.
    const dt = time - sF[(s << 4) + S_ANCHOR]!;
    if (dt > 0) sF[(s << 4) + S_SENT] = sF[(s << 4) + S_SENT]! + sF[(s << 4) + S_RATE]! * dt;
    sF[(s << 4) + S_ANCHOR] = time;
    const job = this.sI[(s << 5) + SI_JOB]!;
    const t = sF[(s << 4) + S_TOLD]!;
    this.itemRate = r;
    if (t < 0) this.item(job, NEWS_START, this.key[s]!);
    else {
      if (this.recording) this.host.rateSegment?.(this, job, this.key[s]!, sF[(s << 4) + S_SINCE]!, time, t);
      this.item(job, NEWS_RATE, this.key[s]!);
    }
    this.untell(s);
    sF[(s << 4) + S_TOLD] = r;
    if (r > 0) {
      this.load += r;
      this.nPos++;
    }
    sF[(s << 4) + S_RATE] = r;
    sF[(s << 4) + S_SINCE] = time;
    this.timeEnd(s);
  }

  /** Tell the news, the busy period, re-arm. */
  private finishSettle(): void {
    const time = this.host.now;
    const count = this.nNews;
    if (count > 0) {
      this.host.news(this, count);
      this.nNews = 0;
    }
    const total = this.load;
    if (total > this.maxLoad) this.maxLoad = total;
    if (total > 0 && this.busyStart < 0) this.busyStart = time;
    if (total === 0 && this.busyStart >= 0) {
      this.busyEnd = time;
      this.closeBusy();
    }
    let next = this.nextAt;
    // (timerAfter only when it moves the time: a float argument to a call not inlined is boxed.)
    if (next !== Infinity && !(next > time)) next = timerAfter(time, next);
    if (next < this.timerAt) {
      this.timerAt = next;
      this.host.timer(this);
    } else if (next > this.timerAt) this.quiet();
  }

  /**
   * The timer is early: set for a change that no longer comes then (rates fell since). Its settle
   * would change nothing but the clock's steps (nothing ends there, and the rates, caps and credits
   * stay what they are until the port changes), then re-arm for the next change as seen from its
   * time. That is done here instead, without an event: the port keeps the early time (`quietAt`),
   * its next advance steps through it as the settle would have, and the timer goes straight to
   * the change after it. If anything changes the port before then, the early timer is restored and
   * the port settles as before. Every head is checked as that settle would check it.
   */
  private quiet(): void {
    const at = this.timerAt;
    const { act, sF } = this;
    for (let k = 0, m = this.nAct; k < m; k++) {
      const s = act[k]!;
      if (!(sF[(s << 4) + S_RATE]! > 0) || at < sF[(s << 4) + S_DONE]!) continue;
      const dt = at - sF[(s << 4) + S_ANCHOR]!;
      const v = dt > 0 ? sF[(s << 4) + S_SENT]! + sF[(s << 4) + S_RATE]! * dt : sF[(s << 4) + S_SENT]!;
      if (sF[(s << 4) + S_BYTES]! - v <= eps(sF[(s << 4) + S_BYTES]!)) return; // it would end a transfer there: keep the timer
    }
    // (The heads' ends are as the settle that calls this left them.)
    let next = this.nextAt;
    if (next !== Infinity && !(next > at)) next = timerAfter(at, next);
    this.quietAt = at;
    this.timerAt = next;
    this.host.timer(this);
  }
}

/**

/**
 * A receiver slot's record (see RecvPort.rF): the places of its fields, in doubles from `s << 4`.
 * The first 64 bytes hold what a news item, a stream's step and its examination read: when its
 * entries were last stepped, its rate, its FIFO's ends, its active position and flags, the sum of
 * its transfers' arrival rates, its demand, its bytes queued, the credit last sent.
 */
const R_ANCHOR = 0;
const R_RATE = 1;
const R_ARR = 4;
const R_DEM = 5;
const R_QUEUED = 6;
const R_CREDIT = 7;
/** Int32 from `s << 5`: the FIFO's first and last entry (NONE when empty), the active position; its stream key. */
const RI_FIRST = 4;
const RI_LAST = 5;
const RI_POS = 6;
const RI_KEY = 16;
/**
 * Bytes from `s << 7`: active (1); 1 in the touched list, 2 examined in the settle in progress;
 * served below its arrival rate; its arrival rate or last credit moved since it was last indexed.
 */
const RB_ON = 28;
const RB_MARK = 29;
const RB_SHORT = 30;
const RB_REINDEX = 31;

/**
 * The receiver port, evaluated lazily: each active stream's transfers are exact at the stream's own
 * last change (its `anchor`), and a stream is stepped to the clock, examined and re-timed only when
 * something reaches it: news of its sender, a rate the water-filling changed, its own next change
 * (a transfer served, a queue empty: per-stream times in a heap whose minimum is the port's timer),
 * or a queue that may start (a stream served slower than it arrives, examined at every settle as
 * before). A settle, a news item and a quiet check cost time in the streams that change then, not
 * in the port's active streams, but for the O(n) pass of a water-filling, which runs only when a
 * demand changes.
 *
 * A stream's own fields are one record per slot (`rF`), so a news item or a stream's step reads
 * one record, not a line of each of a dozen columns; the water-filling's passes over every active
 * stream read the base class's dense columns by slot instead (`want`: the demand, `rate`: the
 * rate; each written beside the record where it changes), a few lines for all the streams.
 *
 * The model is the one the port had when every settle stepped every stream (same arrivals, FIFO
 * service, demands, shares, credits, timers and quiet timers, deliveries in the same order); a
 * stream is stepped in one step from its last change instead of in one step per instant of the
 * port, and the port's load is kept as a sum rather than summed per step, so floats round
 * differently (docs/runtime.md, "Receiver ports that work per change"). The port of main at
 * 99d002b, which stepped every stream, is kept as the reference of the tests.
 */
export class RecvPort extends PortStats<RecvHost> {
  /** The fair level last computed (bytes/us). */
  level = DOUBLE;
  /** Stream keys to credit, filled by a settle for the host (reused). */
  private readonly keys = new NumList(new Float64Array(16), (n) => new Float64Array(n));
  recording = false;
  /**
   * Work counters (cumulative): streams stepped or examined (news, settles, quiet checks, the
   * water-filling's changed rates), and settles. Tests assert the work per news with them.
   */
  streamVisits = 0;
  settles = 0;
  /** The fair level of the last water-filling; the shares are stale (streams came or went). */
  private fair = DOUBLE;
  private sharesStale = true;
  /** A demand changed in the settle in progress. */
  private demandsMoved = false;
  /** The active streams by the levels a credit would be sent to them at: `-lo` and `hi` (see index). */
  private readonly lows = new SlotHeap();
  private readonly highs = new SlotHeap();
  /** Sum of the active streams' rates (bytes/us), summed at each water-filling. */
  private total = DOUBLE;
  /** Streams with bytes queued (demand: all they can get), and served below their arrival rate. */
  private nQueued = 0;
  private nShort = 0;
  /**
   * Each slot's own fields, one record of 16 doubles per slot at `s << 4` (the places: R_*, RI_*,
   * RB_* above), read through three views of one buffer.
   */
  private rF = new Float64Array(0);
  private rI = new Int32Array(0);
  private rB = new Uint8Array(0);
  /** The streams touched since the last settle (news, due, growing, rate moved): `touched[0..nTouched)`. */
  private touched = new Int32Array(16);
  private nTouched = 0;
  /** Per active position: 1 + the touched slot there while {@link sortTouched} orders them (else 0). */
  private byPos = new Int32Array(16);
  /** Streams with no queue yet served below their arrival rate (a queue starts): `growing[0..nGrowing)`. */
  private growing = new Int32Array(16);
  private nGrowing = 0;
  /**
   * How long before its time a stream's own change can be found done (a remainder under eps() is
   * served, a queue under EPS1 is empty): the largest since the port was last idle. A settle
   * examines every stream due within it, as the pass over every stream found them.
   */
  private slack = DOUBLE;
  /** Each stream's next change of its own. */
  private readonly due = new SlotHeap();
  /** A receiver's entry is a record of 8 doubles (64 bytes): `e << 3` (the loops below write the shifts out). */
  protected override readonly eSh: number = 3;

  constructor(owner: number, index: number, bytesPerUs: number, jobs: FlowJobs, host: RecvHost) {
    super(owner, index, bytesPerUs, jobs, host);
    // Declared DOUBLE (double from the first port on: see field-init.ts), start at 0.
    this.level = this.fair = this.total = this.slack = this.telling = this.quietAt_ = 0;
  }

  get creditKeys(): Float64Array { return this.keys.a; }

  protected override grow(cap: number): void {
    super.grow(cap);
    this.rF = grown(this.rF, cap << 4);
    this.rI = new Int32Array(this.rF.buffer);
    this.rB = new Uint8Array(this.rF.buffer);
    this.due.grow(cap);
    this.lows.grow(cap);
    this.highs.grow(cap);
  }

  protected init(s: number): void {
    const o = s << 4;
    this.rF[o + R_ARR] = 0;
    this.rF[o + R_CREDIT] = -1;
    this.rI[(s << 5) + RI_FIRST] = NONE;
    this.rI[(s << 5) + RI_LAST] = NONE;
    this.rI[(s << 5) + RI_KEY] = this.key[s]!;
  }

  protected override headOf(s: number): number {
    return this.rI[(s << 5) + RI_FIRST]!;
  }

  /** Append entry `e` to slot `s`'s FIFO (the record's ends: a receiver keeps no count). */
  protected override push(s: number, e: number): void {
    const { eI, rI } = this;
    const o = s << 5;
    eI[(e << 4) + EI_NEXT] = NONE;
    if (rI[o + RI_FIRST] === NONE) rI[o + RI_FIRST] = e;
    else eI[(rI[o + RI_LAST]! << 4) + EI_NEXT] = e;
    rI[o + RI_LAST] = e;
  }

  /** Take slot `s`'s first entry out of its FIFO (the caller releases it). */
  protected override shift(s: number): void {
    const rI = this.rI;
    const o = s << 5;
    const next = this.eI[(rI[o + RI_FIRST]! << 4) + EI_NEXT]!;
    rI[o + RI_FIRST] = next;
    if (next === NONE) rI[o + RI_LAST] = NONE;
  }

  protected override activate(s: number): void {
    super.activate(s);
    const o = s << 4;
    this.rB[(s << 7) + RB_ON] = 1;
    this.rI[(s << 5) + RI_POS] = this.nAct - 1;
    this.rF[o + R_ANCHOR] = this.host.now;
    this.rF[o + R_RATE] = 0;
    this.rate[s] = 0;
    this.rF[o + R_DEM] = NaN; // a demand it never had: the shares are computed again
    this.want[s] = NaN;
    this.rF[o + R_QUEUED] = 0;
    this.rB[(s << 7) + RB_SHORT] = 0;
  }

  protected override deactivate(i: number): void {
    const moved = this.act[this.nAct - 1]!;
    this.rB[(this.act[i]! << 7) + RB_ON] = 0;
    super.deactivate(i);
    if (i < this.nAct) this.rI[(moved << 5) + RI_POS] = i;
  }

  /** Stream `s` (active position `i`) has no transfer left: it leaves every index and the active set. */
  private closeStream(s: number, i: number): void {
    const o = s << 4;
    this.rF[o + R_ARR] = 0;
    this.rF[o + R_CREDIT] = -1;
    if (this.rF[o + R_DEM] === Infinity) this.nQueued--;
    if (this.rB[(s << 7) + RB_SHORT]) this.nShort--;
    this.rB[(s << 7) + RB_SHORT] = 0;
    this.due.remove(s);
    this.lows.remove(s);
    this.highs.remove(s);
    this.deactivate(i);
    this.sharesStale = true;
  }

  protected override dropStream(s: number, i: number): void {
    // As examine() for a stream left empty, then settle() with no stream left.
    this.closeStream(s, i);
    const rB = this.rB;
    for (let k = 0; k < this.nSlots; k++) rB[(k << 7) + RB_MARK] = 0;
    this.nTouched = 0;
    this.nGrowing = 0;
    this.keys.n = 0;
    this.total = 0;
    this.slack = 0;
  }

  /** Stream `s` is examined at the next settle. */
  private touch(s: number): void {
    const m = (s << 7) + RB_MARK;
    if (this.rB[m] !== 0) return;
    this.rB[m] = 1;
    if (this.nTouched === this.touched.length) this.touched = grown(this.touched, 2 * this.nTouched);
    this.touched[this.nTouched++] = s;
  }

  /**
   * Apply news from a sender at the host's clock (settled at the end of the instant): job `j` of
   * stream `key`, at the rate `rates[i]`.
   */
  news(j: number, kind: number, rates: Float64Array, i: number, key: number): void {
    const rate = rates[i]!;
    this.advance();
    if (!this.dirty) {
      this.dirty = true;
      this.host.settleLater(this);
    }
    const s = this.slot(key);
    const o = s << 4;
    if (this.rB[(s << 7) + RB_ON]) this.step(s);
    const rF = this.rF;
    if (kind === NEWS_START) {
      // A stream's jobs arrive one after another (see step).
      const l = this.rI[(s << 5) + RI_LAST]!;
      if (l !== NONE && this.eF[(l << 3) + E_ALL] === 0) throw new Error(`port ${this.owner}.${this.index}: stream ${key} starts a job before the previous one has arrived`);
      const e = this.entry(j); // (may grow the entry records)
      this.jobs.recvEntry[j] = e;
      const eF = this.eF;
      const b = e << 3;
      eF[b + E_ARRIVED] = 0;
      eF[b + E_SERVED] = 0;
      eF[b + E_RATE] = rate;
      eF[b + E_ALL] = 0;
      this.push(s, e);
      rF[o + R_ARR] = rF[o + R_ARR]! + rate;
      if (!this.rB[(s << 7) + RB_ON]) {
        this.activate(s);
        this.sharesStale = true;
      }
    } else if (kind === NEWS_RATE) {
      const b = this.jobs.recvEntry[j]! << 3;
      const eF = this.eF;
      rF[o + R_ARR] = rF[o + R_ARR]! + (rate - eF[b + E_RATE]!);
      eF[b + E_RATE] = rate;
    } else {
      const b = this.jobs.recvEntry[j]! << 3;
      const eF = this.eF;
      rF[o + R_ARR] = rF[o + R_ARR]! - eF[b + E_RATE]!;
      eF[b + E_RATE] = 0;
      eF[b + E_ARRIVED] = eF[b + E_BYTES]!;
      eF[b + E_ALL] = 1;
    }
    if (Math.abs(rF[o + R_ARR]!) < 1e-9) rF[o + R_ARR] = 0;
    this.rB[(s << 7) + RB_REINDEX] = 1;
    this.touch(s);
  }

  /** The port's clock: its busy time and bytes at the load of its streams (stepped lazily). */
  protected advanceBy(): void {
    this.charged = this.total;
    this.account();
  }

  /**
   * Step stream `s`'s transfers from its anchor to the host's clock at its rate: arrivals, then
   * service first in first out (one step of what the port's every instant used to do).
   */
  private step(s: number): void {
    const time = this.host.now;
    const o = s << 4;
    const rF = this.rF;
    const dt = time - rF[o + R_ANCHOR]!;
    this.streamVisits++;
    if (dt <= 0) return;
    rF[o + R_ANCHOR] = time;
    const { eF, eI } = this;
    let give = rF[o + R_RATE]! * dt;
    // Bytes arrive for the stream's last job only: its sender sends one job at a time, and the
    // news of a job's end comes before the next one's start, so every earlier job has all its bytes.
    const jl = this.rI[(s << 5) + RI_LAST]!;
    if (jl !== NONE) {
      const b = jl << 3;
      if (eF[b + E_ALL] === 0 && eF[b + E_RATE]! > 0) eF[b + E_ARRIVED] = Math.min(eF[b + E_BYTES]!, eF[b + E_ARRIVED]! + eF[b + E_RATE]! * dt);
    }
    for (let j = this.rI[(s << 5) + RI_FIRST]!; j !== NONE && give > 0; j = eI[(j << 4) + EI_NEXT]!) {
      const b = j << 3;
      const take = Math.min(give, eF[b + E_ARRIVED]! - eF[b + E_SERVED]!);
      if (take > 0) {
        eF[b + E_SERVED] = eF[b + E_SERVED]! + take;
        give -= take;
      }
    }
  }

  /**
   * Examine stream `s` at active position `i` (stepped to the clock): deliver what is served; a
   * stream left empty leaves (false); else its bytes queued and its demand, all it can get with
   * bytes queued, else its arrival rate.
   */
  private examine(s: number, i: number): boolean {
    this.step(s);
    const { eF, eI, rI } = this;
    const fo = (s << 5) + RI_FIRST;
    for (let h = rI[fo]!; h !== NONE; h = rI[fo]!) {
      const b = h << 3;
      if (eF[b + E_ALL] === 0 || eF[b + E_BYTES]! - eF[b + E_SERVED]! > eps(eF[b + E_BYTES]!)) break;
      const job = eI[(h << 4) + EI_JOB]!;
      this.shift(s);
      this.release(h);
      this.host.served(this, job);
    }
    if (rI[fo] === NONE) {
      this.closeStream(s, i);
      return false;
    }
    const rF = this.rF;
    const o = s << 4;
    let q = 0;
    for (let j = rI[fo]!; j !== NONE; j = eI[(j << 4) + EI_NEXT]!) q += eF[(j << 3) + E_ARRIVED]! - eF[(j << 3) + E_SERVED]!;
    rF[o + R_QUEUED] = q;
    const di = q > EPS1 ? Infinity : rF[o + R_ARR]!;
    const was = rF[o + R_DEM]!;
    if (di !== was) {
      if (was === Infinity) this.nQueued--;
      if (di === Infinity) this.nQueued++;
      rF[o + R_DEM] = di;
      this.want[s] = di;
      this.demandsMoved = true;
    }
    return true;
  }

  /**
   * Sort the touched streams (all active) by active position: by insertion when they are a few,
   * else through a scratch column by position (in time in the active streams' number, never worse,
   * reading no stream's record but the touched ones').
   */
  private sortTouched(): void {
    const { touched: t, rI } = this;
    const nt = this.nTouched;
    if (nt * nt > 8 * this.nAct) {
      if (this.byPos.length < this.nAct) this.byPos = new Int32Array(this.act.length);
      const byPos = this.byPos;
      for (let k = 0; k < nt; k++) byPos[rI[(t[k]! << 5) + RI_POS]!] = t[k]! + 1;
      let m = 0;
      for (let i = 0, n = this.nAct; i < n; i++) {
        const v = byPos[i]!;
        if (v !== 0) {
          t[m++] = v - 1;
          byPos[i] = 0;
        }
      }
      return;
    }
    for (let k = 1; k < nt; k++) {
      const s = t[k]!;
      const p = rI[(s << 5) + RI_POS]!;
      let j = k - 1;
      if (!(rI[(t[j]! << 5) + RI_POS]! > p)) continue;
      do {
        t[j + 1] = t[j]!;
        j--;
      } while (j >= 0 && rI[(t[j]! << 5) + RI_POS]! > p);
      t[j + 1] = s;
    }
  }

  /** Deliver what is served, reallocate, tell senders the new level, re-arm. */
  settle(): void {
    const time = this.host.now;
    this.dirty = false;
    this.settles++;
    this.advance();
    const act = this.act;
    // The streams that may change now: news, their own change due, a queue that may start.
    const due = this.due;
    // (Within its slack a stream's change counts as now: a remainder under eps() is served.)
    const reach = time + this.slack;
    while (due.size > 0 && due.minTime() <= reach) {
      const s = due.top();
      due.remove(s);
      this.touch(s);
    }
    for (let g = 0; g < this.nGrowing; g++) this.touch(this.growing[g]!);
    this.nGrowing = 0;
    // Examine them in the order of their active positions, as a pass over every stream did: one
    // that leaves moves the last into its place, which that pass examined next.
    this.demandsMoved = false;
    this.sortTouched();
    const touched = this.touched; // (read after the touches above, which may have grown it)
    const rB = this.rB; // (the records do not grow in a settle)
    let live = 0;
    for (let k = 0; k < this.nTouched; k++) {
      let s = touched[k]!;
      if (rB[(s << 7) + RB_MARK] !== 1) continue;
      for (;;) {
        rB[(s << 7) + RB_MARK] = 2;
        const i = this.rI[(s << 5) + RI_POS]!;
        if (this.examine(s, i)) {
          touched[live++] = s; // (live <= k: the list is compacted as it goes)
          break;
        }
        rB[(s << 7) + RB_MARK] = 0;
        if (i >= this.nAct) break;
        s = act[i]!;
        if (rB[(s << 7) + RB_MARK] !== 1) break;
      }
    }
    this.nTouched = live;
    const n = this.nAct;
    if (n === 0) {
      for (let k = 0; k < live; k++) rB[(touched[k]! << 7) + RB_MARK] = 0;
      this.nTouched = 0;
      this.total = 0;
      this.slack = 0;
      if (this.busyStart >= 0) {
        this.busyEnd = time;
        this.closeBusy();
      }
      return;
    }
    const rF = this.rF;
    if (this.demandsMoved || this.sharesStale) {
      // The water-filling (PortStats.waterFill's walk and rates, in one pass with the rates that
      // move: the same values in the same order, without copies of the demands and old rates),
      // over the dense columns of demands and rates by slot: a stream's record only where its
      // rate moves.
      const { want, rate } = this;
      let min = Infinity;
      for (let i = 0; i < n; i++) {
        const di = want[act[i]!]!;
        if (di < min) min = di;
      }
      this.fillMin = min;
      this.fillLevels();
      const share = this.share;
      this.fair = share;
      this.sharesStale = false;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const s = act[i]!;
        this.grant(s);
        const r = this.granted;
        total += r;
        if (r === rate[s]) continue;
        rate[s] = r;
        if (rB[(s << 7) + RB_MARK] !== 0) {
          rF[(s << 4) + R_RATE] = r;
          continue;
        }
        // A rate that moves: the stream's bytes up to now at its old rate, then its queue now.
        this.step(s);
        rF[(s << 4) + R_RATE] = r;
        this.queueNow(s);
        rB[(s << 7) + RB_MARK] = 2;
        if (this.nTouched === this.touched.length) this.touched = grown(this.touched, 2 * this.nTouched);
        this.touched[this.nTouched++] = s;
      }
      this.total = total;
    }
    // Each stream examined: its next change and whether its queue may start.
    const tl = this.touched;
    const nt = this.nTouched;
    const { eF, rI } = this;
    for (let k = 0; k < nt; k++) {
      const s = tl[k]!;
      const o = s << 4;
      const r = rF[o + R_RATE]!;
      const a = rF[o + R_ARR]!;
      const q = rF[o + R_QUEUED]!;
      const sh = r < a * (1 - 1e-12) ? 1 : 0;
      const was = rB[(s << 7) + RB_SHORT]!;
      if (sh !== was) {
        this.nShort += sh - was;
        rB[(s << 7) + RB_SHORT] = sh;
      }
      let t = Infinity;
      let slack = this.slack;
      if (q > EPS1) {
        // A queue served as fast as it fills (to rounding) keeps its bytes until the stream ends.
        if (r - a > 1e-9 * r) {
          t = time + q / (r - a);
          if (EPS1 / (r - a) > slack) slack = EPS1 / (r - a);
        }
      } else if (r < a) this.grows(s);
      const b = rI[(s << 5) + RI_FIRST]! << 3;
      if (eF[b + E_ALL] !== 0 && r > 0) {
        const th = time + (eF[b + E_BYTES]! - eF[b + E_SERVED]!) / r;
        if (th < t) t = th;
        const e = eps(eF[b + E_BYTES]!) / r;
        if (e > slack) slack = e;
      }
      this.slack = slack;
      due.t = t;
      due.place(s);
    }
    // The credit: the fair level while bytes queue here (saturated), no limit while everything
    // that arrives is served at once (the port is then nobody's bottleneck). Told to every stream
    // when it moves, else to the streams examined (the others were told it already).
    const saturated = this.nQueued > 0 || this.nShort > 0;
    const level = saturated ? this.fair : Infinity;
    this.level = level;
    this.telling = level;
    // Told: the streams examined, and those the level now crosses a line of (see index): strictly,
    // as tell() compares (a stream told this very level sits on its line and is not told again).
    const lows = this.lows;
    lows.t = -level;
    let m = lows.collect(true);
    for (let k = 0; k < m; k++) this.candidate(lows.found[k]!);
    const highs = this.highs;
    highs.t = level;
    m = highs.collect(true);
    for (let k = 0; k < m; k++) this.candidate(highs.found[k]!);
    const nc = this.nTouched;
    const cl = this.touched;
    this.sortTouched();
    for (let k = 0; k < nc; k++) this.tell(cl[k]!);
    // (A stream whose arrival rate and last credit are as when it was last indexed keeps its places.)
    for (let k = 0; k < nc; k++) {
      const s = cl[k]!;
      rB[(s << 7) + RB_MARK] = 0;
      if (rB[(s << 7) + RB_REINDEX]) {
        rB[(s << 7) + RB_REINDEX] = 0;
        this.indexCredit(s);
      }
    }
    this.nTouched = 0;
    const keys = this.keys;
    if (keys.n > 0) {
      this.host.credit(this, keys.n);
      keys.n = 0;
    }
    const total = this.total;
    if (total > this.maxLoad) this.maxLoad = total;
    if (total > 0 && this.busyStart < 0) this.busyStart = time;
    if (total === 0 && this.busyStart >= 0) {
      this.busyEnd = time;
      this.closeBusy();
    }
    let next = due.minTime();
    // (timerAfter only when it moves the time: a float argument to a call not inlined is boxed.)
    if (next !== Infinity && !(next > time)) next = timerAfter(time, next);
    if (next < this.timerAt) {
      this.timerAt = next;
      this.host.timer(this);
    } else if (next > this.timerAt) this.quiet();
  }

  /** Stream `s` is told the level in the settle in progress (once). */
  private candidate(s: number): void {
    const m = (s << 7) + RB_MARK;
    if (this.rB[m] !== 0) return;
    this.rB[m] = 2;
    if (this.nTouched === this.touched.length) this.touched = grown(this.touched, 2 * this.nTouched);
    this.touched[this.nTouched++] = s;
  }

  /**
   * Index stream `s` by the levels {@link tell} would send it a credit at: below `lo` (its last
   * credit and under its arrival rate by the resolution) or above `hi` (past its last credit by the
   * resolution, when it was held there). A level that moves then finds the streams to tell in the
   * two heaps, in time in how many there are. Nothing heard yet: told when examined.
   */
  private indexCredit(s: number): void {
    const o = s << 4;
    const last = this.rF[o + R_CREDIT]!;
    if (last < 0) {
      this.lows.remove(s);
      this.highs.remove(s);
      return;
    }
    const a = this.rF[o + R_ARR]!;
    this.lows.t = -Math.min(last, a * (1 - CREDIT_RESOLUTION));
    this.lows.place(s);
    this.highs.t = last <= a * (1 + SEND_RESOLUTION) ? last * (1 + CREDIT_RESOLUTION) : Infinity;
    this.highs.place(s);
  }

  /** Stream `s`'s bytes queued at its anchor. */
  private queueNow(s: number): void {
    const { eF, eI } = this;
    let q = 0;
    for (let j = this.rI[(s << 5) + RI_FIRST]!; j !== NONE; j = eI[(j << 4) + EI_NEXT]!) q += eF[(j << 3) + E_ARRIVED]! - eF[(j << 3) + E_SERVED]!;
    this.rF[(s << 4) + R_QUEUED] = q;
  }

  /** Stream `s` has no queue and is served below its arrival rate: examined at every settle. */
  private grows(s: number): void {
    if (this.nGrowing === this.growing.length) this.growing = grown(this.growing, 2 * this.nGrowing);
    this.growing[this.nGrowing++] = s;
  }

  /** The level {@link tell} tells (a field: a float argument would be boxed). */
  private telling = DOUBLE;

  /**
   * Tell stream `s`'s sender the level `telling` only when it changes its rate by more than the
   * credit resolution: a level below what it sends, or a higher one when it was held at the old
   * level (to the send resolution: a sender may keep a rate that close under its cap), or nothing
   * heard yet. Telling a stream the same level twice sends nothing the second time.
   */
  private tell(s: number): void {
    const level = this.telling;
    const o = s << 4;
    const rF = this.rF;
    const last = rF[o + R_CREDIT]!;
    const a = rF[o + R_ARR]!;
    if (last < 0 || (level < last && level < a * (1 - CREDIT_RESOLUTION)) || (last <= a * (1 + SEND_RESOLUTION) && level > last * (1 + CREDIT_RESOLUTION))) {
      rF[o + R_CREDIT] = level;
      this.rB[(s << 7) + RB_REINDEX] = 1;
      this.keys.push(this.rI[(s << 5) + RI_KEY]!);
    }
  }

  /**
   * The timer is early (set for a queue to empty or a transfer to be served, which rates that fell
   * since have moved later). As SendPort.quiet: when its settle would change nothing but the
   * clock's steps, pass over it without an event. It would if no transfer is served there and every
   * stream has bytes queued there exactly when it has now (the same demands, so the same shares,
   * level and credits). Every stream's own next change is after it (the heap's minimum is), so
   * only a queue that starts can change something: the streams served below their arrival rate
   * are checked, their bytes there computed as a step to it computes them.
   */
  private quiet(): void {
    const at = this.timerAt;
    if (!(at - this.lastT > 0)) return;
    this.quietAt_ = at;
    for (let g = 0; g < this.nGrowing; g++) if (this.changesAt(this.growing[g]!)) return;
    // The streams whose own change is within its slack of the early time: found done there?
    const due = this.due;
    due.t = at + this.slack;
    const m = due.collect();
    for (let k = 0; k < m; k++) if (this.changesAt(due.found[k]!)) return;
    let next = due.minTime();
    if (next !== Infinity && !(next > at)) next = timerAfter(at, next);
    this.quietAt = at;
    this.timerAt = next;
    this.host.timer(this);
  }

  /** The early time {@link changesAt} looks at (a field: a float argument would be boxed). */
  private quietAt_ = DOUBLE;

  /**
   * Whether a settle at `quietAt_` would find stream `s` changed: a transfer served there, or a
   * queue that starts or ends there (its bytes there computed as a step to it computes them).
   */
  private changesAt(s: number): boolean {
    const at = this.quietAt_;
    const { rF, rI, eF, eI } = this;
    const o = s << 4;
    this.streamVisits++;
    const dt = at - rF[o + R_ANCHOR]!;
    const r = rF[o + R_RATE]!;
    const jl = rI[(s << 5) + RI_LAST]!;
    const bl = jl << 3;
    const arrivedLast = eF[bl + E_ALL] === 0 && eF[bl + E_RATE]! > 0 ? Math.min(eF[bl + E_BYTES]!, eF[bl + E_ARRIVED]! + eF[bl + E_RATE]! * dt) : eF[bl + E_ARRIVED]!;
    let give = r * dt;
    let queued = 0;
    const h = rI[(s << 5) + RI_FIRST]!;
    let headServed = 0;
    for (let j = h; ; j = eI[(j << 4) + EI_NEXT]!) {
      const a = j === jl ? arrivedLast : eF[(j << 3) + E_ARRIVED]!;
      let sv = eF[(j << 3) + E_SERVED]!;
      if (give > 0) {
        const take = Math.min(give, a - sv);
        if (take > 0) {
          sv = sv + take;
          give -= take;
        }
      }
      queued += a - sv;
      if (j === h) headServed = sv;
      if (j === jl) break;
    }
    const bh = h << 3;
    if (eF[bh + E_ALL] !== 0 && !(eF[bh + E_BYTES]! - headServed > eps(eF[bh + E_BYTES]!))) return true; // served there
    return queued > EPS1 !== rF[o + R_QUEUED]! > EPS1; // a queue starts or ends there
  }
}
