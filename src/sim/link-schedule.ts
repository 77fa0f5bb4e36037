/**
 * @module
 * When each link port of an engine is next due (to settle at the end of an instant, or for its own
 * timer): an indexed binary min-heap ordered by (time, port number), so the engine runs every port
 * due at an instant in one event, in the order the ports' own events would have run, and a port's
 * timer moves without leaving a stale event behind.
 */

/** What the heap orders: a port's due time, its number (the tie-break) and its place in the heap. */
export interface DueItem {
  /** When it is due (Infinity: not in the heap). */
  dueAt: number;
  /** Unique per engine: `owner * 4 + port index`. */
  readonly id: number;
  /** Index in the heap, -1 when not in it. */
  heapPos: number;
}

export class DueHeap<T extends DueItem> {
  /**
   * The items by heap place, `h[0..n)`. The array keeps its capacity (places past `n` hold null):
   * popping from a JS array can shrink its backing store, and the next push would allocate a new
   * one (a heap that empties and fills again at every instant did, per port settle).
   */
  private readonly h: Array<T | null> = [];
  /**
   * Each heap place's due time and number, beside its item: the sifts compare these typed
   * columns, not fields of the items (ports scattered over the heap of the JS engine).
   */
  private t = new Float64Array(16);
  private id = new Int32Array(16);
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** The earliest due time (Infinity when empty). */
  minTime(): number {
    return this.n > 0 ? this.t[0]! : Infinity;
  }

  /** Remove and return the earliest item (the lowest number among equal times). */
  pop(): T {
    const h = this.h;
    const top = h[0]!;
    const n = --this.n;
    const last = h[n]!;
    h[n] = null;
    top.heapPos = -1;
    if (n > 0) {
      this.place(0, last, n);
      this.down(0);
    }
    return top;
  }

  /** Make `item` due at `time` (Infinity takes it out). */
  set(item: T, time: number): void {
    this.at = time;
    this.setAt(item);
  }

  /**
   * The time {@link setAt} makes an item due at: a field, not an argument (a float passed to a
   * call V8 does not inline is boxed as a heap number, once per port rescheduled).
   */
  at = 0;

  /** Make `item` due at `at` (Infinity takes it out). */
  setAt(item: T): void {
    const time = this.at;
    const h = this.h;
    if (time === Infinity) {
      item.dueAt = Infinity;
      const i = item.heapPos;
      if (i < 0) return;
      item.heapPos = -1;
      const n = --this.n;
      const last = h[n]!;
      h[n] = null;
      if (last === item) return;
      // The last item fills place i, then moves up or down.
      this.place(i, last, n);
      this.up(i);
      this.down(last.heapPos);
      return;
    }
    const old = item.dueAt;
    item.dueAt = time;
    const i = item.heapPos;
    if (i < 0) {
      const n = this.n++;
      if (n === this.t.length) {
        const t = new Float64Array(2 * n); t.set(this.t); this.t = t;
        const id = new Int32Array(2 * n); id.set(this.id); this.id = id;
      }
      if (n < h.length) h[n] = item;
      else h.push(item);
      this.t[n] = time;
      this.id[n] = item.id;
      item.heapPos = n;
      this.up(n);
    } else {
      this.t[i] = time;
      if (time < old) this.up(i);
      else if (time > old) this.down(i);
    }
  }

  /** Item `x`, from place `from`, at place `i`. */
  private place(i: number, x: T, from: number): void {
    this.h[i] = x;
    this.t[i] = this.t[from]!;
    this.id[i] = this.id[from]!;
    x.heapPos = i;
  }

  /** Move the item at place `i` up to its place. */
  private up(i: number): void {
    const { h, t, id } = this;
    const x = h[i]!, xt = t[i]!, xid = id[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = t[p]!;
      if (!(xt < pt || (xt === pt && xid < id[p]!))) break;
      const y = h[p]!;
      h[i] = y;
      t[i] = pt;
      id[i] = id[p]!;
      y.heapPos = i;
      i = p;
    }
    h[i] = x;
    t[i] = xt;
    id[i] = xid;
    x.heapPos = i;
  }

  /** Move the item at place `i` down to its place. */
  private down(i: number): void {
    const { h, t, id } = this;
    const x = h[i]!, xt = t[i]!, xid = id[i]!;
    const n = this.n;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let ct = t[c]!;
      let cid = id[c]!;
      if (c + 1 < n) {
        const dt = t[c + 1]!;
        if (dt < ct || (dt === ct && id[c + 1]! < cid)) {
          c++;
          ct = dt;
          cid = id[c]!;
        }
      }
      if (!(ct < xt || (ct === xt && cid < xid))) break;
      const y = h[c]!;
      h[i] = y;
      t[i] = ct;
      id[i] = cid;
      y.heapPos = i;
      i = c;
    }
    h[i] = x;
    t[i] = xt;
    id[i] = xid;
    x.heapPos = i;
  }
}

/** Bits of a float time, for hashing. */
const bitsF = new Float64Array(1);
const bitsI = new Int32Array(bitsF.buffer);

