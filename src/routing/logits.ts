/**
 * @module
 * The router product `logits = x · weightᵀ`, accumulated in float64. This is the expensive part of the
 * gate (tokens × experts × hidden multiply-adds); everything after it is cheap by comparison.
 */
import { checkInt, checkLength } from '../validate.js';
import { type NumericArray } from './check.js';

/**
 * Router logits: `x` is `[tokens][hidden]`, `weight` is `[numExperts][hidden]` (both row-major);
 * returns `[tokens][numExperts]` in float64. Throws `E_ARGUMENT` on mismatched lengths.
 * @example
 * const logits = gateLogits(new Float32Array([1, 2]), new Float32Array([1, 0, 0, 1]), 1, 2, 2); // [1, 2]
 * @public
 */
export function gateLogits(x: NumericArray, weight: NumericArray, tokens: number, hidden: number, numExperts: number): Float64Array {
  checkInt(tokens, 'tokens');
  checkInt(hidden, 'hidden', 1);
  checkInt(numExperts, 'numExperts', 1);
  checkLength(x, tokens * hidden, 'x', `tokens ${tokens} x hidden ${hidden}`);
  checkLength(weight, numExperts * hidden, 'weight', `numExperts ${numExperts} x hidden ${hidden}`);
  const out = new Float64Array(tokens * numExperts);
  const e4 = numExperts - (numExperts % 4);
  for (let t = 0; t < tokens; t++) {
    const xo = t * hidden;
    const oo = t * numExperts;
    // Four weight rows per pass share each load of x.
    for (let e = 0; e < e4; e += 4) {
      const w0 = e * hidden;
      const w1 = w0 + hidden;
      const w2 = w1 + hidden;
      const w3 = w2 + hidden;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let h = 0; h < hidden; h++) {
        const xv = x[xo + h]!;
        a0 += xv * weight[w0 + h]!;
        a1 += xv * weight[w1 + h]!;
        a2 += xv * weight[w2 + h]!;
        a3 += xv * weight[w3 + h]!;
      }
      out[oo + e] = a0;
      out[oo + e + 1] = a1;
      out[oo + e + 2] = a2;
      out[oo + e + 3] = a3;
    }
    for (let e = e4; e < numExperts; e++) {
      const wo = e * hidden;
      let a = 0;
      for (let h = 0; h < hidden; h++) a += x[xo + h]! * weight[wo + h]!;
      out[oo + e] = a;
    }
  }
  return out;
}
