/**
 * @module
 * Conservative window synchronisation between hosts, worker to worker on shared memory: the
 * shared block (layout `SYNC_*` in `protocol.ts`), a barrier on it with Atomics, the packet rings
 * of every ordered host pair, and the window bounds each host may safely run to.
 *
 * A round, one barrier: every host publishes its next event time, the earliest packet it wrote
 * to each other host, how many of its ranks still run and its failures; barrier; every host reads
 * the same published values, so all take the same decision (stop, or each host's bound); each
 * drains its inbound rings, runs its events before its bound, writes its packets to the rings and
 * publishes again. The main thread only creates the block, wakes waiters (close, abort, a dead
 * worker) and reads progress.
 */
import { ExpertmeshError } from '../errors.js';
import { PacketRing } from '../transport/packet-ring.js';
import {
  RING_DEFAULT_BYTES, RING_MIN_BYTES, RING_TOTAL_BYTES, SYNC_ABORT, SYNC_ABORT_NONE, SYNC_BARRIER_COUNT, SYNC_BARRIER_GEN, SYNC_DOORBELL, SYNC_F_FAILED,
  SYNC_F_NEXT, SYNC_F_NOW, SYNC_F_REMAINING, SYNC_F_SENT, SYNC_F_SLOTS, SYNC_FAULT, SYNC_INT_HEADER, SYNC_SLOW, SYNC_SLOW_MS, SYNC_WINDOWS,
} from '../transport/protocol.js';

/** What the main thread hands every host so they share one block and one set of rings. */
export interface SyncBuffers {
  workers: number;
  /** The SYNC_* block. */
  sync: SharedArrayBuffer;
  /** Every ring, `ringIndex(from, to)` in order, each `PacketRing.byteLength(ringBytes)` long. */
  rings: SharedArrayBuffer;
  ringBytes: number;
  /** Window bound matrix: `lookahead[from * workers + to]`, us (see {@link windowBounds}). */
  lookahead: Float64Array;
}

/** Most checks of the barrier generation before a host sleeps on its doorbell (~30 us). */
const BARRIER_SPINS = 2000;
/** Fewest: after spins that all ended asleep, a host spins this little (see SyncBlock.arrive). */
const BARRIER_SPINS_MIN = 16;
/** A host whose spin shrank spins in full again at every this many barriers (the machine may have got quiet). */
const BARRIER_RESPIN = 64;

/**
 * Longest sleep of a waiting host between looks at the progress of the hosts it waits for, ms (a
 * slow host does not ring the waiter's doorbell when it progresses).
 */
export const PROGRESS_POLL_MS = 50;

// Header, then per host: doorbell, barrier arrival, heartbeat, progress, waiting flag, busy flag
// (even, so the float64 slots that follow are 8-byte aligned).
const intWords = (workers: number): number => (SYNC_INT_HEADER + 6 * workers + 1) & ~1;
// Float64 slots: two round copies of the published state per host.
const f64Words = (workers: number): number => 2 * workers * (SYNC_F_SLOTS + workers);

/** Allocate the shared block and rings of a cluster of `workers` hosts (once, at creation). */
export function createSyncBuffers(workers: number, lookahead: Float64Array, ringBytes = defaultRingBytes(workers)): SyncBuffers {
  const pairs = workers * (workers - 1);
  return {
    workers,
    sync: new SharedArrayBuffer(intWords(workers) * 4 + f64Words(workers) * 8),
    rings: new SharedArrayBuffer(Math.max(8, pairs * PacketRing.byteLength(ringBytes))),
    ringBytes,
    lookahead,
  };
}

/** Ring size for `workers` hosts: RING_DEFAULT_BYTES, shrunk (to a power of two) so all rings stay near RING_TOTAL_BYTES. */
export function defaultRingBytes(workers: number): number {
  let b = RING_DEFAULT_BYTES;
  while (b > RING_MIN_BYTES && b * workers * (workers - 1) > RING_TOTAL_BYTES) b >>= 1;
  return b;
}

/** Index of the ring carrying packets from host `from` to host `to` (from !== to). */
export function ringIndex(from: number, to: number, workers: number): number {
  return from * (workers - 1) + (to < from ? to : to - 1);
}

