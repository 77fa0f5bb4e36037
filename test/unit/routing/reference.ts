/**
 * Straightforward re-statements of DeepSeek's code, written for clarity rather than speed, that the
 * fast implementations are checked against. Not a test file (imported by tests).
 */
import type { GateConfig } from '../../../src/routing/index.js';

/** Indices sorted by descending value, equal values in ascending index order (stable sort). */
export function argsortDesc(values: readonly number[]): number[] {
  return values.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v || a.i - b.i).map((p) => p.i);
}

/** Unbiased scores of one row of logits, as DeepSeek-V3's `Gate.forward` computes them. */
export function referenceScores(row: readonly number[], scoreFunc: GateConfig['scoreFunc']): number[] {
  if (scoreFunc === 'sigmoid') return row.map((l) => 1 / (1 + Math.exp(-l)));
  const max = Math.max(...row);
  const ex = row.map((l) => Math.exp(l - max));
  let sum = 0;
  for (const v of ex) sum += v;
  return ex.map((v) => v / sum);
}

/** DeepSeek-V3 `Gate.forward` on logits, line by line (sorts instead of torch.topk). */
export function referenceGate(logits: ArrayLike<number>, bias: ArrayLike<number> | null, tokens: number, c: GateConfig) {
  const E = c.numExperts;
  const idx: number[][] = [];
  const w: number[][] = [];
  for (let t = 0; t < tokens; t++) {
    const s = referenceScores(Array.from({ length: E }, (_, e) => logits[t * E + e]!), c.scoreFunc);
    let sel = s.map((v, e) => v + (bias === null ? 0 : bias[e]!));
    if (c.numGroups > 1) {
      const gs = E / c.numGroups;
      const groups = Array.from({ length: c.numGroups }, (_, g) => sel.slice(g * gs, g * gs + gs));
      const gScore = groups.map((grp) => {
        const top = [...grp].sort((a, b) => b - a);
        return bias === null ? top[0]! : top[0]! + top[1]!;
      });
      const kept = new Set(argsortDesc(gScore).slice(0, c.topkGroups));
      sel = sel.map((v, e) => (kept.has(Math.floor(e / gs)) ? v : -Infinity));
    }
    const chosen = argsortDesc(sel).slice(0, c.topk);
    let weights = chosen.map((e) => s[e]!);
    if (c.scoreFunc === 'sigmoid') {
      let sum = 0;
      for (const v of weights) sum += v;
      weights = weights.map((v) => v / sum);
    }
    idx.push(chosen);
    w.push(weights.map((v) => v * c.routeScale));
  }
  return { idx, w };
}

/** DeepEP `get_dispatch_layout`, one output at a time, as its kernel defines each count. */
export function referenceLayout(topkIdx: ArrayLike<number>, topk: number, numExperts: number, numRanks: number, gpusPerNode: number) {
  const tokens = topkIdx.length / topk;
  const perRank = numExperts / numRanks;
  const rows = Array.from({ length: tokens }, (_, t) => Array.from({ length: topk }, (_, j) => topkIdx[t * topk + j]!).filter((e) => e >= 0));
  const perExpert = Array.from({ length: numExperts }, (_, e) => rows.reduce((n, r) => n + r.filter((x) => x === e).length, 0));
  const inRank = rows.map((r) => Array.from({ length: numRanks }, (_, k) => (r.some((e) => Math.floor(e / perRank) === k) ? 1 : 0)));
  const perRankCount = Array.from({ length: numRanks }, (_, k) => inRank.filter((row) => row[k] === 1).length);
  const numNodes = numRanks / gpusPerNode;
  const perNode = Array.from(
    { length: numNodes },
    (_, n) => inRank.filter((row) => row.some((v, k) => v === 1 && Math.floor(k / gpusPerNode) === n)).length,
  );
  return { perExpert, inRank: inRank.flat(), perRank: perRankCount, perNode };
}

/** True when some set of at most `limit` units (nodes or ranks) holds a replica of every expert in `experts`. */
export function coverable(experts: readonly number[], unitsOf: (e: number) => readonly number[], numUnits: number, limit: number): boolean {
  const need = experts.map((e) => unitsOf(e).reduce((m, u) => m | (1 << u), 0));
  for (let set = 0; set < 1 << numUnits; set++) {
    if (popcount(set) > limit) continue;
    if (need.every((m) => (m & set) !== 0)) return true;
  }
  return false;
}

function popcount(x: number): number {
  let n = 0;
  for (; x !== 0; x &= x - 1) n++;
  return n;
}

/** Deterministic pseudo-random numbers in [-1, 1) for example inputs. */
export function seededValues(n: number, seed: number): Float64Array {
  let a = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 31 - 1;
  });
}
