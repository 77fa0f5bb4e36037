/**
 * @module
 * A link port (one GPU's NVLink or NIC, one direction) that shares its bandwidth fairly among the
 * transfers on it (processor sharing), with one queue per peer: transfers to (or from) the same peer
 * are served first-in first-out, as a NIC serves the work requests of one queue pair in order, and
 * the heads of all peers' queues share the port equally.
 *
 * Fairness is tracked in virtual work: while `n` jobs are active, every one of them receives
 * `capacity / n` bytes per microsecond, so a job that starts at virtual work `V0` finishes when the
 * port's virtual work reaches `V0 + bytes`; active jobs therefore finish in `finishV` order and sit
 * in a min-heap on it. The port keeps at most one completion timer pending: adding a job can only
 * postpone the earliest completion, so an existing timer is left to fire (early, harmlessly) and
 * re-arm, rather than scheduling a new event per job.
 */

/** A job on a port: the transfer it serves carries these fields. */
export interface PortJob {
  /** Bytes to move through the port. */
  bytes: number;
  /** Peer rank: jobs with the same peer are served in order. */
  peer: number;
  /** Virtual work at which the job completes (set by the port). */
  finishV: number;
}

/** What the port needs from the engine it lives in. */
export interface PortHost<J extends PortJob> {
  /** Schedule `port.onTimer(time, generation)` at `time`, keyed by the port's owner rank. */
  scheduleTimer(port: ProcessorSharingPort<J>, time: number, generation: number): void;
  /** The job has started being served (the head of its peer's queue). */
  jobStarted(port: ProcessorSharingPort<J>, job: J, time: number): void;
  /** The job's last byte has left the port. */
  jobDone(port: ProcessorSharingPort<J>, job: J, time: number): void;
}

/** Relative tolerance under which a job counts as finished when its timer fires. */
const FINISH_EPS = 1e-9;

export class ProcessorSharingPort<J extends PortJob> {
  /** Virtual work served to each active job so far. */
  private v = 0;
  private lastT = 0;
  /** Active jobs, a binary min-heap on (finishV, peer). */
  private readonly heap: J[] = [];
  /** Per peer rank: jobs queued behind the one in service (arrays indexed by rank: no hashing). */
  private readonly waiting: Array<J[] | undefined> = [];
  private readonly busyPeers: boolean[] = [];
  private timerAt = Infinity;
  private timerGen = 0;
  /** Total bytes completed, for statistics. */
  bytesDone = 0;

  constructor(
    readonly owner: number,
    /** Index of this port on its owner (protocol PORT_* constant). */
    readonly index: number,
    /** Capacity, bytes per microsecond (GB/s * 1e3). */
    readonly bytesPerUs: number,
    private readonly host: PortHost<J>,
  ) {}

  get activeJobs(): number {
    return this.heap.length;
  }

  /** Add a job at `time` (not earlier than the port's last update). */
  enqueue(job: J, time: number): void {
    if (this.busyPeers[job.peer] === true) {
      let q = this.waiting[job.peer];
      if (!q) this.waiting[job.peer] = q = [];
      q.push(job);
      return;
    }
    this.advance(time);
    this.start(job, time);
    this.arm(time);
  }

  /** The completion timer fired. Superseded timers are ignored. */
  onTimer(time: number, generation: number): void {
    if (generation !== this.timerGen) return;
    this.timerAt = Infinity;
    this.advance(time);
    const h = this.heap;
    const n = h.length;
    if (n > 0) {
      const min = h[0]!.finishV;
      // Rounding can leave v a hair short of the job the timer was computed for.
      if (min - this.v <= FINISH_EPS * Math.max(1, min)) this.v = min;
    }
    while (h.length > 0 && h[0]!.finishV <= this.v) {
      const j = this.pop();
      this.busyPeers[j.peer] = false;
      this.bytesDone += j.bytes;
      this.host.jobDone(this, j, time);
      const q = this.waiting[j.peer];
      if (q !== undefined && q.length > 0) this.start(q.shift()!, time);
    }
    this.arm(time);
  }

  private start(job: J, time: number): void {
    job.finishV = this.v + job.bytes;
    this.busyPeers[job.peer] = true;
    this.push(job);
    this.host.jobStarted(this, job, time);
  }

  private advance(time: number): void {
    if (time <= this.lastT) return;
    const n = this.heap.length;
    if (n > 0) this.v += ((time - this.lastT) * this.bytesPerUs) / n;
    this.lastT = time;
  }

  /** Make sure a timer is pending no later than the earliest completion. */
  private arm(time: number): void {
    const h = this.heap;
    if (h.length === 0) return;
    const t = time + ((h[0]!.finishV - this.v) * h.length) / this.bytesPerUs;
    if (t >= this.timerAt) return;
    this.timerAt = t;
    this.host.scheduleTimer(this, t, ++this.timerGen);
  }

  private less(a: J, b: J): boolean {
    return a.finishV < b.finishV || (a.finishV === b.finishV && a.peer < b.peer);
  }

  private push(j: J): void {
    const h = this.heap;
    let i = h.length;
    h.push(j);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(j, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = j;
  }

  private pop(): J {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && this.less(h[c + 1]!, h[c]!)) c++;
        if (!this.less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