/** Typed views of a {@link SyncBuffers}, one per thread. */
export class SyncBlock {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly workers: number;
  /** Barrier waits of this thread that went to sleep (statistics; the owner resets it). */
  sleeps = 0;
  /** This thread's current spin before it sleeps at a barrier (see {@link arrive}). */
  private spins = BARRIER_SPINS;
  /** Barriers since the last full spin (every BARRIER_RESPIN-th one spins in full again). */
  private sinceFullSpin = 0;
  private readonly arrivedBase: number;
  private readonly heartbeatBase: number;
  private readonly progressBase: number;

  constructor(readonly buffers: SyncBuffers) {
    const w = buffers.workers;
    this.workers = w;
    this.i32 = new Int32Array(buffers.sync, 0, intWords(w));
    this.f64 = new Float64Array(buffers.sync, intWords(w) * 4, f64Words(w));
    this.arrivedBase = SYNC_DOORBELL + w;
    this.heartbeatBase = SYNC_DOORBELL + 2 * w;
    this.progressBase = SYNC_DOORBELL + 3 * w;
    this.waitingBase = SYNC_DOORBELL + 4 * w;
    this.busyBase = SYNC_DOORBELL + 5 * w;
  }

  private readonly waitingBase: number;
  private readonly busyBase: number;

  /**
   * Host `w` is (1) or is no longer (0) busy with its window: draining, running its events, writing
   * its packets; not while it waits (barrier, ring room) or before its first window. A host waiting
   * for a busy one does not give up on it: progress moves only between events, and a single event
   * may outlast `timeoutMs` (a link instant with thousands of transfers, in code not yet compiled,
   * on a loaded machine). A busy host that never finishes is the main thread's watchdog's to end
   * (its heartbeat stands still for twice `timeoutMs`), and the abort that follows wakes every
   * waiter; one whose virtual time stands still is ended by its own watchdog.
   */
  setBusy(w: number, on: number): void {
    Atomics.store(this.i32, this.busyBase + w, on);
  }

  /** Index in `i32` of host `w`'s busy flag. */
  busyIndex(w: number): number {
    return this.busyBase + w;
  }

  /** Whether host `w` is busy with its window (see {@link setBusy}). */
  busy(w: number): boolean {
    return Atomics.load(this.i32, this.busyBase + w) !== 0;
  }

  /** Host `w` is (1) or is no longer (0) asleep waiting for room in a packet ring. */
  setWaiting(w: number, on: number): void {
    Atomics.store(this.i32, this.waitingBase + w, on);
  }

  /** Wake host `w` if it sleeps waiting for ring room (see {@link setWaiting}). */
  wakeIfWaiting(w: number): void {
    if (Atomics.load(this.i32, this.waitingBase + w) !== 0) this.wake(w);
  }

  /**
   * Host `w` made progress: it ran a slice of events or ended a window. Unlike its heartbeat, this
   * does not move while it waits, so a host waiting for `w` restarts its deadline while `w` works
   * (however slowly) and gives up only after `timeoutMs` without any progress.
   */
  advance(w: number): void {
    Atomics.add(this.i32, this.progressBase + w, 1);
  }

  /** Host `w`'s progress count (see {@link advance}). */
  progress(w: number): number {
    return Atomics.load(this.i32, this.progressBase + w);
  }

  /** Host `w` is alive and working: it beats between slices of a window and while it waits. */
  beat(w: number): void {
    Atomics.add(this.i32, this.heartbeatBase + w, 1);
  }

  /** Host `w`'s heartbeat count (the main thread's watchdog watches it move). */
  heartbeat(w: number): number {
    return Atomics.load(this.i32, this.heartbeatBase + w);
  }

  /** The ring from `from` to `to`. */
  ring(from: number, to: number): PacketRing {
    const b = this.buffers;
    return new PacketRing(b.rings, ringIndex(from, to, b.workers) * PacketRing.byteLength(b.ringBytes), b.ringBytes);
  }

  /** Wake host `w` (its doorbell moves, so a wait on it returns). */
  wake(w: number): void {
    Atomics.add(this.i32, SYNC_DOORBELL + w, 1);
    Atomics.notify(this.i32, SYNC_DOORBELL + w);
  }

