/**
 * The receiver port as it was before its streams were evaluated lazily (main at 99d002b): every
 * settle, news instant and quiet check steps and examines every active stream. Kept for tests
 * only, as the reference the lazy {@link RecvPort} is compared with (the same model; the lazy one
 * evaluates each stream from its last change, so its floats round differently).
 */
import { CREDIT_RESOLUTION, NEWS_RATE, NEWS_START, PortStats, SEND_RESOLUTION, timerAfter, type RecvHost, type RecvPort } from '../../src/sim/flow-port.js';
import type { FlowJobs } from '../../src/sim/transfers.js';

function eps(bytes: number): number {
  return 1e-9 * bytes + 1e-6;
}

class NumList<A extends Float64Array> {
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

function grown<A extends Float64Array | Int32Array | Uint8Array>(a: A, cap: number): A {
  const b = new (a.constructor as new (n: number) => A)(cap);
  b.set(a);
  return b;
}

const NONE = -1;
const EPS1 = eps(1);

export class ReferenceRecvPort extends PortStats<RecvHost> {
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
  /** Per slot: sum of the arrival rates of its jobs; the credit last sent (-1: none yet). */
  private arr = new Float64Array(0);
  private lastCredit = new Float64Array(0);
  /** Per entry: bytes arrived, bytes served, the arrival rate (bytes/us), all bytes arrived (1). */
  private eArrived = new Float64Array(0);
  private eServed = new Float64Array(0);
  private eArrRate = new Float64Array(0);
  private eAll = new Uint8Array(0);

  constructor(owner: number, index: number, bytesPerUs: number, jobs: FlowJobs, host: RecvHost) {
    super(owner, index, bytesPerUs, jobs, host);
  }

  get creditKeys(): Float64Array { return this.keys.a; }

  protected override grow(cap: number): void {
    super.grow(cap);
    this.arr = grown(this.arr, cap);
    this.lastCredit = grown(this.lastCredit, cap);
  }

  protected override growEntries(cap: number): void {
    super.growEntries(cap);
    this.eArrived = grown(this.eArrived, cap);
    this.eServed = grown(this.eServed, cap);
    this.eArrRate = grown(this.eArrRate, cap);
    this.eAll = grown(this.eAll, cap);
  }

  protected init(s: number): void {
    this.arr[s] = 0;
    this.lastCredit[s] = -1;
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
      this.host.settleLater(this as unknown as RecvPort);
    }
    const s = this.slot(key);
    const arr = this.arr;
    if (kind === NEWS_START) {
      // A stream's jobs arrive one after another (see advance).
      if (this.size[s]! > 0 && !this.eAll[this.last[s]!]) throw new Error(`port ${this.owner}.${this.index}: stream ${key} starts a job before the previous one has arrived`);
      const e = this.entry(j); // (may grow the entry columns)
      this.jobs.recvEntry[j] = e;
      this.eArrived[e] = 0;
      this.eServed[e] = 0;
      this.eArrRate[e] = rate;
      this.eAll[e] = 0;
      this.push(s, e);
      arr[s] = arr[s]! + rate;
      if (!this.on[s]) {
        this.activate(s);
        this.sharesStale = true;
      }
    } else if (kind === NEWS_RATE) {
      const e = this.jobs.recvEntry[j]!;
      arr[s] = arr[s]! + (rate - this.eArrRate[e]!);
      this.eArrRate[e] = rate;
    } else {
      const e = this.jobs.recvEntry[j]!;
      arr[s] = arr[s]! - this.eArrRate[e]!;
      this.eArrRate[e] = 0;
      this.eArrived[e] = this.bytesOf(e);
      this.eAll[e] = 1;
    }
    if (Math.abs(arr[s]!) < 1e-9) arr[s] = 0;
  }

  protected advanceBy(): void {
    const time = this.stepTo;
    const dt = time - this.lastT;
    if (dt <= 0) return;
    let total = 0;
    const { act, rate, first, last, eArrived: arrived, eServed: served, eArrRate: arrRate, eAll: arrivedAll } = this;
    for (let i = 0, n = this.nAct; i < n; i++) {
      const s = act[i]!;
      const r = rate[s]!;
      let give = r * dt;
      total += r;
      // Bytes arrive for the stream's last job only: its sender sends one job at a time, and the
      // news of a job's end comes before the next one's start, so every earlier job has all its
      // bytes.
      const jl = last[s]!;
      if (jl !== NONE && !arrivedAll[jl] && arrRate[jl]! > 0) arrived[jl] = Math.min(this.bytesOf(jl), arrived[jl]! + arrRate[jl]! * dt);
      for (let j = first[s]!; j !== NONE && give > 0; j = this.nextOf(j)) {
        const take = Math.min(give, arrived[j]! - served[j]!);
        if (take > 0) {
          served[j] = served[j]! + take;
          give -= take;
        }
      }
    }
    this.charged = total;
    this.account();
  }

