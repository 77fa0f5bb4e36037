/**
 * @module
 * DeepEP's `get_dispatch_layout`: per-rank, per-node and per-expert token counts and the
 * token-to-rank membership matrix, computed from `topkIdx` before dispatch.
 */
import { fail } from '../errors.js';
import { checkAlloc, checkInt, checkObject, checkTypedArray } from '../validate.js';

/**
 * The cluster shape the layout is computed for. A {@link Placement} satisfies it.
 * @public
 */
export interface ClusterShape {
  /** Ranks (GPUs); must divide `numExperts`. */
  readonly numRanks: number;
  /** Ranks per node (DeepEP's NVLink peers); must divide `numRanks`. */
  readonly gpusPerNode: number;
}

/**
 * Output of {@link getDispatchLayout}, named after DeepEP's.
 * @public
 */
export interface DispatchLayout {
  /** `[numRanks]`: tokens with at least one chosen expert on the rank. */
  readonly numTokensPerRank: Int32Array;
  /**
   * `[numNodes]`: tokens with at least one chosen expert on the node (DeepEP's RDMA rank). DeepEP
   * returns `None` on a single node; here it is then one entry.
   */
  readonly numTokensPerRdmaRank: Int32Array;
  /** `[numExperts]`: `topkIdx` entries naming each expert. */
  readonly numTokensPerExpert: Int32Array;
  /** `[tokens][numRanks]` row-major, 1 when the token goes to the rank. */
  readonly isTokenInRank: Uint8Array;
}

/**
 * Compute the dispatch layout from `topkIdx` (`[tokens][topk]`, `-1` = no expert). Expert `e` is on
 * rank `floor(e / (numExperts / numRanks))` and node `floor(rank / gpusPerNode)`, as in DeepEP: pass
 * physical expert ids (after mapping logical experts to replicas).
 *
 * Throws `E_ARGUMENT` for bad shapes and `E_ROUTING` for an expert id outside `[-1, numExperts)`
 * (DeepEP ignores those silently; a silently wrong layout is worse than an error).
 * @example
 * const l = getDispatchLayout(new Int32Array([0, 3, 2, -1]), 2, 4, { numRanks: 2, gpusPerNode: 2 });
 * // numTokensPerRank [1, 2], numTokensPerRdmaRank [2], numTokensPerExpert [1, 0, 1, 1], isTokenInRank [1, 1, 0, 1]
 * @public
 */
export function getDispatchLayout(topkIdx: Int32Array, topk: number, numExperts: number, shape: ClusterShape): DispatchLayout {
  checkTypedArray(topkIdx, 'topkIdx', Int32Array);
  checkInt(topk, 'topk', 1);
  checkInt(numExperts, 'numExperts', 1);
  checkObject(shape, 'shape');
  const R = checkInt(shape.numRanks, 'shape.numRanks', 1);
  const gpn = checkInt(shape.gpusPerNode, 'shape.gpusPerNode', 1);
  if (numExperts % R !== 0) fail('E_ARGUMENT', `shape.numRanks ${R} does not divide numExperts ${numExperts}`, { argument: 'shape.numRanks', value: R, numExperts });
  if (R % gpn !== 0) fail('E_ARGUMENT', `shape.numRanks ${R} is not a multiple of shape.gpusPerNode ${gpn}`, { argument: 'shape.numRanks', value: R, gpusPerNode: gpn });
  if (topkIdx.length % topk !== 0) {
    fail('E_ARGUMENT', `topkIdx has length ${topkIdx.length}, not a multiple of topk ${topk}`, { argument: 'topkIdx', length: topkIdx.length, topk });
  }
  const tokens = topkIdx.length / topk;
  checkAlloc('getDispatchLayout', 'the layout', tokens * R + numExperts * 4 + R * 8, 'numExperts or shape.numRanks');
  const numNodes = R / gpn;
  const perRank = numExperts / R;
  const numTokensPerRank = new Int32Array(R);
  const numTokensPerRdmaRank = new Int32Array(numNodes);
  const numTokensPerExpert = new Int32Array(numExperts);
  const isTokenInRank = new Uint8Array(tokens * R);
  // Last token counted per node, so a token counts once per node without clearing a per-token mask.
  const nodeSeen = new Int32Array(numNodes).fill(-1);

  for (let t = 0, i = 0; t < tokens; t++) {
    const row = t * R;
    for (let j = 0; j < topk; j++, i++) {
      const e = topkIdx[i]!;
      if (e < 0 || e >= numExperts) {
        if (e === -1) continue;
        fail('E_ROUTING', `topkIdx[${t}][${j}] is ${e}, outside [-1, ${numExperts})`, { argument: 'topkIdx', token: t, slot: j, value: e, numExperts });
      }
      numTokensPerExpert[e]!++;
      const r = (e / perRank) | 0;
      if (isTokenInRank[row + r] === 0) {
        isTokenInRank[row + r] = 1;
        numTokensPerRank[r]!++;
        const n = (r / gpn) | 0;
        if (nodeSeen[n] !== t) {
          nodeSeen[n] = t;
          numTokensPerRdmaRank[n]!++;
        }
      }
    }
  }
  return { numTokensPerRank, numTokensPerRdmaRank, numTokensPerExpert, isTokenInRank };
}
