/**
 * Invariants of the gate that users rely on, over random configs, logits and biases.
 * fc.assert prints the seed and counterexample of any failure; pin those as examples in test/unit/routing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gate, gateFromLogits, gateLogits } from '../../src/index.js';
import { gateConfigArbitrary, gateInputArbitrary, logitsInputArbitrary } from '../../src/testing/index.js';
import { referenceGate, referenceScores } from '../unit/routing/reference.js';

const runs = { numRuns: 150 };
const rows = <T extends ArrayLike<number>>(a: T, width: number) => Array.from({ length: a.length / width }, (_, t) => Array.from(a).slice(t * width, (t + 1) * width));

describe('gate properties', () => {
  it('exactly topk distinct in-range experts per token, in at most topkGroups groups', () => {
    fc.assert(
      fc.property(logitsInputArbitrary(), ({ config: c, tokens, logits, bias }) => {
        const r = gateFromLogits(logits, bias, tokens, c);
        expect(r.topkIdx.length).toBe(tokens * c.topk);
        for (const row of rows(r.topkIdx, c.topk)) {
          expect(new Set(row).size).toBe(c.topk);
          for (const e of row) expect(e >= 0 && e < c.numExperts).toBe(true);
          expect(new Set(row.map((e) => Math.floor(e / (c.numExperts / c.numGroups)))).size).toBeLessThanOrEqual(c.topkGroups);
        }
      }),
      runs,
    );
  });

  it('weights are the unbiased scores: non-negative, sigmoid rows sum to routeScale, softmax rows are score x routeScale', () => {
    fc.assert(
      fc.property(logitsInputArbitrary(), ({ config: c, tokens, logits, bias }) => {
        const r = gateFromLogits(logits, bias, tokens, c);
        const E = c.numExperts;
        rows(r.topkIdx, c.topk).forEach((row, t) => {
          const s = referenceScores(Array.from(logits.subarray(t * E, (t + 1) * E)), c.scoreFunc);
          const w = Array.from(r.topkWeights.subarray(t * c.topk, (t + 1) * c.topk));
          for (const v of w) expect(v).toBeGreaterThanOrEqual(0);
          const sum = row.reduce((a, e) => a + s[e]!, 0);
          row.forEach((e, j) => expect(w[j]).toBeCloseTo((c.scoreFunc === 'sigmoid' ? s[e]! / sum : s[e]!) * c.routeScale, 10));
          if (c.scoreFunc === 'sigmoid') expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(c.routeScale, 10);
        });
      }),
      runs,
    );
  });

  it('rows are in descending order of selection score and match DeepSeek’s code line by line', () => {
    fc.assert(
      fc.property(logitsInputArbitrary(), ({ config: c, tokens, logits, bias }) => {
        const r = gateFromLogits(logits, bias, tokens, c);
        const ref = referenceGate(logits, bias, tokens, c);
        expect(rows(r.topkIdx, c.topk)).toEqual(ref.idx);
        ref.w.flat().forEach((w, i) => expect(r.topkWeights[i]).toBeCloseTo(w, 12));
        rows(r.topkIdx, c.topk).forEach((row, t) => {
          const s = referenceScores(Array.from(logits.subarray(t * c.numExperts, (t + 1) * c.numExperts)), c.scoreFunc);
          const sel = row.map((e) => s[e]! + (bias === null ? 0 : bias[e]!));
          for (let j = 1; j < sel.length; j++) expect(sel[j]!).toBeLessThanOrEqual(sel[j - 1]!);
        });
      }),
      runs,
    );
  });

  it('a bias changes which experts are chosen, never the weight formula', () => {
    // Without groups, a +2 bias (more than any sigmoid or softmax score gap) forces an expert in.
    const input = logitsInputArbitrary({ config: gateConfigArbitrary({ maxGroups: 1 }), bias: 'never' }).chain((i) =>
      fc.record({ input: fc.constant(i), forced: fc.integer({ min: 0, max: i.config.numExperts - 1 }) }),
    );
    fc.assert(
      fc.property(input, ({ input: { config: c, tokens, logits }, forced }) => {
        const bias = new Float64Array(c.numExperts);
        bias[forced] = 2;
        const plain = gateFromLogits(logits, null, tokens, c);
        const biased = gateFromLogits(logits, bias, tokens, c);
        rows(biased.topkIdx, c.topk).forEach((row, t) => {
          expect(row[0]).toBe(forced);
          const s = referenceScores(Array.from(logits.subarray(t * c.numExperts, (t + 1) * c.numExperts)), c.scoreFunc);
          const sum = c.scoreFunc === 'sigmoid' ? row.reduce((a, e) => a + s[e]!, 0) : 1;
          row.forEach((e, j) => expect(biased.topkWeights[t * c.topk + j]).toBeCloseTo((s[e]! / sum) * c.routeScale, 10));
          // the forced expert, when already chosen without bias, keeps exactly its weight formula
          const before = rows(plain.topkIdx, c.topk)[t]!;
          if (before.every((e) => row.includes(e))) {
            before.forEach((e, j) => expect(biased.topkWeights[t * c.topk + row.indexOf(e)]).toBeCloseTo(plain.topkWeights[t * c.topk + j]!, 12));
          }
        });
      }),
      runs,
    );
  });

  it('is equivariant under permuting tokens', () => {
    const input = logitsInputArbitrary({ maxTokens: 10 }).chain((i) =>
      fc.record({ input: fc.constant(i), perm: fc.shuffledSubarray([...Array(i.tokens).keys()], { minLength: i.tokens, maxLength: i.tokens }) }),
    );
    fc.assert(
      fc.property(input, ({ input: { config: c, tokens, logits, bias }, perm }) => {
        const E = c.numExperts;
        const permuted = new Float64Array(logits.length);
        perm.forEach((src, t) => permuted.set(logits.subarray(src * E, (src + 1) * E), t * E));
        const a = gateFromLogits(logits, bias, tokens, c);
        const b = gateFromLogits(permuted, bias, tokens, c);
        perm.forEach((src, t) => {
          expect(Array.from(b.topkIdx.subarray(t * c.topk, (t + 1) * c.topk))).toEqual(Array.from(a.topkIdx.subarray(src * c.topk, (src + 1) * c.topk)));
          expect(Array.from(b.topkWeights.subarray(t * c.topk, (t + 1) * c.topk))).toEqual(Array.from(a.topkWeights.subarray(src * c.topk, (src + 1) * c.topk)));
        });
      }),
      runs,
    );
  });

  it('gate is the product followed by gateFromLogits, and the product is x · weightᵀ', () => {
    fc.assert(
      fc.property(gateInputArbitrary(), ({ config: c, tokens, hidden, x, weight, bias }) => {
        const logits = gateLogits(x, weight, tokens, hidden, c.numExperts);
        for (let t = 0; t < tokens; t++) {
          for (let e = 0; e < c.numExperts; e++) {
            let dot = 0;
            for (let h = 0; h < hidden; h++) dot += x[t * hidden + h]! * weight[e * hidden + h]!;
            expect(logits[t * c.numExperts + e]).toBeCloseTo(dot, 9);
          }
        }
        expect(gate(x, weight, bias, tokens, hidden, c)).toEqual(gateFromLogits(logits, bias, tokens, c));
      }),
      { numRuns: 80 },
    );
  });
});
