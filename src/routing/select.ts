/**
 * @module
 * Top-k selection over a score row, the one primitive behind group, node, rank and expert choice.
 * Order is DeepSeek's `torch.topk(sorted=True)`: descending value; equal values keep ascending index
 * order (the first index wins), which makes every choice deterministic.
 * @internal
 */

/**
 * Write the indices of the `k` largest unmasked entries of `values` into `outIdx[off..off+k)`, in
 * descending order, with their values in `scratch[0..k)`. Candidates are `0..n-1`, or `list[0..n)`
 * when a list is given. Entries equal to `-Infinity` are masked and never chosen. Returns how many
 * were found (less than `k` when fewer entries are unmasked).
 */
export function topkInto(
  values: Float64Array,
  n: number,
  k: number,
  outIdx: Int32Array,
  off: number,
  scratch: Float64Array,
  list?: Int32Array,
): number {
  let filled = 0;
  for (let c = 0; c < n; c++) {
    const i = list === undefined ? c : list[c]!;
    const v = values[i]!;
    if (v === -Infinity) continue;
    // Strict comparison: a later index never displaces an equal earlier one.
    if (filled === k && !(v > scratch[k - 1]!)) continue;
    let j = filled < k ? filled++ : k - 1;
    while (j > 0 && v > scratch[j - 1]!) {
      scratch[j] = scratch[j - 1]!;
      outIdx[off + j] = outIdx[off + j - 1]!;
      j--;
    }
    scratch[j] = v;
    outIdx[off + j] = i;
  }
  return filled;
}

/**
 * Sum of the `c` largest unmasked entries of `values` at the indices in `list` (`-Infinity` when all
 * are masked). `scratch` and `idxScratch` hold at least `c` entries.
 */
export function topSum(values: Float64Array, list: Int32Array, c: number, scratch: Float64Array, idxScratch: Int32Array): number {
  const found = topkInto(values, list.length, c, idxScratch, 0, scratch, list);
  if (found === 0) return -Infinity;
  let sum = 0;
  for (let j = 0; j < found; j++) sum += scratch[j]!;
  return sum;
}
