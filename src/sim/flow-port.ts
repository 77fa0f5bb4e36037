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
 */

/** What the ports keep on a transfer. */
export interface FlowJob {
  readonly bytes: number;
  /** Sender: bytes sent so far. */
  sent: number;
  /** Receiver: bytes arrived, bytes served, the arrival rate (bytes/us), all bytes arrived. */
  arrived: number;
  served: number;
  arrRate: number;
  arrivedAll: boolean;
}

/** News a sender port sends its receivers (one latency later). */
export const NEWS_START = 0; // first byte: the transfer joins the receiver's stream, at `rate`
export const NEWS_RATE = 1; // the sending rate changed to `rate`
export const NEWS_DONE = 2; // last byte sent: nothing more arrives after it

export interface NewsItem<J> {
  job: J;
  kind: number;
  rate: number;
  /** The stream key: the sender's (destination * QP_SLOTS + qp) until the host rekeys it for the receiver (source * QP_SLOTS + qp). */
  key: number;
  /** The event key's seq the host gave it. */
  seq: number;
}

/** Both hosts: settle `port` once at the end of the instant `time` (after every other event then). */
export interface SettleHost {
  settleLater(port: SendPort<never> | RecvPort<never>, time: number): void;
}

export interface SendHost<J extends FlowJob> extends SettleHost {
  /** Schedule `port.onTimer(time, generation)`. */
  sendTimer(port: SendPort<J>, time: number, generation: number): void;
  /** The port changed what it sends: carry these items to the receivers (in order). */
  news(port: SendPort<J>, items: NewsItem<J>[], time: number): void;
  /** A rate segment of a job ended (only when recording). */
  rateSegment?(port: SendPort<J>, job: J, key: number, start: number, end: number, rate: number): void;
}

export interface RecvHost<J extends FlowJob> extends SettleHost {
  recvTimer(port: RecvPort<J>, time: number, generation: number): void;
  /** The job's last byte has been served: deliver it. */
  served(port: RecvPort<J>, job: J, time: number): void;
  /** Tell the senders of these streams (keys) the fair level `level`, bytes/us. */
  credit(port: RecvPort<J>, keys: number[], level: number, time: number): void;
}

/**
 * Relative change of a receiver's fair level below which no new credit is sent. Without it the
 * senders and receivers of a busy all-to-all keep trading ever smaller corrections, one round trip
 * each, for the whole run; with it they settle in a few rounds. A simulation tolerance, not a
 * hardware figure: the completion times it moves stay within it (docs/hardware.md).
 */
export const CREDIT_RESOLUTION = 1e-3;

/** Bytes under which a remainder counts as nothing (float rounding of rate x time). */
function eps(bytes: number): number {
  return 1e-9 * bytes + 1e-6;
}

class Stream<J extends FlowJob> {
  readonly jobs: J[] = [];
  head = 0;
  rate = 0;
  /** Sender: the last credit heard (Infinity before the first); the QP's own rate limit. */
  credit = Infinity;
  limit = Infinity;
  /** Sender: rate last announced for the head, and since when (for rate segments). */
  told = -1;
  since = 0;
  /** Receiver: sum of the arrival rates of its jobs; the credit last sent (-1: none yet). */
  arr = 0;
  lastCredit = -1;
  active = false;
  constructor(readonly key: number) {}
  get size(): number {
    return this.jobs.length - this.head;
  }
  first(): J {
    return this.jobs[this.head]!;
  }
  shift(): void {
    this.head++;
    if (this.head === this.jobs.length) {
      this.jobs.length = 0;
      this.head = 0;
    }
  }
}

/** Busy-time and load bookkeeping shared by both port kinds. */
abstract class PortStats {
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
  constructor(readonly owner: number, readonly index: number, readonly bytesPerUs: number) {}

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
}

export class SendPort<J extends FlowJob> extends PortStats {
  private readonly streams: Array<Stream<J> | undefined> = [];
  private readonly active: Stream<J>[] = [];
  private timerAt = Infinity;
  private timerGen = 0;
  private readonly items: NewsItem<J>[] = [];
  private readonly started: Stream<J>[] = [];
  /** Record rate segments through the host. */
  recording = false;

  constructor(owner: number, index: number, bytesPerUs: number, private readonly host: SendHost<J>) {
    super(owner, index, bytesPerUs);
  }

  get activeStreams(): number {
    return this.active.length;
  }

  /** Add a job to stream `key` (destination rank * QP_SLOTS + qp) with the QP's rate limit. */
  enqueue(job: J, key: number, limit: number, time: number): void {
    let s = this.streams[key];
    if (!s) this.streams[key] = s = new Stream<J>(key);
    s.limit = limit;
    s.jobs.push(job);
    if (s.active) return; // queued behind the head: nothing changes now
    this.advance(time);
    this.activate(s, time);
    this.touch(time);
  }