  wakeAll(): void {
    for (let w = 0; w < this.workers; w++) this.wake(w);
  }

  /** Index in `i32` of host `w`'s doorbell. */
  doorbellIndex(w: number): number {
    return SYNC_DOORBELL + w;
  }

  doorbell(w: number): number {
    return Atomics.load(this.i32, SYNC_DOORBELL + w);
  }

  get abort(): number {
    return Atomics.load(this.i32, SYNC_ABORT);
  }

  /** Ask every host to leave its loop (main thread: close, abort signal, a dead worker). */
  setAbort(reason: number): void {
    Atomics.store(this.i32, SYNC_ABORT, reason);
    this.wakeAll();
  }

  /** Before a run (main thread, every host idle): clear the barrier, abort flag and progress. */
  resetForRun(): void {
    Atomics.store(this.i32, SYNC_BARRIER_COUNT, 0);
    Atomics.store(this.i32, SYNC_ABORT, SYNC_ABORT_NONE);
    Atomics.store(this.i32, SYNC_WINDOWS, 0);
    for (let w = 0; w < this.workers; w++) {
      Atomics.store(this.i32, this.arrivedBase + w, 0);
      Atomics.store(this.i32, this.waitingBase + w, 0);
      Atomics.store(this.i32, this.busyBase + w, 0);
    }
  }

  get windows(): number {
    return Atomics.load(this.i32, SYNC_WINDOWS);
  }

  set windows(n: number) {
    Atomics.store(this.i32, SYNC_WINDOWS, n);
  }

  /** Fault injection (tests): the host that must exit mid-window, or -1. */
  get faultWorker(): number {
    return Atomics.load(this.i32, SYNC_FAULT) - 1;
  }

  injectExit(w: number): void {
    Atomics.store(this.i32, SYNC_FAULT, w + 1);
    this.wake(w);
  }

  /**
   * Fault injection (tests): host `w` spends `ms` of wall-clock time inside its next window, making
   * progress every few ms (`ms > 0`: a slow but working host), or none at all (`ms < 0`: a host
   * that stopped, for `-ms` or until the run is aborted).
   */
  injectSlow(w: number, ms: number): void {
    Atomics.store(this.i32, SYNC_SLOW_MS, ms);
    Atomics.store(this.i32, SYNC_SLOW, w + 1);
  }

  /** The injected slowness host `w` must take now (ms, see {@link injectSlow}; 0: none), consumed. */
  takeSlow(w: number): number {
    if (Atomics.load(this.i32, SYNC_SLOW) !== w + 1) return 0;
    if (Atomics.compareExchange(this.i32, SYNC_SLOW, w + 1, 0) !== w + 1) return 0;
    return Atomics.load(this.i32, SYNC_SLOW_MS);
  }

  private base(parity: number, w: number): number {
    return (parity * this.workers + w) * (SYNC_F_SLOTS + this.workers);
  }

  /** Publish host `w`'s state for the round of `parity`; `sent[to]`: earliest packet written to `to`. */
  publish(parity: number, w: number, next: number, remaining: number, failed: number, now: number, sent: Float64Array): void {
    const o = this.base(parity, w);
    this.f64[o + SYNC_F_NEXT] = next;
    this.f64[o + SYNC_F_REMAINING] = remaining;
    this.f64[o + SYNC_F_FAILED] = failed;
    this.f64[o + SYNC_F_NOW] = now;
    this.f64.set(sent, o + SYNC_F_SENT);
  }

  /** A published field (SYNC_F_*) of host `w` for the round of `parity`. */
  slot(parity: number, w: number, field: number): number {
    return this.f64[this.base(parity, w) + field]!;
  }

  /** Whether any host but `me` is busy with its window (see {@link setBusy}). */
  othersBusy(me: number): boolean {
    for (let w = 0; w < this.workers; w++) if (w !== me && Atomics.load(this.i32, this.busyBase + w) !== 0) return true;
    return false;
  }

  /** Sum of the progress counts of every host but `me` (int32 wrap-around is harmless: only changes matter). */
  totalProgress(me: number): number {
    let p = 0;
    for (let w = 0; w < this.workers; w++) if (w !== me) p = (p + Atomics.load(this.i32, this.progressBase + w)) | 0;
    return p;
  }