/**
 * The link work of an engine by instant: whether the instant's link event is queued, and the news
 * and the credits due then (`B`: a batch). An open-addressing hash table on the bits of the time
 * (linear probing, keys in a Float64Array): finding or adding an instant allocates nothing, where a
 * Map or Set keyed by a float time boxes the key on every call.
 *
 * An index stays valid until the next {@link add} of an instant not in the table (which may grow
 * it) or {@link drop}: both count in {@link moves} when they move entries.
 */
export class InstantTable<B> {
  private keys = new Float64Array(16).fill(NaN);
  /** Per index: the instant's link event is queued (1); its news batch; its credits batch. */
  queued = new Uint8Array(16);
  news: Array<B | null> = new Array<B | null>(16).fill(null);
  credits: Array<B | null> = new Array<B | null>(16).fill(null);
  private mask = 15;
  /** Instants in the table. */
  size = 0;
  /** Times entries moved (a growth or a drop): an index found before is valid while this stays. */
  moves = 0;

  constructor() {
    // Stored again: mutable fields from the first table on, not from its first growth, mid-run (see field-init.ts).
    this.keys = this.keys;
    this.queued = this.queued;
    this.news = this.news;
    this.credits = this.credits;
    this.mask = 15;
  }

  /**
   * The home index of the time the caller wrote to `bitsF[0]`: written there, not passed, since a
   * float argument to a call V8 does not inline is boxed as a heap number (an allocation per
   * look-up), and these calls are inlined or not with the callers' inlining budgets.
   */
  private home(): number {
    return Math.imul(bitsI[0]! ^ Math.imul(bitsI[1]!, 0x9e3779b1), 0x85ebca6b) & this.mask;
  }

  /**
   * The instant {@link findAt} and {@link addAt} look up: a field, not an argument, since a float
   * passed to a call V8 does not inline is boxed as a heap number (an allocation per look-up).
   */
  at = 0;

  /** The index of instant `t`, -1 when it is not in the table. */
  find(t: number): number {
    this.at = t;
    return this.findAt();
  }

  /** The index of instant {@link at}, -1 when it is not in the table. */
  findAt(): number {
    let t = this.at;
    if (t === 0) t = 0; // -0 and 0 are one instant
    const keys = this.keys;
    bitsF[0] = t;
    for (let i = this.home(); ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === t) return i;
      if (k !== k) return -1; // empty (NaN)
    }
  }

  /** The index of instant `t`, added (nothing queued, no batches) when it is not in the table. */
  add(t: number): number {
    this.at = t;
    return this.addAt();
  }

  /** The index of instant {@link at}, added when it is not in the table. */
  addAt(): number {
    let t = this.at;
    if (t === 0) t = 0;
    const keys = this.keys;
    bitsF[0] = t;
    let i = this.home();
    for (; ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === t) return i;
      if (k !== k) break;
    }
    if (2 * (this.size + 1) > keys.length) {
      this.grow();
      return this.addAt();
    }
    keys[i] = t;
    this.size++;
    return i;
  }

  /** Take index `i` out if nothing is left in it (not queued, no batches). */
  drop(i: number): void {
    if (this.queued[i] || this.news[i] !== null || this.credits[i] !== null) return;
    this.moves++;
    // Backward-shift deletion: move later entries of the probe run into the hole where their home allows.
    const { keys, mask } = this;
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j]!;
      if (k !== k) break;
      bitsF[0] = k;
      const h = this.home();
      // Entry j may fill the hole when its home is not in the cyclic range (hole, j].
      if (hole < j ? h <= hole || h > j : h <= hole && h > j) {
        keys[hole] = k;
        this.queued[hole] = this.queued[j]!;
        this.news[hole] = this.news[j]!;
        this.credits[hole] = this.credits[j]!;
        hole = j;
      }
    }
    keys[hole] = NaN;
    this.queued[hole] = 0;
    this.news[hole] = null;
    this.credits[hole] = null;
    this.size--;
  }

  /** Take every instant out (its batches dropped): the table is empty, its room kept. */
  clear(): void {
    this.keys.fill(NaN);
    this.queued.fill(0);
    this.news.fill(null);
    this.credits.fill(null);
    this.size = 0;
    this.moves++;
  }

  private grow(): void {
    const { keys, queued, news, credits } = this;
    this.moves++;
    const cap = keys.length * 2;
    this.keys = new Float64Array(cap).fill(NaN);
    this.queued = new Uint8Array(cap);
    this.news = new Array<B | null>(cap).fill(null);
    this.credits = new Array<B | null>(cap).fill(null);
    this.mask = cap - 1;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j]!;
      if (k !== k) continue;
      bitsF[0] = k;
      let i = this.home();
      while (this.keys[i] === this.keys[i]) i = (i + 1) & this.mask;
      this.keys[i] = k;
      this.queued[i] = queued[j]!;
      this.news[i] = news[j]!;
      this.credits[i] = credits[j]!;
    }
  }
}