  /** A credit for stream `key` arrived. */
  credit(key: number, level: number, time: number): void {
    const s = this.streams[key];
    if (!s || !s.active || s.credit === level) return;
    // A cap that neither binds now nor bound before changes no rate: keep it for later.
    if (level >= s.rate && s.credit > s.rate * (1 + 1e-12) && !this.dirty) {
      s.credit = level;
      return;
    }
    this.advance(time);
    s.credit = level;
    this.touch(time);
  }

  /** The timer fired; it is keyed like a settle (end of the instant), so it settles directly. */
  onTimer(time: number, generation: number): void {
    if (generation !== this.timerGen) return;
    this.timerAt = Infinity;
    if (!this.dirty) this.settle(time);
  }

  /** Changes of one instant are settled together, once, at its end. */
  private touch(time: number): void {
    if (this.dirty) return;
    this.dirty = true;
    this.host.settleLater(this as unknown as SendPort<never>, time);
  }

  private activate(s: Stream<J>, time: number): void {
    s.active = true;
    s.told = -1;
    s.since = time;
    s.first().sent = 0;
    this.active.push(s);
    this.started.push(s);
  }

  private advance(time: number): void {
    const dt = time - this.lastT;
    if (dt <= 0) return;
    let total = 0;
    for (const s of this.active) {
      s.first().sent += s.rate * dt;
      total += s.rate;
    }
    this.account(time, dt, total);
  }

  /** Finish what is done, start what follows, reallocate, tell the receivers, re-arm. */
  settle(time: number): void {
    this.dirty = false;
    this.advance(time);
    const items = this.items;
    const act = this.active;
    for (let i = 0; i < act.length; ) {
      const s = act[i]!;
      const h = s.first();
      if (h.bytes - h.sent > eps(h.bytes)) {
        i++;
        continue;
      }
      h.sent = h.bytes;
      if (s.told < 0) items.push({ job: h, kind: NEWS_START, rate: 0, key: s.key, seq: -1 });
      else if (this.recording) this.host.rateSegment?.(this, h, s.key, s.since, time, s.told);
      items.push({ job: h, kind: NEWS_DONE, rate: 0, key: s.key, seq: -1 });
      s.shift();
      if (s.size > 0) {
        s.told = -1;
        s.since = time;
        s.first().sent = 0;
        this.started.push(s);
        continue; // the new head may be empty too
      }
      s.active = false;
      s.credit = Infinity; // a stream that went idle starts afresh at its sender share
      act[i] = act[act.length - 1]!;
      act.pop();
    }
    this.allocate();
    for (const s of act) {
      if (s.rate === s.told) continue;
      const h = s.first();
      if (s.told < 0) items.push({ job: h, kind: NEWS_START, rate: s.rate, key: s.key, seq: -1 });
      else {
        if (this.recording) this.host.rateSegment?.(this, h, s.key, s.since, time, s.told);
        items.push({ job: h, kind: NEWS_RATE, rate: s.rate, key: s.key, seq: -1 });
      }
      s.told = s.rate;
      s.since = time;
    }
    this.started.length = 0;
    if (items.length > 0) {
      this.host.news(this, items.slice(), time);
      items.length = 0;
    }
    let total = 0;
    let next = Infinity;
    for (const s of act) {
      total += s.rate;
      if (s.rate > 0) {
        const h = s.first();
        const t = time + (h.bytes - h.sent) / s.rate;
        if (t < next) next = t;
      }
    }
    if (total > this.maxLoad) this.maxLoad = total;
    if (total > 0 && this.busyStart < 0) this.busyStart = time;
    if (total === 0 && this.busyStart >= 0) this.closeBusy(time);
    if (next < this.timerAt) {
      this.timerAt = next;
      this.host.sendTimer(this, next, ++this.timerGen);
    }
  }

  /** Water-filling: capacity shared equally, streams capped below their share keep their cap. */
  private allocate(): void {
    const act = this.active;
    const n = act.length;
    if (n === 0) return;
    let capped = false;
    for (const s of act) if (Math.min(s.credit, s.limit) < Infinity) capped = true;
    if (!capped) {
      const r = this.bytesPerUs / n;
      for (const s of act) s.rate = r;
      return;
    }
    waterFill(act, this.bytesPerUs, (s) => Math.min(s.credit, s.limit));
  }

}

export class RecvPort<J extends FlowJob> extends PortStats {
  private readonly streams: Array<Stream<J> | undefined> = [];
  private readonly active: Stream<J>[] = [];
  private timerAt = Infinity;
  private timerGen = 0;
  /** The fair level last computed (bytes/us). */
  level = 0;
  private readonly creditKeys: number[] = [];
  recording = false;

  constructor(owner: number, index: number, bytesPerUs: number, private readonly host: RecvHost<J>) {
    super(owner, index, bytesPerUs);
  }

