/**
 * The sender port as it was before its streams were evaluated lazily (main at 1ef8311): every
 * settle steps every active stream's head, checks every stream for a finished transfer, takes every
 * stream's rate from the water-filling, decides the holds over every stream and looks for the next
 * timer over every stream; `quiet` and `advanceBy` are O(streams) too. Kept for tests only, as the
 * reference the lazy {@link SendPort} is compared with (the same model; the lazy one evaluates each
 * stream from its last rate change and keeps sums, so its floats round differently).
 */
import { NEWS_DONE, NEWS_RATE, NEWS_START, PortStats, SEND_RESOLUTION, timerAfter, type SendHost, type SendPort } from '../../src/sim/flow-port.js';
import type { FlowJobs } from '../../src/sim/transfers.js';

function eps(bytes: number): number {
  return 1e-9 * bytes + 1e-6;
}

const NONE = -1;

function grown<A extends Float64Array | Int32Array | Uint8Array>(a: A, cap: number): A {
  const b = new (a.constructor as new (n: number) => A)(cap);
  b.set(a);
  return b;
}

export class ReferenceSendPort extends PortStats<SendHost> {
  /** News of the settle in progress, for the host: job, NEWS_* kind, rate and stream key per item (reused). */
  private nJob = new Int32Array(16);
  private nKind = new Uint8Array(16);
  private nRate = new Float64Array(16);
  private nKey = new Int32Array(16);
  private nNews = 0;
  /** Record rate segments through the host. */
  recording = false;
  /** Per slot: the last credit heard (Infinity before the first); the QP's own rate limit. */
  private credit_ = new Float64Array(0);
  private limit = new Float64Array(0);
  /** Per slot: the rate last announced for the head (-1: none yet), and since when (for rate segments). */
  private told = new Float64Array(0);
  private since = new Float64Array(0);
  /** Per slot: when the stream last became active, and the ordering key of the event that did it. */
  private actT = new Float64Array(0);
  private actKey = new Float64Array(0);
  /**
   * Per slot, of its head (the transfer being sent): bytes sent so far, its bytes and its transfer.
   * Kept by slot, not by entry, so a settle's passes read only the port's slot columns.
   */
  private hSent = new Float64Array(0);
  private hBytes = new Float64Array(0);
  private hJob = new Int32Array(0);
  /**
   * The sum of the active streams' rates, in their order, as the last settle left them: what every
   * advance until the next settle moves the port at (any change to the streams or their rates
   * marks the port for a settle at the same instant, so no clock step passes in between).
   */
  private load = 0;
  /**
   * The last allocation water-filled the active streams as they are now (none joined or left
   * since): with the same demands (`want` per slot), it would find the same levels.
   */
  private filled = false;

  constructor(owner: number, index: number, bytesPerUs: number, jobs: FlowJobs, host: SendHost) {
    super(owner, index, bytesPerUs, jobs, host);
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
    this.credit_ = grown(this.credit_, cap);
    this.limit = grown(this.limit, cap);
    this.told = grown(this.told, cap);
    this.since = grown(this.since, cap);
    this.actT = grown(this.actT, cap);
    this.actKey = grown(this.actKey, cap);
    this.hSent = grown(this.hSent, cap);
    this.hBytes = grown(this.hBytes, cap);
    this.hJob = grown(this.hJob, cap);
  }

  protected override dropStream(s: number, i: number): void {
    this.credit_[s] = Infinity; // as in settle: a stream that went idle starts afresh
    this.deactivate(i);
    this.filled = false;
    this.load = 0;
    this.nNews = 0;
  }

  /** Slot `s`'s first entry is its new head: nothing of it sent yet. */
  private head(s: number): void {
    const h = this.first[s]!;
    this.hSent[s] = 0;
    this.hBytes[s] = this.bytesOf(h);
    this.hJob[s] = this.jobOf(h);
  }

  protected init(s: number): void {
    this.credit_[s] = Infinity;
    this.limit[s] = Infinity;
    this.told[s] = -1;
    this.since[s] = 0;
    this.actT[s] = -1;
    this.actKey[s] = 0;
  }

  private item(job: number, kind: number, rate: number, key: number): void {
    // Written here, not through a shared list's push: a rate passed to a call not inlined is boxed.
    const n = this.nNews;
    if (n === this.nJob.length) {
      this.nJob = grown(this.nJob, 2 * n);
      this.nKind = grown(this.nKind, 2 * n);
      this.nRate = grown(this.nRate, 2 * n);
      this.nKey = grown(this.nKey, 2 * n);
    }
    this.nJob[n] = job;
    this.nKind[n] = kind;
    this.nRate[n] = rate;
    this.nKey[n] = key;
    this.nNews = n + 1;
  }

