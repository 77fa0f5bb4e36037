/**
 * @module
 * A stack of records no one refers to any more, for reuse. Its array keeps its capacity (a count,
 * not the array's length, says how many are free): popping from a JS array can shrink its backing
 * store, and the next push would allocate a new one.
 */
export class FreeList<T> {
  private readonly items: Array<T | null> = [];
  private n = 0;

  /** A free record, or null when there is none. */
  take(): T | null {
    if (this.n === 0) return null;
    const x = this.items[--this.n]!;
    this.items[this.n] = null;
    return x;
  }

  /** Make `x` free (the caller no longer refers to it). */
  give(x: T): void {
    const n = this.n++;
    if (n < this.items.length) this.items[n] = x;
    else this.items.push(x);
  }

  get size(): number {
    return this.n;
  }
}