  /** Apply news from a sender (settled at the end of the instant). */
  news(item: NewsItem<J>, time: number): void {
    this.advance(time);
    if (!this.dirty) {
      this.dirty = true;
      this.host.settleLater(this as unknown as RecvPort<never>, time);
    }
    const j = item.job;
    let s = this.streams[item.key];
    if (!s) this.streams[item.key] = s = new Stream<J>(item.key);
    if (item.kind === NEWS_START) {
      j.arrived = 0;
      j.served = 0;
      j.arrRate = item.rate;
      j.arrivedAll = false;
      s.jobs.push(j);
      s.arr += item.rate;
      if (!s.active) {
        s.active = true;
        this.active.push(s);
      }
    } else if (item.kind === NEWS_RATE) {
      s.arr += item.rate - j.arrRate;
      j.arrRate = item.rate;
    } else {
      s.arr -= j.arrRate;
      j.arrRate = 0;
      j.arrived = j.bytes;
      j.arrivedAll = true;
    }
    if (Math.abs(s.arr) < 1e-9) s.arr = 0;
  }

  onTimer(time: number, generation: number): void {
    if (generation !== this.timerGen) return;
    this.timerAt = Infinity;
    if (!this.dirty) this.settle(time);
  }

  private advance(time: number): void {
    const dt = time - this.lastT;
    if (dt <= 0) return;
    let total = 0;
    for (const s of this.active) {
      let give = s.rate * dt;
      total += s.rate;
      for (let k = s.head; k < s.jobs.length; k++) {
        const j = s.jobs[k]!;
        if (!j.arrivedAll && j.arrRate > 0) j.arrived = Math.min(j.bytes, j.arrived + j.arrRate * dt);
      }
      for (let k = s.head; k < s.jobs.length && give > 0; k++) {
        const j = s.jobs[k]!;
        const take = Math.min(give, j.arrived - j.served);
        if (take > 0) {
          j.served += take;
          give -= take;
        }
      }
    }
    this.account(time, dt, total);
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
        if (!h.arrivedAll || h.bytes - h.served > eps(h.bytes)) break;
        h.served = h.bytes;
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
    }
    const n = act.length;
    if (n === 0) {
      if (this.busyStart >= 0) this.closeBusy(time);
      return;
    }
    // Demand: all it can get with bytes queued, else its arrival rate.
    const fair = waterFill(act, this.bytesPerUs, (s) => (queued(s) > eps(1) ? Infinity : s.arr));
    let total = 0;
    let next = Infinity;
    let saturated = false;
    for (const s of act) {
      total += s.rate;
      const q = queued(s);
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
      if (h.arrivedAll && s.rate > 0) {
        const t = time + (h.bytes - h.served) / s.rate;
        if (t < next) next = t;
      }
    }
    // The credit: the fair level while bytes queue here, no limit while everything that arrives is
    // served at once (the port is then nobody's bottleneck).
    const level = saturated ? fair : Infinity;
    this.level = level;
    const keys = this.creditKeys;
    for (const s of act) {
      // Tell a sender only what changes its rate by more than the credit resolution: a level below
      // what it sends, or a higher one when it was held at the old level (or nothing heard yet).
      const last = s.lastCredit;
      if (last < 0 || (level < last && level < s.arr * (1 - CREDIT_RESOLUTION)) || (last <= s.arr * (1 + 1e-9) && level > last * (1 + CREDIT_RESOLUTION))) {
        s.lastCredit = level;
        keys.push(s.key);
      }
    }
    if (keys.length > 0) {
      this.host.credit(this, keys.slice(), level, time);
      keys.length = 0;
    }
    if (total > this.maxLoad) this.maxLoad = total;
    if (total > 0 && this.busyStart < 0) this.busyStart = time;
    if (total === 0 && this.busyStart >= 0) this.closeBusy(time);
    if (next < this.timerAt) {
      this.timerAt = next;
      this.host.recvTimer(this, next, ++this.timerGen);
    }
  }
}

function queued<J extends FlowJob>(s: Stream<J>): number {
  let q = 0;
  for (let k = s.head; k < s.jobs.length; k++) {
    const j = s.jobs[k]!;
    q += j.arrived - j.served;
  }
  return q;
}

/**
 * Max-min share of `capacity` among streams with demands `want(s)`: sets each `s.rate` and returns
 * the fair level (what a stream with unlimited demand would get; with spare capacity, what the
 * largest one could take).
 */
function waterFill<J extends FlowJob>(streams: Stream<J>[], capacity: number, want: (s: Stream<J>) => number): number {
  const n = streams.length;
  const d = new Float64Array(n);
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    d[i] = want(streams[i]!);
    order[i] = i;
  }
  order.sort((a, b) => d[a]! - d[b]! || a - b);
  let rem = capacity;
  let level = capacity;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const share = rem / (n - k);
    level = share;
    if (d[i]! < share && k < n - 1) {
      streams[i]!.rate = d[i]!;
      rem -= d[i]!;
      continue;
    }
    for (let m = k; m < n; m++) {
      const o = order[m]!;
      streams[o]!.rate = Math.min(d[o]!, share);
    }
    break;
  }
  return level;
}