  /** Deliver what is served, reallocate, tell senders the new level, re-arm. */
  settle(): void {
    const time = this.host.now;
    this.dirty = false;
    this.advance();
    const { act, first, arr, eServed: served, eArrived: arrived, eAll: arrivedAll } = this;
    // Deliver what is served; for each stream left, its bytes queued and its demand: all it can get
    // with bytes queued, else its arrival rate. (A stream leaving moves the last one into its place.)
    const n0 = this.nAct;
    if (this.queuedBuf.length < n0) this.queuedBuf = new Float64Array(Math.max(n0, this.queuedBuf.length * 2));
    const qb = this.queuedBuf;
    const d = this.wants(n0);
    // (Room for every position: a read past the end would make the comparison below a generic one.)
    if (this.lastWants.length < d.length) this.lastWants = grown(this.lastWants, d.length);
    const lw = this.lastWants;
    let changed = false;
    let queues = false;
    for (let i = 0; i < this.nAct; ) {
      const s = act[i]!;
      while (this.size[s]! > 0) {
        const h = first[s]!;
        if (!arrivedAll[h] || this.bytesOf(h) - served[h]! > eps(this.bytesOf(h))) break;
        const job = this.jobOf(h);
        this.shift(s);
        this.release(h);
        this.host.served(this as unknown as RecvPort, job);
      }
      if (this.size[s] === 0) {
        arr[s] = 0;
        this.lastCredit[s] = -1;
        this.deactivate(i);
        this.sharesStale = true;
        continue;
      }
      let q = 0;
      for (let j = first[s]!; j !== NONE; j = this.nextOf(j)) q += arrived[j]! - served[j]!;
      qb[i] = q;
      const di = q > EPS1 ? Infinity : arr[s]!;
      if (di === Infinity) queues = true;
      d[i] = di;
      if (di !== lw[i]) changed = true;
      i++;
    }
    const n = this.nAct;
    if (n === 0) {
      if (this.busyStart >= 0) {
        this.busyEnd = time;
        this.closeBusy();
      }
      return;
    }
    let fair = this.lastFair;
    if (changed || this.sharesStale || n !== this.lastN) {
      this.waterFill();
      fair = this.share;
      for (let i = 0; i < n; i++) lw[i] = d[i]!;
      this.lastN = n;
      this.lastFair = fair;
      this.sharesStale = false;
    }
    // The credit: the fair level while bytes queue here (saturated), no limit while everything
    // that arrives is served at once (the port is then nobody's bottleneck). With a queue known
    // already, the level is known before the pass over the streams, and the credits are found in it.
    this.telling = fair;
    const rate = this.rate;
    let total = 0;
    let next = Infinity;
    let saturated = queues;
    for (let i = 0; i < n; i++) {
      const s = act[i]!;
      const r = rate[s]!;
      const a = arr[s]!;
      total += r;
      const q = qb[i]!;
      if (r < a * (1 - 1e-12)) saturated = true; // a queue starts now
      if (q > EPS1) {
        // A queue served as fast as it fills (to rounding) keeps its bytes until the stream ends.
        if (r - a > 1e-9 * r) {
          const t = time + q / (r - a);
          if (t < next) next = t;
        }
      }
      const h = first[s]!;
      if (arrivedAll[h] && r > 0) {
        const t = time + (this.bytesOf(h) - served[h]!) / r;
        if (t < next) next = t;
      }
      if (queues) this.tell(s);
    }
    const level = saturated ? fair : Infinity;
    this.level = level;
    this.telling = level;
    if (!queues) for (let i = 0; i < n; i++) this.tell(act[i]!);
    const keys = this.keys;
    if (keys.n > 0) {
      this.host.credit(this as unknown as RecvPort, keys.n);
      keys.n = 0;
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
      this.host.timer(this as unknown as RecvPort);
    } else if (next > this.timerAt) this.quiet();
  }

  /** The level {@link tell} tells (a field: a float argument would be boxed). */
  private telling = 0;

  /**
   * Tell stream `s`'s sender the level `telling` only when it changes its rate by more than the
   * credit resolution: a level below what it sends, or a higher one when it was held at the old
   * level (to the send resolution: a sender may keep a rate that close under its cap), or nothing
   * heard yet.
   */

  private tell(s: number): void {
    const level = this.telling;
    const last = this.lastCredit[s]!;
    const a = this.arr[s]!;
    if (last < 0 || (level < last && level < a * (1 - CREDIT_RESOLUTION)) || (last <= a * (1 + SEND_RESOLUTION) && level > last * (1 + CREDIT_RESOLUTION))) {
      this.lastCredit[s] = level;
      this.keys.push(this.key[s]!);
    }
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
    const { act, rate, arr, first, last, eArrived: arrived, eServed: served, eArrRate: arrRate, eAll: arrivedAll } = this;
    const qb = this.queuedBuf;
    let next = Infinity;
    for (let i = 0, n = this.nAct; i < n; i++) {
      const s = act[i]!;
      const r = rate[s]!;
      const jl = last[s]!;
      const arrivedLast = !arrivedAll[jl] && arrRate[jl]! > 0 ? Math.min(this.bytesOf(jl), arrived[jl]! + arrRate[jl]! * dt) : arrived[jl]!;
      let give = r * dt;
      let queued = 0;
      const h = first[s]!;
      let headServed = 0;
      for (let j = h; ; j = this.nextOf(j)) {
        const a = j === jl ? arrivedLast : arrived[j]!;
        let sv = served[j]!;
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
      if (arrivedAll[h] && !(this.bytesOf(h) - headServed > eps(this.bytesOf(h)))) return; // served there
      const queues = queued > EPS1;
      if (queues !== qb[i]! > EPS1) return; // a queue starts or ends there
      if (queues && r - arr[s]! > 1e-9 * r) {
        const t = at + queued / (r - arr[s]!);
        if (t < next) next = t;
      }
      if (arrivedAll[h] && r > 0) {
        const t = at + (this.bytesOf(h) - headServed) / r;
        if (t < next) next = t;
      }
    }
    if (next !== Infinity) next = timerAfter(at, next);
    this.quietAt = at;
    this.timerAt = next;
    this.host.timer(this as unknown as RecvPort);
  }
}