  /** The earliest moment anything is due on host `p` in the round of `parity`: its next event or a packet sent to it. */
  due(parity: number, p: number): number {
    let t = this.slot(parity, p, SYNC_F_NEXT);
    for (let q = 0; q < this.workers; q++) if (q !== p) t = Math.min(t, this.slot(parity, q, SYNC_F_SENT + p));
    return t;
  }

  /**
   * Arrive at the barrier as host `me` and wait for the others. While waiting, `idle()` runs (it
   * drains inbound rings; true when it found something, so the wait re-checks at once). Returns
   * false if the block was aborted. The deadline restarts whenever a host still running its window
   * makes progress, and stays open while one is busy (see {@link setBusy}: a long window, or a long
   * event, on a busy machine is not a failure); throws `E_TIMEOUT` naming the hosts that did not
   * arrive when for `timeoutMs` none of them progressed or was busy (they all waited, or stopped).
   * Atomics.wait always has a deadline, and the main thread can wake it.
   */
  arrive(me: number, timeoutMs: number, idle: () => boolean, ranksOf: (w: number) => string): boolean {
    const i32 = this.i32;
    const gen = Atomics.load(i32, SYNC_BARRIER_GEN);
    Atomics.store(i32, this.arrivedBase + me, gen + 1);
    if (Atomics.add(i32, SYNC_BARRIER_COUNT, 1) === this.workers - 1) {
      // Reset before the generation moves: nobody leaves (and arrives again) before it does.
      Atomics.store(i32, SYNC_BARRIER_COUNT, 0);
      Atomics.add(i32, SYNC_BARRIER_GEN, 1);
      for (let w = 0; w < this.workers; w++) if (w !== me) this.wake(w);
      return true;
    }
    // Spin briefly first: when the other hosts run on other cores and arrive within microseconds,
    // a sleep/wake-up through the kernel costs more than that. Adaptive: a spin that ended asleep
    // halves the next one (on a loaded machine, or with unequal windows, the others arrive
    // milliseconds later: measured, 3 waits in 1,000 ended within a 2,000-check spin, and the
    // spin takes CPU from the host still running), one that caught the others restores it, and
    // so does every BARRIER_RESPIN-th barrier.
    if (++this.sinceFullSpin >= BARRIER_RESPIN) this.spins = BARRIER_SPINS;
    const spins = this.spins;
    if (spins === BARRIER_SPINS) this.sinceFullSpin = 0;
    for (let spin = 0; spin < spins; spin++) {
      if (Atomics.load(i32, SYNC_BARRIER_GEN) !== gen) {
        this.spins = BARRIER_SPINS;
        return true;
      }
    }
    this.spins = Math.max(BARRIER_SPINS_MIN, spins >> 1);
    const deadline = new PeerDeadline(this, me, -1, timeoutMs, performance.now());
    for (;;) {
      this.beat(me);
      const d = Atomics.load(i32, SYNC_DOORBELL + me);
      if (Atomics.load(i32, SYNC_BARRIER_GEN) !== gen) return true;
      if (Atomics.load(i32, SYNC_ABORT) !== SYNC_ABORT_NONE) return false;
      if (idle()) continue;
      // Only hosts that have not arrived advance or are busy (an arrived host waits): all are theirs.
      const left = deadline.left(performance.now());
      if (left <= 0) {
        const late: number[] = [];
        for (let w = 0; w < this.workers; w++) if (Atomics.load(i32, this.arrivedBase + w) !== gen + 1) late.push(w);
        throw new ExpertmeshError(
          'E_TIMEOUT',
          `host worker ${me} waited ${timeoutMs} ms at a window barrier for ${late.map((w) => `host worker ${w} (ranks ${ranksOf(w)})`).join(', ')}, which made no progress meanwhile`,
          { worker: me, waitingFor: late, timeoutMs },
        );
      }
      // Wake up at least every PROGRESS_POLL_MS to look at the others' progress.
      this.sleeps++;
      Atomics.wait(i32, SYNC_DOORBELL + me, d, Math.min(left, PROGRESS_POLL_MS));
    }
  }
}