  /**
   * Add a job to stream `key` (destination rank * QP_SLOTS + qp) at the host's clock; a work
   * request's stream (`wr`) runs at most at the queue pair's rate limit (`qpLimit`).
   */
  enqueue(job: number, key: number, wr: boolean): void {
    const time = this.host.now;
    const s = this.slot(key);
    this.limit[s] = wr ? this.qpLimit : Infinity;
    this.push(s, this.entry(job));
    if (this.on[s]) return; // queued behind the head: nothing changes now
    this.advance();
    this.start(s, time);
    this.touch();
  }

  /**
   * A credit for stream `key` arrived at the host's clock, the level `levels[i]`, sent under ordering
   * key `eventKeys[i]`: a stream not active then (active only from a later event of the instant)
   * drops it, wherever in the instant it is applied.
   */
  credit(key: number, levels: Float64Array, i: number, eventKeys: Float64Array): void {
    const time = this.host.now;
    const level = levels[i]!;
    const eventKey = eventKeys[i]!;
    const s = this.find(key);
    if (s === NONE || !this.on[s] || this.credit_[s] === level || (this.actT[s] === time && this.actKey[s]! > eventKey)) return;
    // A cap that neither binds now nor bound before changes no rate: keep it for later.
    const r = this.rate[s]!;
    if (level >= r && this.credit_[s]! > r * (1 + 1e-12) && !this.dirty) {
      this.credit_[s] = level;
      // A quiet timer still to come would settle with this cap (rates held within the send
      // resolution may move then): it is an ordinary timer again.
      if (this.quietAt >= time && this.quietAt < Infinity) {
        this.timerAt = this.quietAt;
        this.quietAt = Infinity;
        this.host.timer(this as unknown as SendPort);
      }
      return;
    }
    this.advance();
    this.credit_[s] = level;
    this.touch();
  }

  /** Changes of one instant are settled together, once, at its end. */
  private touch(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.host.settleLater(this as unknown as SendPort);
  }

  private start(s: number, time: number): void {
    this.actT[s] = time;
    this.actKey[s] = this.host.eventKey();
    this.told[s] = -1;
    this.since[s] = time;
    this.head(s);
    this.activate(s);
    this.filled = false;
  }

  protected advanceBy(): void {
    const time = this.stepTo;
    const dt = time - this.lastT;
    if (dt <= 0) return;
    const { act, rate, hSent: sent } = this;
    for (let i = 0, n = this.nAct; i < n; i++) {
      const s = act[i]!;
      sent[s] = sent[s]! + rate[s]! * dt;
    }
    this.charged = this.load;
    this.account();
  }

