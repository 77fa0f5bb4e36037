/**
 * @module
 * Message link sharing: a sender port that serves one transfer (message, work request) at a time
 * at its full rate, taking its streams in turn, one transfer per turn. An option of the link model
 * (`linkSharing: 'message'`), off by default in a cluster (the low-latency benchmark's default): the fluid ports of flow-port.ts share a port's
 * capacity max-min fairly among its streams under receiver credits (docs/hardware.md, "Message link
 * sharing").
 *
 * Why: a NIC or an NVLink port arbitrates between its queue pairs (streams) packet by packet. For
 * messages of one or two packets (the low-latency kernels' ~7 KB per token and expert), serving
 * one message at a time and taking the streams round-robin is that arbitration at message
 * granularity. It costs O(1) per message, where the fluid model re-shares a port of a hundred
 * streams, and re-tells their receivers, at every message's start and end. A backlogged port moves
 * the same bytes per microsecond either way.
 *
 * A receiver port ({@link MessageRecvPort}) sends no credits: what arrives faster than it can take
 * queues in the switch's buffer ahead of it, and it takes the bytes in the order they arrived.
 */
import { NEWS_DONE, NEWS_START, RecvPort, SendPort, timerAfter, type RecvHost, type SendHost } from './flow-port.js';
import type { FlowJobs } from './transfers.js';
import { DOUBLE } from './field-init.js';

/** How link ports share their bandwidth (see {@link MessageSendPort} and docs/hardware.md). */
export type LinkSharing = 'fluid' | 'message';

/** The accepted {@link LinkSharing} values, the default first. */
export const LINK_SHARING_MODES: readonly LinkSharing[] = ['fluid', 'message'];

const NONE = -1;

/**
 * The sender port of message sharing. Its active streams wait in a ring in the order they became
 * active; the port serves the first one's head transfer alone, from its start to its end, then
 * puts that stream back at the ring's end if it has more (its turn comes again after every other
 * waiting stream's) and serves the next. Credits are ignored (none are sent).
 *
 * The rate of a transfer is fixed at its start: the port's capacity, unless every active stream is
 * a queue pair's work-request stream, when it is `min(capacity, active streams x qpLimit)`, the
 * total the fluid port would give the same streams (one queue pair alone runs at its own limit,
 * two or more fill the NIC, as on the reference's 365 / 392 Gb/s).
 *
 * News as the fluid sender tells it: a transfer's start at its rate, its end (with that rate, where
 * the fluid sender tells 0: what stops arriving); no rate changes.
 */
export class MessageSendPort extends SendPort {
  /** The stream being served (NONE: none); its transfer's rate, start and end. */
  private cur = NONE;
  private curRate = DOUBLE;
  private curStart = DOUBLE;
  private curEnd = DOUBLE;
  /** The active streams waiting for their turn, in turn order: a circular queue over `ring`. */
  private ring = new Int32Array(8);
  private ringHead = 0;
  private ringSize = 0;
  /** Per slot: its active position; whether its transfers are work requests (capped at qpLimit). */
  private posOf = new Int32Array(0);
  private wrOf = new Uint8Array(0);
  /** Active streams that are work-request streams, and those that are not. */
  private nWr = 0;
  private nPlain = 0;

  constructor(owner: number, index: number, bytesPerUs: number, jobs: FlowJobs, host: SendHost) {
    super(owner, index, bytesPerUs, jobs, host);
    // Declared DOUBLE (double from the first port on: see field-init.ts), start at 0.
    this.curRate = this.curStart = this.curEnd = 0;
  }

  protected override grow(cap: number): void {
    super.grow(cap);
    const p = new Int32Array(cap);
    p.set(this.posOf);
    this.posOf = p;
    const w = new Uint8Array(cap);
    w.set(this.wrOf);
    this.wrOf = w;
    // The ring unrolled from its head (each active slot waits in it at most once).
    const r = new Int32Array(Math.max(8, cap));
    for (let k = 0; k < this.ringSize; k++) r[k] = this.ring[(this.ringHead + k) % this.ring.length]!;
    this.ring = r;
    this.ringHead = 0;
  }

  protected override init(s: number): void {
    super.init(s);
    this.wrOf[s] = 0;
  }

  protected override activate(s: number): void {
    super.activate(s);
    this.posOf[s] = this.nAct - 1;
    if (this.wrOf[s]) this.nWr++;
    else this.nPlain++;
  }

  protected override deactivate(i: number): void {
    const s = this.act[i]!;
    if (this.wrOf[s]) this.nWr--;
    else this.nPlain--;
    const moved = this.act[this.nAct - 1]!;
    super.deactivate(i);
    if (i < this.nAct) this.posOf[moved] = i;
  }

  /** Stream `s` waits for its turn (at the ring's end). */
  private wait(s: number): void {
    const ring = this.ring;
    const k = this.ringHead + this.ringSize;
    ring[k < ring.length ? k : k - ring.length] = s;
    this.ringSize++;
  }