/**
 * The deadline of a host waiting for others (at a barrier: every other host; for ring room: its
 * reader). It restarts whenever one of them progresses ({@link SyncBlock.advance}) or another sign
 * of progress moves (the ring's freed bytes), and stays open while one is busy with its window
 * ({@link SyncBlock.setBusy}); it expires after `timeoutMs` without any of these: the hosts waited
 * for are themselves waiting, or stopped.
 */
export class PeerDeadline {
  private seen: number;
  private until: number;

  /**
   * `peer`: the host waited for, or -1 for every host but `me`; `seenOther`: the other sign of
   * progress now (see {@link left}).
   */
  constructor(
    private readonly sync: SyncBlock, private readonly me: number, private readonly peer: number, private readonly timeoutMs: number, now: number,
    private seenOther = 0,
  ) {
    this.seen = this.progress();
    this.until = now + timeoutMs;
  }

  private progress(): number {
    return this.peer < 0 ? this.sync.totalProgress(this.me) : this.sync.progress(this.peer);
  }

  private busy(): boolean {
    return this.peer < 0 ? this.sync.othersBusy(this.me) : this.sync.busy(this.peer);
  }

  /** Ms left at `now` (<= 0: expired), after a look at the hosts waited for and at `other`, the other sign of progress. */
  left(now: number, other = this.seenOther): number {
    const p = this.progress();
    if (p !== this.seen || other !== this.seenOther || this.busy()) {
      this.seen = p;
      this.seenOther = other;
      this.until = now + this.timeoutMs;
    }
    return this.until - now;
  }
}

/**
 * The bound each host may run to, from the published next-event times (conservative: nothing any
 * host can still send reaches another before that bound). `lookahead[p * W + w]` is the least time
 * from an event on host p to its effect on host w. The earliest time anything can happen on p is
 * `E_p = min(next_p, min_q E_q + lookahead[q][p])` (a fixed point: a host with no events can still
 * be woken by another's packets, and answer); host w's bound is `min_{p != w} E_p + lookahead[p][w]`.
 * Writes the bounds into `out`; with one host the bound is Infinity.
 */
export function windowBounds(next: ArrayLike<number>, lookahead: ArrayLike<number>, workers: number, earliest: Float64Array, out: Float64Array): void {
  for (let p = 0; p < workers; p++) earliest[p] = next[p]!;
  // Bellman-Ford relaxation: at most workers - 1 rounds until nothing changes.
  for (let round = 1; round < workers; round++) {
    let changed = false;
    for (let q = 0; q < workers; q++) {
      const eq = earliest[q]!;
      if (eq === Infinity) continue;
      for (let p = 0; p < workers; p++) {
        if (p === q) continue;
        const t = eq + lookahead[q * workers + p]!;
        if (t < earliest[p]!) { earliest[p] = t; changed = true; }
      }
    }
    if (!changed) break;
  }
  let first = Infinity;
  for (let p = 0; p < workers; p++) if (next[p]! < first) first = next[p]!;
  for (let w = 0; w < workers; w++) {
    let b = Infinity;
    let hop = Infinity;
    for (let p = 0; p < workers; p++) {
      if (p === w) continue;
      const l = lookahead[p * workers + w]!;
      b = Math.min(b, earliest[p]! + l);
      if (l < hop) hop = l;
    }
    // In step, not in turn: when this host and another have events before this bound, run no further than
    // the earliest thing due anywhere plus one hop. Without this cap two busy hosts fall into
    // turns: the one ahead may run two hops (to the other's next + one hop), the other then has
    // nothing before its bound (the first's next + one hop), and from then on each window only one
    // of them works (measured: a third of the EP64 dispatch's windows). Capped, both run the same
    // window [first, first + hop) and the next round finds them level. A host whose peers have
    // nothing before its bound keeps the longer window. Only lowers a safe bound; still above
    // `first`, so the host holding it progresses.
    if (b > first + hop && next[w]! < b) {
      for (let p = 0; p < workers; p++) {
        if (p !== w && next[p]! < b) { b = first + hop; break; }
      }
    }
    out[w] = b;
  }
}
