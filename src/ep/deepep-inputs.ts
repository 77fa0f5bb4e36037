/**
 * @module
 * The inputs of DeepEP's normal-kernel benchmark: per token, scores over all experts; when there are
 * several nodes, the experts are grouped by node, the top `min(nodes, 4)` groups are kept by their
 * maximum score, and the top-k experts are taken among them. DeepEP draws scores as `|randn| + 1`;
 * only the order of i.i.d. scores matters to a top-k, so any i.i.d. continuous draw gives the same
 * distribution of routings, and a seeded uniform draw is used here.
 */
import { createRng } from '../routing/rng.js';

export interface DeepepInputShape {
  numRanks: number;
  gpusPerNode: number;
  tokens: number;
  experts: number;
  topk: number;
}

/** Top-k expert ids per token of one rank ([tokens][topk], sorted by score). */
export function deepepTopk(shape: DeepepInputShape, rank: number, seed: number): Int32Array {
  const { tokens: T, experts: E, topk: K } = shape;
  const nodes = shape.numRanks / shape.gpusPerNode;
  const groups = nodes > 1 ? nodes : 1;
  const keepGroups = nodes > 1 ? Math.min(nodes, 4) : 1;
  const perGroup = E / groups;
  const rng = createRng((seed * 1000003 + rank * 7919 + 17) >>> 0).uniform;
  const scores = new Float64Array(E);
  const gmax = new Float64Array(groups);
  const out = new Int32Array(T * K);
  // Reused per token: groups by maximum score (descending, ties by index), the kept ones, the top K.
  const order = new Int32Array(groups);
  const keep = new Uint8Array(groups);
  const topS = new Float64Array(K);
  const topE = new Int32Array(K);
  for (let t = 0; t < T; t++) {
    for (let e = 0; e < E; e++) scores[e] = rng();
    if (groups > 1) {
      gmax.fill(-1);
      for (let e = 0; e < E; e++) {
        const g = (e / perGroup) | 0;
        if (scores[e]! > gmax[g]!) gmax[g] = scores[e]!;
      }
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
      for (let e = 0; e < E; e++) if (!keep[(e / perGroup) | 0]) scores[e] = -1;
    }
    // The K highest scores (descending, ties by index), in one pass; a score of -1 (a group not
    // kept) is never taken, and a slot left empty is -1.
    let n = 0;
    for (let e = 0; e < E; e++) {
      const v = scores[e]!;
      if (!(v > -1)) continue;
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
    for (let k = 0; k < K; k++) out[t * K + k] = k < n ? topE[k]! : -1;
  }
  return out;
}
