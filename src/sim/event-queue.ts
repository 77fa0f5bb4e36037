/**
 * @module
 * The discrete-event queue of one engine: a binary min-heap in parallel typed arrays, ordered by
 * (time, rank, seq). `rank` is the rank whose action scheduled the event and `seq` that rank's own
 * counter, so the order of two events never depends on which thread they were scheduled on.
 * Event payloads (`kind`, `arg`, `obj`) ride along in the same slots: no per-event allocation.
 */

export class EventQueue {
  private time: Float64Array;
  private rank: Int32Array;
  private seq: Float64Array;
  private kind: Uint8Array;
  private arg: Float64Array;
  private obj: unknown[];
  private n = 0;

  /** Key fields of the event last returned by {@link pop}. */
  popTime = 0;
  popRank = 0;
  popSeq = 0;
  popKind = 0;
  popArg = 0;
  popObj: unknown = null;

  constructor(capacity = 1024) {
    this.time = new Float64Array(capacity);
    this.rank = new Int32Array(capacity);
    this.seq = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.arg = new Float64Array(capacity);
    this.obj = new Array<unknown>(capacity).fill(null);
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
    let i = this.n++;
    const T = this.time, R = this.rank, S = this.seq, K = this.kind, A = this.arg, O = this.obj;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = T[p]!;
      if (pt < time || (pt === time && (R[p]! < rank || (R[p] === rank && S[p]! < seq)))) break;
      T[i] = pt; R[i] = R[p]!; S[i] = S[p]!; K[i] = K[p]!; A[i] = A[p]!; O[i] = O[p];
      i = p;
    }
    T[i] = time; R[i] = rank; S[i] = seq; K[i] = kind; A[i] = arg; O[i] = obj;
  }

  /** Remove the earliest event into the `pop*` fields. Returns false when empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    const T = this.time, R = this.rank, S = this.seq, K = this.kind, A = this.arg, O = this.obj;
    this.popTime = T[0]!; this.popRank = R[0]!; this.popSeq = S[0]!; this.popKind = K[0]!; this.popArg = A[0]!; this.popObj = O[0];
    const last = --this.n;
    if (last === 0) { O[0] = null; return true; }
    const t = T[last]!, r = R[last]!, s = S[last]!, k = K[last]!, a = A[last]!, o = O[last];
    O[last] = null;
    let i = 0;
    const half = last >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      const d = c + 1;
      if (d < last && (T[d]! < T[c]! || (T[d] === T[c] && (R[d]! < R[c]! || (R[d] === R[c] && S[d]! < S[c]!))))) c = d;
      const ct = T[c]!;
      if (t < ct || (t === ct && (r < R[c]! || (r === R[c] && s < S[c]!)))) break;
      T[i] = ct; R[i] = R[c]!; S[i] = S[c]!; K[i] = K[c]!; A[i] = A[c]!; O[i] = O[c];
      i = c;
    }
    T[i] = t; R[i] = r; S[i] = s; K[i] = k; A[i] = a; O[i] = o;
    return true;
  }

  private grow(): void {
    const cap = this.time.length * 2;
    const g = <T extends Float64Array | Int32Array | Uint8Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(cap);
      b.set(a);
      return b;
    };
    this.time = g(this.time, Float64Array);
    this.rank = g(this.rank, Int32Array);
    this.seq = g(this.seq, Float64Array);
    this.kind = g(this.kind, Uint8Array);
    this.arg = g(this.arg, Float64Array);
    this.obj.length = cap;
    this.obj.fill(null, this.n);
  }
}
