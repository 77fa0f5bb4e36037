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
  private readonly h: T[] = [];

  get size(): number {
    return this.h.length;
  }

  /** The earliest due time (Infinity when empty). */
  minTime(): number {
    return this.h.length > 0 ? this.h[0]!.dueAt : Infinity;
  }

  /** Remove and return the earliest item (the lowest number among equal times). */
  pop(): T {
    const h = this.h;
    const top = h[0]!;
    const last = h.pop()!;
    top.heapPos = -1;
    if (last !== top) {
      h[0] = last;
      last.heapPos = 0;
      this.down(0);
    }
    return top;
  }

  /** Make `item` due at `time` (Infinity takes it out). */
  set(item: T, time: number): void {
    const h = this.h;
    if (time === Infinity) {
      item.dueAt = Infinity;
      const i = item.heapPos;
      if (i < 0) return;
      item.heapPos = -1;
      const last = h.pop()!;
      if (last === item) return;
      h[i] = last;
      last.heapPos = i;
      this.up(i);
      this.down(last.heapPos);
      return;
    }
    const old = item.dueAt;
    item.dueAt = time;
    if (item.heapPos < 0) {
      item.heapPos = h.length;
      h.push(item);
      this.up(item.heapPos);
    } else if (time < old) this.up(item.heapPos);
    else if (time > old) this.down(item.heapPos);
  }

  private before(a: T, b: T): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.id < b.id);
  }

  private up(i: number): void {
    const h = this.h;
    const x = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = h[p]!;
      if (!this.before(x, y)) break;
      h[i] = y;
      y.heapPos = i;
      i = p;
    }
    h[i] = x;
    x.heapPos = i;
  }

  private down(i: number): void {
    const h = this.h;
    const n = h.length;
    const x = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(h[c + 1]!, h[c]!)) c++;
      const y = h[c]!;
      if (!this.before(y, x)) break;
      h[i] = y;
      y.heapPos = i;
      i = c;
    }
    h[i] = x;
    x.heapPos = i;
  }
}
