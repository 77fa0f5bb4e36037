/**
 * @module
 * The discrete-event queue of one engine: a 4-ary min-heap in parallel typed arrays (half the levels
 * of a binary heap, and a node's children side by side), ordered by
 * (time, rank, seq). `rank` is the rank whose action scheduled the event and `seq` that rank's own
 * counter, so the order of two events never depends on which thread they were scheduled on. Rank
 * and seq are packed into one exact float64 (`rank * 2^32 + seq`; ranks < 4096, seqs < 2^32), so a
 * comparison reads two numbers. Event payloads (`kind`, `arg`) ride along in the same slots; an
 * event's object (a task, a port, a batch) waits in a slot table of its own, which the heap refers
 * to by index: sifting moves numbers only, and nothing is allocated per event.
 */

const SEQ_SPAN = 4294967296;

export class EventQueue {
  private time: Float64Array;
  private key: Float64Array;
  private kind: Uint8Array;
  private arg: Float64Array;
  /** Per heap entry: its slot in `obj`. */
  private ref: Int32Array;
  /** Objects of queued events, by slot (null when free), and the free slots (a stack). */
  private obj: unknown[];
  private free: Int32Array;
  private nFree: number;
  private n = 0;

  /** Fields of the event last returned by {@link pop}. */
  popTime = 0;
  popRank = 0;
  popSeq = 0;
  popKind = 0;
  popArg = 0;
  popObj: unknown = null;

  constructor(capacity = 1024) {
    this.time = new Float64Array(capacity);
    this.key = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.arg = new Float64Array(capacity);
    this.ref = new Int32Array(capacity);
    this.obj = new Array<unknown>(capacity).fill(null);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.nFree = capacity;
  }

  get size(): number {
    return this.n;
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTime(): number {
    return this.n > 0 ? this.time[0]! : Infinity;
  }

  push(time: number, rank: number, seq: number, kind: number, arg: number, obj: unknown): void {
    if (this.n === this.time.length) this.grow();
    const key = rank * SEQ_SPAN + seq;
    const slot = this.free[--this.nFree]!;
    this.obj[slot] = obj;
    let i = this.n++;
    const T = this.time, K = this.key, D = this.kind, A = this.arg, R = this.ref;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = T[p]!;
      if (pt < time || (pt === time && K[p]! < key)) break;
      T[i] = pt; K[i] = K[p]!; D[i] = D[p]!; A[i] = A[p]!; R[i] = R[p]!;
      i = p;
    }
    T[i] = time; K[i] = key; D[i] = kind; A[i] = arg; R[i] = slot;
  }

  /** Remove the earliest event into the `pop*` fields. Returns false when empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    const T = this.time, K = this.key, D = this.kind, A = this.arg, R = this.ref;
    this.popTime = T[0]!;
    const k0 = K[0]!;
    this.popRank = Math.floor(k0 / SEQ_SPAN);
    this.popSeq = k0 - this.popRank * SEQ_SPAN;
    this.popKind = D[0]!; this.popArg = A[0]!;
    const s0 = R[0]!;
    this.popObj = this.obj[s0];
    this.obj[s0] = null;
    this.free[this.nFree++] = s0;
    const last = --this.n;
    if (last === 0) return true;
    const t = T[last]!, k = K[last]!, d = D[last]!, a = A[last]!, r = R[last]!;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= last) break;
      // The least of up to four children.
      let c = first;
      let ct = T[c]!, ck = K[c]!;
      const end = first + 4 < last ? first + 4 : last;
      for (let j = first + 1; j < end; j++) {
        const jt = T[j]!;
        if (jt < ct || (jt === ct && K[j]! < ck)) {
          c = j;
          ct = jt;
          ck = K[j]!;
        }
      }
      if (t < ct || (t === ct && k < ck)) break;
      T[i] = ct; K[i] = ck; D[i] = D[c]!; A[i] = A[c]!; R[i] = R[c]!;
      i = c;
    }
    T[i] = t; K[i] = k; D[i] = d; A[i] = a; R[i] = r;
    return true;
  }

  private grow(): void {
    const old = this.time.length;
    const cap = old * 2;
    const g = <T extends Float64Array | Uint8Array | Int32Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(cap);
      b.set(a);
      return b;
    };
    this.time = g(this.time, Float64Array);
    this.key = g(this.key, Float64Array);
    this.kind = g(this.kind, Uint8Array);
    this.arg = g(this.arg, Float64Array);
    this.ref = g(this.ref, Int32Array);
    this.obj.length = cap;
    this.obj.fill(null, old);
    // Every slot is in use when the heap is full: the new ones are the free ones.
    const free = new Int32Array(cap);
    for (let i = 0; i < cap - old; i++) free[i] = cap - 1 - i;
    this.free = free;
    this.nFree = cap - old;
  }
}
