/**
 * @module
 * The inputs of DeepEP's normal-kernel benchmark: per token, scores over all experts; when there are
 * several nodes, the experts are grouped by node, the top `min(nodes, 4)` groups are kept by their
 * maximum score, and the top-k experts are taken among them. DeepEP draws scores as `|randn| + 1`;
 * only the order of i.i.d. scores matters to a top-k, so any i.i.d. continuous draw gives the same
 * distribution of routings, and a seeded uniform draw is used here.
 */
import { MULBERRY32_INCREMENT, mulberry32Output } from '../routing/rng.js';

export interface DeepepInputShape {
  numRanks: number;
  gpusPerNode: number;
  tokens: number;
  experts: number;
  topk: number;
}

/**
 * Top-k expert ids per token of one rank ([tokens][topk], sorted by score).
 *
 * The scores are `createRng(seed * 1000003 + rank * 7919 + 17).uniform()` draws (mulberry32, see
 * src/routing/rng.ts), E per token in expert order: the generator's state is kept here (no closure
 * call per score) and a score is kept as its 32-bit integer (the uniform draw is that integer / 2^32, so the
 * order is the same; sign bit flipped to compare as signed). Every draw is made, kept group or not, so the stream is the one of the
 * straightforward version, and so is every output.
 */
export function deepepTopk(shape: DeepepInputShape, rank: number, seed: number): Int32Array {
  const { tokens: T, experts: E, topk: K } = shape;
  const nodes = shape.numRanks / shape.gpusPerNode;
  const groups = nodes > 1 ? nodes : 1;
  const keepGroups = nodes > 1 ? Math.min(nodes, 4) : 1;
  const perGroup = E / groups;
  // Group g holds experts [gStart[g], gStart[g + 1]): those with (e / perGroup) | 0 === g.
  const gStart = new Int32Array(groups + 1);
  let g0 = 0;
  for (let e = 0; e < E; e++) for (const ge = (e / perGroup) | 0; g0 <= ge; ) gStart[g0++] = e;
  while (g0 <= groups) gStart[g0++] = E;
  let a = (seed * 1000003 + rank * 7919 + 17) | 0; // mulberry32's state, as int32 bits (no doubles)
  // A score is its draw's 32-bit integer with the sign bit flipped: signed order = unsigned order.
  const scores = new Int32Array(E);
  const gmax = new Int32Array(groups);
  const out = new Int32Array(T * K);
  // Reused per token: groups by maximum score (descending, ties by index), the kept ones, the top K.
  const order = new Int32Array(groups);
  const keep = new Uint8Array(groups);
  const topS = new Int32Array(K);
  const topE = new Int32Array(K);
  for (let t = 0; t < T; t++) {
    // The draws, in expert order, and each group's maximum.
    for (let g = 0; g < groups; g++) {
      let m = -2147483648;
      for (let e = gStart[g]!, end = gStart[g + 1]!; e < end; e++) {
        a = (a + MULBERRY32_INCREMENT) | 0;
        const v = (mulberry32Output(a) ^ 0x80000000) | 0;
        scores[e] = v;
        if (v > m) m = v;
      }
      gmax[g] = m;
    }
    if (groups > 1) {
      for (let g = 0; g < groups; g++) {
        let k = g;
        while (k > 0 && gmax[order[k - 1]!]! < gmax[g]!) {
          order[k] = order[k - 1]!;
          k--;
        }
        order[k] = g;
      }
      keep.fill(0);
      for (let i = 0; i < keepGroups; i++) keep[order[i]!] = 1;
    } else keep[0] = 1;
    // The K highest scores of the kept groups (descending, ties by index), in one pass in expert
    // order; a slot left empty is -1.
    let n = 0;
    for (let g = 0; g < groups; g++) {
      if (!keep[g]) continue;
      for (let e = gStart[g]!, end = gStart[g + 1]!; e < end; e++) {
        const v = scores[e]!;
        if (n === K && !(v > topS[K - 1]!)) continue;
        let k = n < K ? n++ : K - 1;
        while (k > 0 && topS[k - 1]! < v) {
          topS[k] = topS[k - 1]!;
          topE[k] = topE[k - 1]!;
          k--;
        }
        topS[k] = v;
        topE[k] = e;
      }
    }
    for (let k = 0; k < K; k++) out[t * K + k] = k < n ? topE[k]! : -1;
  }
  return out;
}
