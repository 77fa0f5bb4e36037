/**
 * @module
 * The discrete-event queue of one engine: a 4-ary min-heap ordered by (time, rank, seq). `rank` is
 * the rank whose action scheduled the event and `seq` that rank's own counter, so the order of two
 * events never depends on which thread they were scheduled on. Rank and seq are packed into one
 * exact float64 (`rank * 2^32 + seq`; ranks < 4096, seqs < 2^32), so a comparison reads two numbers.
 *
 * Layout (measured on a replay of EP16's 3.2M queue operations: 10% less time than five parallel
 * arrays): the heap holds only what sifting compares and moves, `(time, key)` pairs interleaved in
 * one Float64Array (a node's four children are 64 contiguous bytes) and, beside it, each entry's
 * slot. An event's payload (`kind`, `arg`, its object: a task, a port, a batch) is written once
 * into its slot at push and read once at pop, never moved; slots are recycled through a free stack,
 * so nothing is allocated per event.
 *
 * No two queued events share a (time, key): a rank never reuses a seq, and the engine's link event
 * (the one fixed key, rank 4095 and seq 2^31 - 1) is queued at most once per instant. (Checked with
 * an assertion on every push of the engine's and kernels' unit tests and of the DeepEP normal EP16
 * and low-latency EP8 / EP32 benchmarks; the port timers and settles that once shared a key are one
 * link event per instant now.) So the order of pops is the order of (time, key) alone, whatever the
 * layout; two equal ones would pop in some order, not a promised one.
 */
import { DOUBLE } from './field-init.js';

const SEQ_SPAN = 4294967296;

export class EventQueue {
  /** Heap entries: time at 2i, key at 2i + 1. */
  private tk: Float64Array;
  /** Per heap entry: its payload slot. */
  private ref: Int32Array;
  /**
   * Payloads by slot: kind at 2 slot and argument at 2 slot + 1 (one cache line for both, read
   * together at every pop), and the object (null when free).
   */
  private pay: Float64Array;
  private obj: unknown[];
  /** Free slots (a stack). */
  private free: Int32Array;
  private nFree: number;
  private cap: number;
  private n = 0;

  /** Fields of the event last returned by {@link pop}. */
  popTime = DOUBLE;
  popKey = DOUBLE;
  popKind = DOUBLE;
  popArg = DOUBLE;
  popObj: unknown = null;

  constructor(capacity = 1024) {
    const c = Math.max(1, capacity);
    this.cap = c;
    this.tk = new Float64Array(2 * c);
    this.ref = new Int32Array(c);
    this.pay = new Float64Array(2 * c);
    this.obj = new Array<unknown>(c).fill(null);
    this.free = new Int32Array(c);
    for (let i = 0; i < c; i++) this.free[i] = c - 1 - i;
    this.nFree = c;
    // Declared DOUBLE (read from Float64Arrays: double from the first queue on, see field-init.ts), start at 0.
    this.popTime = this.popKey = this.popKind = this.popArg = this.at = 0;
  }

  get size(): number {
    return this.n;
  }

  /** Rank and seq of the event last popped (from its key). */
  get popRank(): number {
    return Math.floor(this.popKey / SEQ_SPAN);
  }
  get popSeq(): number {
    return this.popKey - this.popRank * SEQ_SPAN;
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTime(): number {
    return this.n > 0 ? this.tk[0]! : Infinity;
  }

  /** Key (rank * 2^32 + seq) of the earliest event; only when not empty. */
  peekKey(): number {
    return this.tk[1]!;
  }

  /**
   * The time of the event {@link pushAt} adds: a field, not an argument, since a float passed to a
   * call V8 does not inline is boxed as a heap number (an allocation per event).
   */
  at = DOUBLE;

  push(time: number, rank: number, seq: number, kind: number, arg: number, obj: unknown): void {
    this.at = time;
    this.pushAt(rank, seq, kind, arg, obj);
  }

  /** {@link push} an event at time {@link at}. */
  pushAt(rank: number, seq: number, kind: number, arg: number, obj: unknown): void {
    const time = this.at;
    if (this.n === this.cap) this.grow();
    const key = rank * SEQ_SPAN + seq;
    const slot = this.free[--this.nFree]!;
    this.obj[slot] = obj;
    this.pay[2 * slot] = kind;
    this.pay[2 * slot + 1] = arg;
    let i = this.n++;
    const TK = this.tk, R = this.ref;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = TK[2 * p]!;
      if (pt < time || (pt === time && TK[2 * p + 1]! < key)) break;
      TK[2 * i] = pt; TK[2 * i + 1] = TK[2 * p + 1]!; R[i] = R[p]!;
      i = p;
    }
    TK[2 * i] = time; TK[2 * i + 1] = key; R[i] = slot;
  }

  /** Remove the earliest event into the `pop*` fields. Returns false when empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    const TK = this.tk, R = this.ref;
    this.popTime = TK[0]!;
    this.popKey = TK[1]!;
    const s0 = R[0]!;
    this.popKind = this.pay[2 * s0]!;
    this.popArg = this.pay[2 * s0 + 1]!;
    this.popObj = this.obj[s0];
    this.obj[s0] = null;
    this.free[this.nFree++] = s0;
    const last = --this.n;
    if (last === 0) return true;
    const t = TK[2 * last]!, k = TK[2 * last + 1]!, r = R[last]!;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= last) break;
      // The least of up to four children.
      let c = first;
      let ct = TK[2 * c]!, ck = TK[2 * c + 1]!;
      const end = first + 4 < last ? first + 4 : last;
      for (let j = first + 1; j < end; j++) {
        const jt = TK[2 * j]!;
        if (jt < ct || (jt === ct && TK[2 * j + 1]! < ck)) {
          c = j;
          ct = jt;
          ck = TK[2 * j + 1]!;
        }
      }
      if (t < ct || (t === ct && k < ck)) break;
      TK[2 * i] = ct; TK[2 * i + 1] = ck; R[i] = R[c]!;
      i = c;
    }
    TK[2 * i] = t; TK[2 * i + 1] = k; R[i] = r;
    return true;
  }

  private grow(): void {
    const old = this.cap;
    const cap = old * 2;
    const tk = new Float64Array(2 * cap); tk.set(this.tk); this.tk = tk;
    const ref = new Int32Array(cap); ref.set(this.ref); this.ref = ref;
    const pay = new Float64Array(2 * cap); pay.set(this.pay); this.pay = pay;
    this.obj.length = cap;
    this.obj.fill(null, old);
    // Every slot is in use when the heap is full: the new ones are the free ones.
    const free = new Int32Array(cap);
    for (let i = 0; i < cap - old; i++) free[i] = cap - 1 - i;
    this.free = free;
    this.nFree = cap - old;
    this.cap = cap;
  }
}
