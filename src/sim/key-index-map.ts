/**
 * @module
 * A map from non-negative integer keys (doubles: a transfer's `xid * 4096 + source`, past the small
 * integers) to non-negative int32 values (transfer records), in two typed arrays: open addressing
 * with linear probing, and deletion by shifting the probe run back (no tombstones). It replaces a
 * `Map<number, number>` on the engine's path of cross-host transfers: a Map's entries with keys
 * beyond the small integers hold a heap number each, its table is rebuilt as entries come and go
 * (a FIFO of transfers fills it with deleted entries), and `clear()` allocates a new table; here
 * only growth allocates (the table never shrinks), so the steady path allocates nothing. Nothing
 * iterates it: the order of its entries is nobody's concern.
 */

/** An empty slot's key (keys are non-negative). */
const EMPTY = -1;

export class KeyIndexMap {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  /** Entries held. */
  size = 0;

  /** @param capacity initial slots (rounded up to a power of two, at least 8). */
  constructor(capacity = 64) {
    let cap = 8;
    while (cap < capacity) cap *= 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** Slots (entries held at most before it grows: half of them). */
  get capacity(): number {
    return this.keys.length;
  }

  /** The value of `key`, or -1 when it has none. */
  get(key: number): number {
    const keys = this.keys, mask = this.mask;
    for (let i = home(key, mask); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) return this.vals[i]!;
      if (k === EMPTY) return -1;
    }
  }

  has(key: number): boolean {
    return this.get(key) >= 0;
  }

  /** Set `key`'s value (a non-negative int32), replacing any it had. */
  set(key: number, value: number): void {
    if (2 * (this.size + 1) > this.keys.length) this.grow();
    const keys = this.keys, mask = this.mask;
    for (let i = home(key, mask); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) {
        this.vals[i] = value;
        return;
      }
      if (k === EMPTY) {
        keys[i] = key;
        this.vals[i] = value;
        this.size++;
        return;
      }
    }
  }

  /** Remove `key`; whether it was there. */
  delete(key: number): boolean {
    const keys = this.keys, vals = this.vals, mask = this.mask;
    let i = home(key, mask);
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) break;
      if (k === EMPTY) return false;
    }
    // Shift back the entries after it in its probe run that may not stay past the hole: an entry
    // at j whose home h is cyclically outside (i, j] would not be found past an empty slot at i.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j]!;
      if (k === EMPTY) break;
      const h = home(k, mask);
      if (i <= j ? h > i && h <= j : h > i || h <= j) continue;
      keys[i] = k;
      vals[i] = vals[j]!;
      i = j;
    }
    keys[i] = EMPTY;
    this.size--;
    return true;
  }

  /** Remove every entry (keeps the table). */
  clear(): void {
    if (this.size === 0) return;
    this.keys.fill(EMPTY);
    this.size = 0;
  }

  private grow(): void {
    const oldKeys = this.keys, oldVals = this.vals;
    const cap = oldKeys.length * 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== EMPTY) this.set(oldKeys[i]!, oldVals[i]!);
  }
}

/** The home slot of `key`: its low and high 32 bits mixed (murmur3's finaliser), masked. */
function home(key: number, mask: number): number {
  let h = (key >>> 0) ^ Math.imul((key / 4294967296) >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}
