import { describe, expect, it } from 'vitest';
import {
  DEEPSEEK_V2,
  DEEPSEEK_V2_LITE,
  DEEPSEEK_V3,
  gate,
  gateFromLogits,
  gateLogits,
  validateGateConfig,
  type GateConfig,
} from '../../../src/index.js';
import { referenceGate, seededValues } from './reference.js';

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const small: GateConfig = { scoreFunc: 'sigmoid', numExperts: 4, topk: 2, numGroups: 2, topkGroups: 1, routeScale: 2.5 };

describe('gate: DeepSeek-V3 semantics on hand-computed examples', () => {
  const logits = new Float64Array([2, -1, 1, 1.5]);

  it('without bias, a group scores its maximum and weights are renormalised x routeScale', () => {
    const r = gateFromLogits(logits, null, 1, small);
    // group 0 max sigmoid(2) beats group 1 max sigmoid(1.5)
    expect(Array.from(r.topkIdx)).toEqual([0, 1]);
    const sum = sig(2) + sig(-1);
    expect(r.topkWeights[0]).toBeCloseTo((sig(2) / sum) * 2.5, 14);
    expect(r.topkWeights[1]).toBeCloseTo((sig(-1) / sum) * 2.5, 14);
  });

  it('with a bias (even zero), a group scores the sum of its top 2', () => {
    const r = gateFromLogits(logits, new Float64Array(4), 1, small);
    // group 1: sigmoid(1.5)+sigmoid(1) = 1.55 > group 0: sigmoid(2)+sigmoid(-1) = 1.15
    expect(Array.from(r.topkIdx)).toEqual([3, 2]);
    const sum = sig(1.5) + sig(1);
    expect(Array.from(r.topkWeights)).toEqual([(sig(1.5) / sum) * 2.5, (sig(1) / sum) * 2.5]);
  });

  it('the bias picks the experts but the weights stay the unbiased scores (softmax, no renormalisation)', () => {
    const cfg: GateConfig = { ...DEEPSEEK_V2_LITE, numExperts: 4, topk: 2, routeScale: 16 };
    const l = new Float64Array([1, 0.9, 0, -1]);
    const z = Math.exp(1) + Math.exp(0.9) + 1 + Math.exp(-1);
    const unbiased = gateFromLogits(l, null, 1, cfg);
    expect(Array.from(unbiased.topkIdx)).toEqual([0, 1]);
    const biased = gateFromLogits(l, new Float64Array([0, 0, 0.5, 0]), 1, cfg);
    expect(Array.from(biased.topkIdx)).toEqual([2, 0]);
    expect(biased.topkWeights[0]).toBeCloseTo((1 / z) * 16, 14);
    expect(biased.topkWeights[1]).toBeCloseTo((Math.exp(1) / z) * 16, 14);
  });

  it('equal scores: the first index wins, rows stay in descending order', () => {
    const cfg: GateConfig = { ...small, numGroups: 1, topkGroups: 1, topk: 3 };
    expect(Array.from(gateFromLogits(new Float64Array(4), null, 1, cfg).topkIdx)).toEqual([0, 1, 2]);
    expect(Array.from(gateFromLogits(new Float64Array([0, 1, 0, 1]), null, 1, cfg).topkIdx)).toEqual([1, 3, 0]);
  });

  it('a large sigmoid logit deficit still normalises: weights sum to routeScale', () => {
    const r = gateFromLogits(new Float64Array([-30, -31, -40, -50]), null, 1, { ...small, numGroups: 1, topkGroups: 1 });
    expect(r.topkWeights[0]! + r.topkWeights[1]!).toBeCloseTo(2.5, 12);
  });
});

describe('gate: full-size presets against the line-by-line reference', () => {
  for (const [name, cfg] of [
    ['DEEPSEEK_V3', DEEPSEEK_V3],
    ['DEEPSEEK_V2', DEEPSEEK_V2],
    ['DEEPSEEK_V2_LITE', DEEPSEEK_V2_LITE],
  ] as const) {
    it(`${name}: 64 tokens, with and without bias`, () => {
      const tokens = 64;
      const logits = seededValues(tokens * cfg.numExperts, 7).map((v) => 3 * v);
      for (const bias of [null, seededValues(cfg.numExperts, 3).map((v) => 0.05 * v)]) {
        const r = gateFromLogits(logits, bias, tokens, cfg);
        const ref = referenceGate(logits, bias, tokens, cfg);
        expect(Array.from(r.topkIdx)).toEqual(ref.idx.flat());
        ref.w.flat().forEach((w, i) => expect(r.topkWeights[i]).toBeCloseTo(w, 12));
      }
    });
  }

  it('preset values are DeepSeek’s', () => {
    expect(DEEPSEEK_V3).toEqual({ scoreFunc: 'sigmoid', numExperts: 256, topk: 8, numGroups: 8, topkGroups: 4, routeScale: 2.5 });
    expect(DEEPSEEK_V2).toEqual({ scoreFunc: 'softmax', numExperts: 160, topk: 6, numGroups: 8, topkGroups: 3, routeScale: 16 });
    expect(DEEPSEEK_V2_LITE).toEqual({ scoreFunc: 'softmax', numExperts: 64, topk: 6, numGroups: 1, topkGroups: 1, routeScale: 1 });
    for (const p of [DEEPSEEK_V3, DEEPSEEK_V2, DEEPSEEK_V2_LITE]) expect(validateGateConfig(p)).toBe(p);
    expect(Object.isFrozen(DEEPSEEK_V3)).toBe(true);
  });
});

describe('gateLogits and gate', () => {
  it('computes x · weightᵀ in float64 from Float32Array or Float64Array', () => {
    // x: 2 tokens x 3 hidden, weight: 5 experts x 3 hidden (5 exercises the 4-wide path and the tail)
    const x = new Float32Array([1, 2, 3, -1, 0.5, 0]);
    const w = new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0.1, 0.2, 0.3]);
    const expected = [1, 2, 3, 6, 1.4, -1, 0.5, 0, -0.5, -0.1 + 0.1];
    gateLogits(x, w, 2, 3, 5).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
    gateLogits(new Float64Array(x), new Float32Array(w), 2, 3, 5).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });

  it('gate equals gateFromLogits(gateLogits(...))', () => {
    const cfg: GateConfig = { ...DEEPSEEK_V3, numExperts: 32, numGroups: 4, topkGroups: 2, topk: 4 };
    const tokens = 16;
    const hidden = 24;
    const x = new Float32Array(seededValues(tokens * hidden, 1));
    const w = new Float32Array(seededValues(cfg.numExperts * hidden, 2));
    const bias = seededValues(cfg.numExperts, 5).map((v) => v * 0.01);
    const a = gate(x, w, bias, tokens, hidden, cfg);
    const b = gateFromLogits(gateLogits(x, w, tokens, hidden, cfg.numExperts), bias, tokens, cfg);
    expect(a).toEqual(b);
    expect(a.topkIdx).toBeInstanceOf(Int32Array);
    expect(a.topkWeights).toBeInstanceOf(Float64Array);
  });

  it('zero tokens give empty results', () => {
    const r = gate(new Float32Array(0), new Float32Array(DEEPSEEK_V3.numExperts * 2), null, 0, 2, DEEPSEEK_V3);
    expect(r.topkIdx.length).toBe(0);
    expect(r.topkWeights.length).toBe(0);
  });
});
