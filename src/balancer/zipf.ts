/**
 * @module
 * Seeded synthetic skew: Zipf-distributed expert popularity and top-k routing sampled from it, for
 * benchmarks, docs and tests of the balancer.
 */
import { fail } from '../errors.js';
import { createRng } from '../routing/rng.js';
import { checkAlloc, checkArray, checkInt, checkIntRows } from '../validate.js';
import { requireLoad } from './validate.js';

/**
 * Zipf popularity per layer: the expert of rank `r` (1-based) weighs `r^-exponent`, ranks shuffled
 * per layer with the seed; every row sums to 1.
 * @example
 * ```ts
 * import { zipfPopularity } from 'expertmesh';
 * console.log(zipfPopularity(1, 4, 1, 7)[0]); // four weights summing to 1, in shuffled order
 * ```
 * @public
 */
export function zipfPopularity(numLayers: number, numExperts: number, exponent: number, seed: number): number[][] {
  checkInt(numLayers, 'numLayers', 1);
  checkInt(numExperts, 'numExperts', 1);
  requireLoad('exponent', exponent);
  checkInt(seed, 'seed', Number.MIN_SAFE_INTEGER);
  checkAlloc('zipfPopularity', 'the popularity matrix', numLayers * numExperts * 16, 'numLayers or numExperts', true);
  const rng = createRng(seed);
  const rand = (): number => rng.uniform();
  let z = 0;
  for (let r = 1; r <= numExperts; r++) z += r ** -exponent;
  return Array.from({ length: numLayers }, () => {
    const perm = Array.from({ length: numExperts }, (_, i) => i);
    for (let i = numExperts - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const row = new Array<number>(numExperts);
    perm.forEach((e, r) => (row[e] = (r + 1) ** -exponent / z));
    return row;
  });
}

/**
 * Sample each token's top-k distinct experts with probability proportional to `popularity`
 * (successive draws without replacement).
 * @example
 * ```ts
 * import { sampleTopk } from 'expertmesh';
 * console.log(sampleTopk([0.7, 0.1, 0.1, 0.1], 3, 2, 1)); // 3 tokens, 2 distinct experts each
 * ```
 * @public
 */
export function sampleTopk(popularity: readonly number[], numTokens: number, topk: number, seed: number): number[][] {
  checkArray(popularity, 'popularity', true);
  checkInt(numTokens, 'numTokens', 0);
  checkInt(topk, 'topk', 1);
  checkInt(seed, 'seed', Number.MIN_SAFE_INTEGER);
  checkAlloc('sampleTopk', 'the top-k table', numTokens * (topk + 4) * 8, 'numTokens or topk', true);
  const positive = popularity.filter((p) => requireLoad('popularity[i]', p) > 0).length;
  if (topk > positive) {
    fail('E_ARGUMENT', `topk (${topk}) exceeds the ${positive} experts with positive popularity`, { argument: 'topk', value: topk });
  }
  const cdf = new Float64Array(popularity.length);
  let acc = 0;
  popularity.forEach((p, i) => (cdf[i] = acc += p));
  const rng = createRng(seed);
  const rand = (): number => rng.uniform();
  const draw = (): number => {
    const x = rand() * acc;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  return Array.from({ length: numTokens }, () => {
    const row: number[] = [];
    // Rejection keeps draws distinct; with heavy skew and large k, fall back to the untaken experts.
    for (let tries = 0; row.length < topk && tries < 64 * topk; tries++) {
      const e = draw();
      if (!row.includes(e)) row.push(e);
    }
    for (let e = 0; row.length < topk; e++) if (popularity[e]! > 0 && !row.includes(e)) row.push(e);
    return row;
  });
}

/**
 * Tokens per expert of one routed batch (`-1` entries ignored).
 * @public
 */
export function countExpertTokens(topkIdx: readonly (readonly number[])[], numExperts: number): number[] {
  checkInt(numExperts, 'numExperts', 1);
  checkIntRows(topkIdx, 'topkIdx', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  checkAlloc('countExpertTokens', 'the counts', numExperts * 8, 'numExperts', true);
  const counts = new Array<number>(numExperts).fill(0);
  for (const row of topkIdx) for (const e of row) if (e >= 0 && e < numExperts) counts[e]! += 1;
  return counts;
}
