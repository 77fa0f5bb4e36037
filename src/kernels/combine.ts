/**
 * @module
 * The combine reduction: each token's `topK` expert outputs (BF16 payloads as received, or float32)
 * summed in FP32 and rounded to BF16. Normal combine sums rows the experts already weighted; the
 * low-latency combine weights each row by the token's top-k gate weight first.
 */
import { bf16FromF32Bits } from './bf16.js';
import { checkInt, checkTypedArray } from '../validate.js';

/** Options of {@link combine}. */
export interface CombineOptions {
  /** Top-k gate weights `[tokens][topK]` (low-latency combine); omitted = plain sum (normal combine). */
  weights?: Float32Array;
}

const SCRATCH = new Float32Array(1);
const SCRATCH_BITS = new Uint32Array(SCRATCH.buffer);

/**
 * Reduce `rows` laid out `[tokens][topK][hidden]` to `[tokens][hidden]` BF16 bits.
 * A `Uint16Array` is read as BF16 bits; a `Float32Array` as float32 values. Accumulation is float32,
 * in top-k order: `acc = fround(acc + fround(w * row))`.
 * @example combine(new Float32Array([1, 2, 3, 4]), 1, 2, 2) // Uint16Array of BF16 [4, 6]
 */
export function combine(rows: Float32Array | Uint16Array, tokens: number, topK: number, hidden: number, opts?: CombineOptions): Uint16Array {
  checkInt(tokens, 'tokens', 1);
  checkInt(topK, 'topK', 1);
  checkInt(hidden, 'hidden', 1);
  if (rows instanceof Uint16Array) checkTypedArray(rows, 'rows', Uint16Array, tokens * topK * hidden);
  else checkTypedArray(rows, 'rows', Float32Array, tokens * topK * hidden);
  const w = opts?.weights === undefined ? null : checkTypedArray(opts.weights, 'weights', Float32Array, tokens * topK);
  const values = rows instanceof Uint16Array ? null : rows;
  const bits = rows instanceof Uint16Array ? rows : null;
  const out = new Uint16Array(tokens * hidden);
  const acc = new Float32Array(hidden);
  for (let t = 0; t < tokens; t++) {
    acc.fill(0);
    for (let e = 0; e < topK; e++) {
      const base = (t * topK + e) * hidden;
      const we = w === null ? 1 : w[t * topK + e]!;
      for (let j = 0; j < hidden; j++) {
        let v: number;
        if (bits !== null) {
          SCRATCH_BITS[0] = bits[base + j]! << 16;
          v = SCRATCH[0]!;
        } else v = values![base + j]!;
        // Storing into the Float32Array rounds each product and each sum to float32.
        acc[j] = acc[j]! + Math.fround(we * v);
      }
    }
    for (let j = 0; j < hidden; j++) {
      SCRATCH[0] = acc[j]!;
      out[t * hidden + j] = bf16FromF32Bits(SCRATCH_BITS[0]!);
    }
  }
  return out;
}
