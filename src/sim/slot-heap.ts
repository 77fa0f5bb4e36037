/**
 * @module
 * An indexed binary min-heap of slots (small integers) by a float time each: a receiver port's
 * streams by when each next changes on its own (a transfer served, a queue empty), so the port's
 * timer is the minimum and a stream's time moves in O(log n) without touching the others.
 *
 * Times are passed through the field {@link SlotHeap.t}, not as arguments: a float argument to a
 * call V8 does not inline is boxed as a heap number (no allocation per event, issue 14). Each heap
 * place holds its slot's time beside the slot (`ht[i]` for `h[i]`), so a sift compares times read
 * in heap order, not through the slot (one dependent load fewer per comparison).
 */
import { DOUBLE } from './field-init.js';

export class SlotHeap {
  /** The time {@link place} gives its slot (written before each use; a double from the start: see field-init.ts). */
  t = DOUBLE;
  /** The slots in heap order, and their times. */
  private h = new Int32Array(16);
  private ht = new Float64Array(16);
  private n = 0;
  /** Per slot: its index in `h` (-1: not in the heap). */
  private idx = new Int32Array(0);

  get size(): number {
    return this.n;
  }

  /** Room for slots `0..cap)`. */
  grow(cap: number): void {
    const idx = new Int32Array(cap).fill(-1);
    idx.set(this.idx);
    this.idx = idx;
  }

  /** The earliest time, Infinity when empty. */
  minTime(): number {
    return this.n > 0 ? this.ht[0]! : Infinity;
  }

  /** The slot with the earliest time (the heap must not be empty). */
  top(): number {
    return this.h[0]!;
  }

  /** The slots {@link collect} found (reused). */
  found = new Int32Array(16);

  /**
   * The slots due at `t` or before (`before`: strictly before `t`), into `found[0..count)` (in no
   * particular order): the heap's entries that early form a subtree at its root, so this costs
   * time in how many there are.
   */
  collect(before = false): number {
    const t = this.t;
    const { h, ht } = this;
    let m = 0;
    if (this.n === 0 || ht[0]! > t || (before && ht[0] === t)) return 0;
    // Heap indexes first (a queue in `found`), turned into slots at the end.
    let f = this.found;
    f[m++] = 0;
    for (let q = 0; q < m; q++) {
      const i = f[q]!;
      for (let c = 2 * i + 1; c <= 2 * i + 2 && c < this.n; c++) {
        const tc = ht[c]!;
        if (tc > t || (before && tc === t)) continue;
        if (m === f.length) {
          const g = new Int32Array(2 * m);
          g.set(f);
          this.found = f = g;
        }
        f[m++] = c;
      }
    }
    for (let q = 0; q < m; q++) f[q] = h[f[q]!]!;
    return m;
  }

  /** Slot `s` is due at `t` (Infinity: out of the heap). */
  place(s: number): void {
    const t = this.t;
    if (t === Infinity) {
      this.remove(s);
      return;
    }
    const i = this.idx[s]!;
    if (i < 0) {
      if (this.n === this.h.length) {
        const h = new Int32Array(2 * this.n);
        h.set(this.h);
        this.h = h;
        const ht = new Float64Array(2 * this.n);
        ht.set(this.ht);
        this.ht = ht;
      }
      this.h[this.n] = s;
      this.ht[this.n] = t;
      this.idx[s] = this.n;
      this.up(this.n++);
      return;
    }
    const old = this.ht[i]!;
    this.ht[i] = t;
    if (t < old) this.up(i);
    else if (t > old) this.down(i);
  }

  /** Slot `s` leaves the heap (nothing when it is not in it). */
  remove(s: number): void {
    const i = this.idx[s]!;
    if (i < 0) return;
    this.idx[s] = -1;
    const j = --this.n;
    const last = this.h[j]!;
    if (last === s) return;
    this.h[i] = last;
    this.ht[i] = this.ht[j]!;
    this.idx[last] = i;
    this.up(i);
    this.down(this.idx[last]!);
  }

  private up(i: number): void {
    const { h, ht, idx } = this;
    const s = h[i]!;
    const t = ht[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const tp = ht[p]!;
      if (!(tp > t)) break;
      const q = h[p]!;
      h[i] = q;
      ht[i] = tp;
      idx[q] = i;
      i = p;
    }
    h[i] = s;
    ht[i] = t;
    idx[s] = i;
  }

  private down(i: number): void {
    const { h, ht, idx } = this;
    const n = this.n;
    const s = h[i]!;
    const t = ht[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && ht[c + 1]! < ht[c]!) c++;
      const tc = ht[c]!;
      if (!(tc < t)) break;
      const q = h[c]!;
      h[i] = q;
      ht[i] = tc;
      idx[q] = i;
      i = c;
    }
    h[i] = s;
    ht[i] = t;
    idx[s] = i;
  }
}