  /**
   * Add transfer `job` to stream `key` at the host's clock; a work request's stream (`wr`) is a
   * queue pair's (see the class). A stream that becomes active waits for its turn; an idle port
   * starts at the end of the instant, so streams that become active together go in that order.
   */
  override enqueue(job: number, key: number, wr: boolean): void {
    const s = this.slot(key);
    const w = wr && this.qpLimit < Infinity ? 1 : 0;
    if (this.wrOf[s] !== w) {
      if (this.on[s]) {
        this.nWr += w ? 1 : -1;
        this.nPlain += w ? -1 : 1;
      }
      this.wrOf[s] = w;
    }
    this.push(s, this.entry(job));
    if (this.on[s]) return;
    this.activate(s);
    this.wait(s);
    if (this.cur === NONE && !this.dirty) {
      this.dirty = true;
      this.host.settleLater(this);
    }
  }

  /** No credits under message sharing (receivers send none): ignored. */
  override credit(): void {}

  protected override advanceBy(): void {
    this.charged = this.cur === NONE ? 0 : this.curRate;
    this.account();
  }

  /** End the transfer being served if its time has come, start the next one, re-arm. */
  override settle(): void {
    const time = this.host.now;
    this.dirty = false;
    this.advance();
    if (this.cur !== NONE && time >= this.curEnd) this.finishCurrent(time);
    if (this.cur === NONE && this.ringSize > 0) this.startNext(time);
    const count = this.nNews;
    if (count > 0) {
      this.host.news(this, count);
      this.nNews = 0;
    }
    if (this.cur !== NONE) {
      if (this.curRate > this.maxLoad) this.maxLoad = this.curRate;
      if (this.busyStart < 0) this.busyStart = time;
    } else if (this.busyStart >= 0) {
      this.busyEnd = time;
      this.closeBusy();
    }
    const next = this.cur === NONE ? Infinity : this.curEnd;
    if (next !== this.timerAt) {
      this.timerAt = next;
      this.host.timer(this);
    }
  }

  /** The transfer being served has sent its last byte: its end is news; its stream takes its turn again or leaves. */
  private finishCurrent(time: number): void {
    const s = this.cur;
    const h = this.first[s]!;
    const job = this.jobOf(h);
    if (this.recording) this.host.rateSegment?.(this, job, this.key[s]!, this.curStart, time, this.curRate);
    // The end carries the rate the transfer was sent at (what stops arriving), so the receiver
    // keeps no per-stream record of it (see MessageRecvPort.news).
    this.itemRate = this.curRate;
    this.item(job, NEWS_DONE, this.key[s]!);
    this.shift(s);
    this.release(h);
    this.cur = NONE;
    if (this.size[s]! > 0) this.wait(s);
    else this.deactivate(this.posOf[s]!);
  }

  /** Serve the head of the stream whose turn it is, from `time`. */
  private startNext(time: number): void {
    const s = this.ring[this.ringHead]!;
    const next = this.ringHead + 1;
    this.ringHead = next === this.ring.length ? 0 : next;
    this.ringSize--;
    const capacity = this.bytesPerUs;
    const rate = this.nPlain > 0 ? capacity : Math.min(capacity, this.nWr * this.qpLimit);
    const h = this.first[s]!;
    this.cur = s;
    this.curRate = rate;
    this.curStart = time;
    this.curEnd = time + this.bytesOf(h) / rate;
    this.itemRate = rate;
    this.item(this.jobOf(h), NEWS_START, this.key[s]!);
  }

  protected override dropStream(_s: number, i: number): void {
    this.deactivate(i);
    if (this.nAct > 0) return;
    this.cur = NONE;
    this.curRate = 0;
    this.ringHead = 0;
    this.ringSize = 0;
    this.nNews = 0;
  }
}

/**
 * The receiver port of message sharing: the switch's output queue toward this port and the port
 * behind it. Bytes arrive at the rates their senders send them (one latency later), are taken in
 * the order they arrived at the port's capacity, and what arrives faster than that waits in the
 * switch's buffer (no credits: the buffer absorbs an incast). A transfer is delivered when its last
 * byte has been taken: `a + B(a) / capacity`, where `a` is its last byte's arrival and `B(a)` the
 * bytes waiting then, all of which arrived before it.
 *
 * Packets of messages that arrive together interleave in the buffer, so first come, first served
 * by byte is the switch's own order; messages that arrived earlier are done earlier. (The fluid
 * receiver shares its capacity max-min fairly among its streams instead, so with many streams
 * queued every transfer ends late; that port stays the fluid model's.) O(1) per news item and per
 * delivery: the port keeps the total arrival rate and the bytes waiting, and a FIFO of the
 * transfers whose last byte has arrived, by delivery time.
 */
export class MessageRecvPort extends RecvPort {
  /** Bytes arrived and not yet taken, at the port's clock (`lastT`). */
  private waiting = DOUBLE;
  /** Total rate of the transfers arriving now (bytes/us), and how many they are. */
  private arriving = DOUBLE;
  private nArriving = 0;
  /** Transfers whose last byte has arrived, in arrival order, with their delivery times: a circular queue. */
  private qJob = new Int32Array(16);
  private qAt = new Float64Array(16);
  private qHead = 0;
  private qSize = 0;
  /** The latest delivery time queued (deliveries never go back in time, whatever the rounding). */
  private lastAt = -Infinity;

