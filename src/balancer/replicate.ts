/**
 * @module
 * Replication, the second building block of DeepSeek's EPLB (`replicate_experts` in eplb.py):
 * every logical expert gets one physical slot, then each extra slot goes to the expert with the
 * largest load per replica.
 */
import { checkAlloc, checkInt, checkWork } from '../validate.js';
import { requireEplb, requireLoadMatrix } from './validate.js';

/** Result of {@link replicateExperts}, per row. */
export interface ReplicationResult {
  /** `phy2log[row][slot]`: the logical expert held by each physical slot. */
  phy2log: number[][];
  /** `rank[row][slot]`: the replica rank of the slot (0 for an expert's first slot). */
  rank: number[][];
  /** `logcnt[row][expert]`: the number of replicas of each logical expert. */
  logcnt: number[][];
}

/**
 * Replicate one row. Slot i < numLog holds expert i; every later slot goes to the argmax of
 * float32 `weight / count`, taking the first index among equal maxima.
 * @internal
 */
export function replicateRow(
  weight: ArrayLike<number>,
  numPhy: number,
): { phy2log: Int32Array; rank: Int32Array; logcnt: Int32Array } {
  const numLog = weight.length;
  const w = Float32Array.from(weight as ArrayLike<number>);
  const phy2log = new Int32Array(numPhy);
  const rank = new Int32Array(numPhy);
  const logcnt = new Int32Array(numLog).fill(1);
  const perReplica = Float32Array.from(w);
  for (let i = 0; i < numLog; i++) phy2log[i] = i;
  for (let i = numLog; i < numPhy; i++) {
    let best = 0;
    for (let e = 1; e < numLog; e++) if (perReplica[e]! > perReplica[best]!) best = e;
    phy2log[i] = best;
    rank[i] = logcnt[best]!;
    logcnt[best]! += 1;
    // Float32Array stores Math.fround(w / c), which equals float32 division exactly.
    perReplica[best] = w[best]! / logcnt[best]!;
  }
  return { phy2log, rank, logcnt };
}

/**
 * DeepSeek's `replicate_experts(weight, num_phy)`, row by row: the same slots for the same input.
 * @param weight - `[rows][logicalExperts]` non-negative loads.
 * @param numPhy - Physical slots per row, at least the number of logical experts.
 * @throws ExpertmeshError `E_EPLB` when `numPhy` is smaller than the number of logical experts.
 * @example
 * ```ts
 * import { replicateExperts } from 'expertmesh';
 * replicateExperts([[10, 40, 20]], 5).phy2log; // [[0, 1, 2, 1, 1]]
 * ```
 * @public
 */
export function replicateExperts(weight: readonly (readonly number[])[], numPhy: number): ReplicationResult {
  const { cols } = requireLoadMatrix('weight', weight);
  checkInt(numPhy, 'numPhy', 1);
  requireEplb(numPhy >= cols, `numPhy (${numPhy}) must be at least the number of logical experts (${cols})`, { numPhy, experts: cols });
  checkAlloc('replicateExperts', 'the slot tables', weight.length * numPhy * 3 * 8, 'numPhy', true);
  checkWork('replicateExperts', weight.length * (numPhy - cols) * cols, 'numPhy or the number of experts');
  const out: ReplicationResult = { phy2log: [], rank: [], logcnt: [] };
  for (const row of weight) {
    const r = replicateRow(row, numPhy);
    out.phy2log.push(Array.from(r.phy2log));
    out.rank.push(Array.from(r.rank));
    out.logcnt.push(Array.from(r.logcnt));
  }
  return out;
}
