/**
 * @module
 * Decode mode: DeepSeek's decode treats the shared expert as a routed expert that every token
 * chooses (9 experts per token with top-8), so it can be replicated and balanced like the others.
 * The shared expert gets the logical id just after the routed ones.
 */
import { fail } from '../errors.js';
import { checkArray, checkInt, checkIntRows } from '../validate.js';
import { requireLoad, requireLoadMatrix } from './validate.js';

/**
 * Append the shared expert (id `numRoutedExperts`) to every token's top-k.
 * @example
 * ```ts
 * import { withSharedExpert } from 'expertmesh';
 * console.log(withSharedExpert([[3, 7]], 256)); // [[3, 7, 256]]
 * ```
 * @public
 */
export function withSharedExpert(topkIdx: readonly (readonly number[])[], numRoutedExperts: number): number[][] {
  checkInt(numRoutedExperts, 'numRoutedExperts', 1);
  checkIntRows(topkIdx, 'topkIdx', -1, numRoutedExperts - 1);
  return topkIdx.map((row) => [...row, numRoutedExperts]);
}

/**
 * Append the shared expert's load (every token of the layer) to a `[layers][routedExperts]` load
 * matrix, giving the decode-mode planner input.
 * @param tokensPerLayer - Tokens per layer: one number for all layers or one per layer.
 * @example
 * ```ts
 * import { withSharedExpertLoad } from 'expertmesh';
 * console.log(withSharedExpertLoad([[5, 3]], 4)); // [[5, 3, 4]]
 * ```
 * @public
 */
export function withSharedExpertLoad(weight: readonly (readonly number[])[], tokensPerLayer: number | readonly number[]): number[][] {
  requireLoadMatrix('weight', weight);
  return weight.map((row, l) => {
    const tokens = typeof tokensPerLayer === 'number' ? tokensPerLayer : (checkArray(tokensPerLayer, 'tokensPerLayer (a number or one per layer)') as readonly number[])[l];
    if (tokens === undefined) fail('E_ARGUMENT', `tokensPerLayer has no entry for layer ${l}`, { argument: 'tokensPerLayer', layer: l });
    return [...row, requireLoad(`tokensPerLayer[${l}]`, tokens)];
  });
}