  constructor(owner: number, index: number, bytesPerUs: number, jobs: FlowJobs, host: RecvHost) {
    super(owner, index, bytesPerUs, jobs, host);
    // Declared DOUBLE (double from the first port on: see field-init.ts), start at 0.
    this.waiting = this.arriving = 0;
  }

  /**
   * News from a sender at the host's clock: transfer `j` starts arriving at `rates[i]`, or its
   * last byte has arrived at that rate (then its delivery time is known).
   */
  override news(j: number, kind: number, rates: Float64Array, i: number, _key: number): void {
    this.advance();
    if (!this.dirty) {
      this.dirty = true;
      this.host.settleLater(this);
    }
    // A message sender tells only starts and ends, an end with the rate its transfer arrived at
    // (MessageSendPort.finishCurrent): the port needs no record per stream, only the total.
    const rate = rates[i]!;
    if (kind === NEWS_START) {
      this.arriving += rate;
      this.nArriving++;
      return;
    }
    if (kind !== NEWS_DONE) throw new Error(`port ${this.owner}.${this.index}: message sharing tells no rate changes (transfer ${j})`);
    // (The sum of the rates arriving is exactly 0 once none is: no rounding left over.)
    this.arriving = --this.nArriving === 0 ? 0 : this.arriving - rate;
    let at = this.host.now + this.waiting / this.bytesPerUs;
    if (at < this.lastAt) at = this.lastAt;
    this.lastAt = at;
    this.enqueueDelivery(j, at);
  }

  private enqueueDelivery(j: number, at: number): void {
    if (this.qSize === this.qJob.length) {
      const n = this.qJob.length;
      const job = new Int32Array(2 * n);
      const t = new Float64Array(2 * n);
      for (let k = 0; k < n; k++) {
        job[k] = this.qJob[(this.qHead + k) % n]!;
        t[k] = this.qAt[(this.qHead + k) % n]!;
      }
      this.qJob = job;
      this.qAt = t;
      this.qHead = 0;
    }
    const k = (this.qHead + this.qSize) % this.qJob.length;
    this.qJob[k] = j;
    this.qAt[k] = at;
    this.qSize++;
  }

  /**
   * The port's clock from `lastT` to `stepTo`: the bytes waiting grow at the arrival rate less the
   * capacity while any wait (or more arrives than it can take), else every byte is taken as it
   * arrives; busy time is time with bytes moving.
   */
  protected override advanceBy(): void {
    const dt = this.stepTo - this.lastT;
    if (dt <= 0) return;
    const c = this.bytesPerUs;
    const a = this.arriving;
    const w = this.waiting;
    let taken: number;
    let busy = dt;
    if (w > 0 && a < c) {
      const empty = w / (c - a);
      if (empty >= dt) {
        taken = c * dt;
        this.waiting = w - (c - a) * dt;
      } else {
        taken = w + a * dt;
        this.waiting = 0;
        if (a === 0) busy = empty;
      }
    } else if (a > c) {
      taken = c * dt;
      this.waiting = w + (a - c) * dt;
    } else {
      taken = a * dt;
      if (a === 0) busy = 0;
    }
    if (busy > 0) {
      this.busyUs += busy;
      this.bytesMoved += taken;
      this.busyBytes += taken;
    }
    this.lastT = this.stepTo;
  }

  /** Deliver what has been taken, then re-arm for the next delivery. */
  override settle(): void {
    const time = this.host.now;
    this.dirty = false;
    this.advance();
    while (this.qSize > 0 && this.qAt[this.qHead]! <= time) {
      const j = this.qJob[this.qHead]!;
      this.qHead = (this.qHead + 1) % this.qJob.length;
      this.qSize--;
      this.host.served(this, j);
    }
    // Nothing arriving and nothing left to deliver: every byte that arrived has been taken.
    if (this.nArriving === 0 && this.qSize === 0) this.waiting = 0;
    const load = this.waiting > 0 || this.arriving > this.bytesPerUs ? this.bytesPerUs : this.arriving;
    if (load > this.maxLoad) this.maxLoad = load;
    const moving = this.nArriving > 0 || this.qSize > 0;
    if (moving && this.busyStart < 0) this.busyStart = time;
    if (!moving && this.busyStart >= 0) {
      this.busyEnd = time;
      this.closeBusy();
    }
    let next = this.qSize > 0 ? this.qAt[this.qHead]! : Infinity;
    if (next !== Infinity && !(next > time)) next = timerAfter(time, next);
    if (next !== this.timerAt) {
      this.timerAt = next;
      this.host.timer(this);
    }
  }

  override get idle(): boolean {
    return this.nArriving === 0 && this.qSize === 0 && super.idle;
  }

  override dropAll(): void {
    super.dropAll();
    this.arriving = 0;
    this.nArriving = 0;
    this.waiting = 0;
    this.qHead = 0;
    this.qSize = 0;
    this.lastAt = -Infinity;
  }

  override rebase(shift: number): void {
    super.rebase(shift);
    this.lastAt = -Infinity;
  }
}