  /**
   * Finish what is done, start what follows, reallocate, tell the receivers, re-arm.
   *
   * Three passes over the active streams, each doing the work of several steps on the values it
   * reads: the first moves each stream's head on to the clock (as {@link advance} would: through a
   * passed quiet timer first, in the same two steps), finishes what it sent and, for each stream
   * that stays, its demand (its cap) for the allocation; the second takes each stream's max-min
   * rate from the water-filling's levels and decides which rates are held; the third tells the
   * news and finds the next timer. Every value goes through the same floating-point operations, in
   * the same order, as a pass per step did (timelines are bit-identical).
   */
  settle(): void {
    const time = this.host.now;
    this.dirty = false;
    // The clock's steps (see PortStats.advance): through a passed quiet timer, then to now.
    let dtA = 0;
    let dtB = 0;
    if (this.quietAt < Infinity) {
      const at = this.quietAt;
      if (at < time) {
        const dt = at - this.lastT;
        if (dt > 0) {
          dtA = dt;
          this.stepTo = at;
          this.charged = this.load;
          this.account();
        }
      } else this.timerAt = at;
      this.quietAt = Infinity;
    }
    {
      const dt = time - this.lastT;
      if (dt > 0) {
        dtB = dt;
        this.stepTo = time;
        this.charged = this.load;
        this.account();
      }
    }
    const step = dtA > 0 || dtB > 0;
    const { act, told, since, hSent: sent, hBytes: bytes, hJob, rate, key, credit_: credit, limit, want } = this;
    // Each stream's demand: its cap, min(credit, limit), by active position.
    const d = this.wants(this.nAct);
    let min = Infinity;
    let same = true;
    // `fresh`: the stream at position i has not been stepped yet (a stream leaving moves the last,
    // not yet visited, into its place; a new head starts at 0 after the step).
    let fresh = true;
    for (let i = 0; i < this.nAct; ) {
      const s = act[i]!;
      if (fresh && step) {
        const r = rate[s]!;
        let v = sent[s]!;
        if (dtA > 0) v = v + r * dtA;
        if (dtB > 0) v = v + r * dtB;
        sent[s] = v;
      }
      if (bytes[s]! - sent[s]! > eps(bytes[s]!)) {
        // The stream stays at position i.
        const di = Math.min(credit[s]!, limit[s]!);
        d[i] = di;
        if (di < min) min = di;
        if (di !== want[s]) {
          same = false;
          want[s] = di;
        }
        i++;
        fresh = true;
        continue;
      }
      const job = hJob[s]!;
      if (told[s]! < 0) this.item(job, NEWS_START, 0, key[s]!);
      else if (this.recording) this.host.rateSegment?.(this as unknown as SendPort, job, key[s]!, since[s]!, time, told[s]!);
      this.item(job, NEWS_DONE, 0, key[s]!);
      const h = this.first[s]!;
      this.shift(s);
      this.release(h);
      if (this.size[s]! > 0) {
        told[s] = -1;
        since[s] = time;
        this.head(s);
        fresh = false;
        continue; // the new head may be empty too
      }
      this.credit_[s] = Infinity; // a stream that went idle starts afresh at its sender share
      this.deactivate(i);
      this.filled = false;
      fresh = true;
    }
    const n = this.nAct;
    this.allocate(min, same);
    // Which streams hold their rate (see hold).
    if (this.keepBuf.length < n) this.keepBuf = new Uint8Array(Math.max(n, 2 * this.keepBuf.length));
    const keep = this.keepBuf;
    const share = this.share;
    const equal = this.fillEqual;
    const last = this.fillLast;
    let ties = this.fillTies;
    let sum = 0;
    let any = false;
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      const di = d[i]!;
      const r = equal ? share : di < last || (di === last && ties-- > 0) ? di : Math.min(di, share);
      rate[s] = r;
      const t = told[s]!;
      const k = t >= 0 && Math.abs(r - t) <= SEND_RESOLUTION * t && t <= di;
      keep[i] = k ? 1 : 0;
      if (k) any = true;
      sum += k ? t : r;
    }
    const hold = any && !(sum > this.bytesPerUs);
    // Tell the receivers the rates that changed; the load and the next transfer to end.
    let total = 0;
    let next = Infinity;
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      let r = rate[s]!;
      if (hold && keep[i]) rate[s] = r = told[s]!;
      total += r;
      if (r > 0) {
        const t = time + (bytes[s]! - sent[s]!) / r;
        if (t < next) next = t;
      }
      if (r === told[s]) continue;
      const job = hJob[s]!;
      if (told[s]! < 0) this.item(job, NEWS_START, r, key[s]!);
      else {
        if (this.recording) this.host.rateSegment?.(this as unknown as SendPort, job, key[s]!, since[s]!, time, told[s]!);
        this.item(job, NEWS_RATE, r, key[s]!);
      }
      told[s] = r;
      since[s] = time;
    }
    this.load = total;
    const count = this.nNews;
    if (count > 0) {
      this.host.news(this as unknown as SendPort, count);
      this.nNews = 0;
    }
    if (total > this.maxLoad) this.maxLoad = total;
    if (total > 0 && this.busyStart < 0) this.busyStart = time;
    if (total === 0 && this.busyStart >= 0) {
      this.busyEnd = time;
      this.closeBusy();
    }
    if (next !== Infinity) next = timerAfter(time, next);
    if (next < this.timerAt) {
      this.timerAt = next;
      this.host.timer(this as unknown as SendPort);
    } else if (next > this.timerAt) this.quiet();
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
  private quiet(): void {
    const time = this.host.now;
    const at = this.timerAt;
    const dt = at - time;
    const { act, rate, hSent: sent, hBytes: bytes } = this;
    let next = Infinity;
    for (let i = 0, n = this.nAct; i < n; i++) {
      const s = act[i]!;
      const r = rate[s]!;
      if (r <= 0) continue;
      const left = bytes[s]! - (sent[s]! + r * dt);
      if (left <= eps(bytes[s]!)) return; // it would end a transfer there: keep the timer
      const t = at + left / r;
      if (t < next) next = t;
    }
    if (next !== Infinity) next = timerAfter(at, next);
    this.quietAt = at;
    this.timerAt = next;
    this.host.timer(this as unknown as SendPort);
  }

  /**
   * Which active streams keep the rate they announced, in the settle in progress (by position): a
   * stream whose new max-min rate is within the send resolution of it and whose cap it is under,
   * when the rates kept and the new ones still fit in the port's capacity (else every stream takes
   * its new rate). A kept rate is at most the resolution below the stream's share, or above it with
   * the capacity and the cap respected. (Reused.)
   */
  private keepBuf = new Uint8Array(8);

  /**
   * Water-filling: capacity shared equally, streams capped below their share keep their cap. Sets
   * the levels (`share`, `fillEqual`, `fillLast`, `fillTies`: see fillLevels) of the active
   * streams' demands `wants()[i]`, also in `want` per slot (`min` the smallest; `same`: each equal
   * to what `want` held before). Demands and streams unchanged since the last water-filling give
   * its levels again (they depend on the demands by position only).
   */
  private allocate(min: number, same: boolean): void {
    const n = this.nAct;
    if (n === 0) return;
    if (min === Infinity) {
      // Nobody capped: the equal share.
      this.share = this.bytesPerUs / n;
      this.fillEqual = true;
      this.filled = false;
      return;
    }
    if (same && this.filled) return;
    this.fillMin = min;
    this.fillLevels();
    this.filled = true;
  }
}
