/**
 * @module
 * Exact min-max assignment: split integer demands over allowed bins so that the largest bin load is
 * as small as possible. Binary search on the bound T with a max-flow feasibility test
 * (source -> demand -> allowed bin -> sink with capacity T); integral capacities give an integral
 * optimum, so the result is exact, not approximate.
 */
import { FlowNetwork } from './max-flow.js';

/** Solution of {@link minMaxAssign}. @internal */
export interface MinMaxSolution {
  /** Optimal largest bin load. */
  max: number;
  /** `amounts[demand]`: `[bin, amount]` pairs summing to the demand. */
  amounts: Array<Array<[number, number]>>;
}

function solveAt(demand: readonly number[], allowed: readonly (readonly number[])[], numBins: number, T: number) {
  const D = demand.length;
  const net = new FlowNetwork(D + numBins + 2);
  const src = D + numBins;
  const sink = src + 1;
  const edges: number[][] = [];
  demand.forEach((d, i) => {
    net.addEdge(src, i, d);
    edges.push(allowed[i]!.map((b) => net.addEdge(i, D + b, d)));
  });
  for (let b = 0; b < numBins; b++) net.addEdge(D + b, sink, T);
  return { flow: net.maxFlow(src, sink), net, edges };
}

/**
 * Minimise the largest bin load. Every demand must have at least one allowed bin.
 * @param demand - Non-negative integer demand per class.
 * @param allowed - Distinct bins each class may use.
 * @internal
 */
export function minMaxAssign(demand: readonly number[], allowed: readonly (readonly number[])[], numBins: number): MinMaxSolution {
  const total = demand.reduce((a, b) => a + b, 0);
  // A class whose only choice is one bin forces that bin's load; the mean is a bound for everyone.
  let lo = Math.ceil(total / numBins);
  for (let i = 0; i < demand.length; i++) if (allowed[i]!.length === 1) lo = Math.max(lo, demand[i]!);
  // Splitting each demand evenly (rounded up) over its bins is feasible, so it bounds the optimum.
  const even = new Array<number>(numBins).fill(0);
  demand.forEach((d, i) => {
    for (const b of allowed[i]!) even[b]! += Math.ceil(d / allowed[i]!.length);
  });
  const hi = Math.max(lo, ...even);
  let best = solveAt(demand, allowed, numBins, hi);
  let bestT = hi;
  while (lo < bestT) {
    const mid = Math.floor((lo + bestT) / 2);
    const r = solveAt(demand, allowed, numBins, mid);
    if (r.flow === total) {
      best = r;
      bestT = mid;
    } else {
      lo = mid + 1;
    }
  }
  const amounts = best.edges.map((ids, i) =>
    ids.map((id, j): [number, number] => [allowed[i]![j]!, best.net.cap[id ^ 1]!]).filter(([, a]) => a > 0),
  );
  return { max: bestT, amounts };
}
