/**
 * @module
 * Balanced packing, the first building block of DeepSeek's EPLB (`balanced_packing` in eplb.py):
 * n weighted items go into m packs of exactly n/m items each, visiting items by descending weight
 * and putting each into the lightest pack that is not yet full.
 */
import { checkInt } from '../validate.js';
import { requireEplb, requireLoadMatrix } from './validate.js';

/** Pack of every item and its position inside the pack, per row. */
export interface PackingResult {
  /** `packIndex[row][item]`: the pack the item went to. */
  packIndex: number[][];
  /** `rankInPack[row][item]`: how many items the pack held before this one (0-based). */
  rankInPack: number[][];
}

/**
 * Pack one row. Arithmetic is float32 like eplb.py's `weight.float()`; ties follow eplb.py:
 * a stable descending sort (equal weights keep ascending index order), the lowest-numbered pack
 * among equally light ones, and the identity when every pack holds one item.
 * @internal
 */
export function packRow(weight: ArrayLike<number>, numPacks: number): { pack: Int32Array; rank: Int32Array } {
  const n = weight.length;
  const perPack = n / numPacks;
  const pack = new Int32Array(n);
  const rank = new Int32Array(n);
  if (perPack === 1) {
    for (let i = 0; i < n; i++) pack[i] = i;
    return { pack, rank };
  }
  const w = Float32Array.from(weight as ArrayLike<number>);
  // Array.prototype.sort is stable (ES2019), so equal weights keep ascending index order.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => w[b]! - w[a]!);
  const packWeight = new Float32Array(numPacks);
  const packItems = new Int32Array(numPacks);
  for (const item of order) {
    let best = -1;
    for (let p = 0; p < numPacks; p++) {
      // Strict `<` keeps the first (lowest-numbered) pack among equals, like Python's min().
      if (packItems[p]! < perPack && (best < 0 || packWeight[p]! < packWeight[best]!)) best = p;
    }
    pack[item] = best;
    rank[item] = packItems[best]!;
    packWeight[best] = packWeight[best]! + w[item]!; // stored as float32, like torch's accumulation
    packItems[best]! += 1;
  }
  return { pack, rank };
}

/**
 * DeepSeek's `balanced_packing(weight, num_packs)`, row by row: the same packs for the same input.
 * @param weight - `[rows][items]` non-negative loads; `items` must be a multiple of `numPacks`.
 * @param numPacks - Number of packs per row.
 * @throws ExpertmeshError `E_EPLB` when `numPacks` does not divide the item count.
 * @example
 * ```ts
 * import { balancedPacking } from 'expertmesh';
 * balancedPacking([[4, 3, 2, 1]], 2); // packIndex [[0, 1, 1, 0]], rankInPack [[0, 0, 1, 1]]
 * ```
 * @public
 */
export function balancedPacking(weight: readonly (readonly number[])[], numPacks: number): PackingResult {
  const { cols } = requireLoadMatrix('weight', weight);
  checkInt(numPacks, 'numPacks', 1);
  requireEplb(cols % numPacks === 0, `numPacks (${numPacks}) must divide the item count (${cols})`, { numPacks, items: cols });
  const packIndex: number[][] = [];
  const rankInPack: number[][] = [];
  for (const row of weight) {
    const r = packRow(row, numPacks);
    packIndex.push(Array.from(r.pack));
    rankInPack.push(Array.from(r.rank));
  }
  return { packIndex, rankInPack };
}
