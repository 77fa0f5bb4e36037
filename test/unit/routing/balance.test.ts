import { describe, expect, it } from 'vitest';
import { expertLoad, maxOverMean, simulateBiasBalancing, updateBias } from '../../../src/index.js';
import { expectError } from './expect-error.js';

describe('auxiliary-loss-free balancing', () => {
  it('updateBias: minus gamma when overloaded, plus when underloaded, unchanged at the mean', () => {
    expect(Array.from(updateBias(new Float64Array([0, 0, 0]), [5, 1, 3], 0.001))).toEqual([-0.001, 0.001, 0]);
    expect(Array.from(updateBias(new Float32Array([0.5, -0.5]), [2, 2], 0.1))).toEqual([0.5, -0.5]);
    const before = new Float64Array([1, 2]);
    updateBias(before, [0, 9], 1);
    expect(Array.from(before)).toEqual([1, 2]); // pure: input untouched
  });

  it('expertLoad counts entries per expert and ignores -1; maxOverMean is 1 when balanced', () => {
    expect(Array.from(expertLoad(new Int32Array([0, 2, 2, -1]), 3))).toEqual([1, 0, 2]);
    expect(maxOverMean([2, 2, 2])).toBe(1);
    expect(maxOverMean([4, 0, 2])).toBe(2);
    expect(maxOverMean([0, 0])).toBe(1);
  });

  it('on a skewed stream, max/mean load falls over the steps', () => {
    const { maxOverMean: h, bias } = simulateBiasBalancing({ steps: 80, tokensPerStep: 256 });
    const avg = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const start = avg(h.subarray(0, 5));
    const end = avg(h.subarray(60));
    expect(start).toBeGreaterThan(2.5);
    expect(end).toBeLessThan(start / 2);
    expect(bias.length).toBe(64);
    // popular experts end with a negative bias, unpopular ones positive
    expect(Math.min(...bias)).toBeLessThan(0);
    expect(Math.max(...bias)).toBeGreaterThan(0);
  });

  it('is deterministic for a seed; gamma 0 leaves the imbalance alone', () => {
    const a = simulateBiasBalancing({ steps: 5, tokensPerStep: 64, seed: 3 });
    expect(simulateBiasBalancing({ steps: 5, tokensPerStep: 64, seed: 3 })).toEqual(a);
    expect(simulateBiasBalancing({ steps: 5, tokensPerStep: 64, seed: 4 }).maxOverMean).not.toEqual(a.maxOverMean);
    const still = simulateBiasBalancing({ steps: 30, tokensPerStep: 256, gamma: 0 });
    expect(Array.from(still.bias).every((b) => b === 0)).toBe(true);
    expect(still.maxOverMean[29]).toBeGreaterThan(2.5);
  });

  it('rejects bad arguments, naming them', () => {
    expectError(() => updateBias(new Float64Array(2), [1], 0.1), 'E_ARGUMENT', 'expertLoad', 'length 1');
    expectError(() => updateBias(new Float64Array(2), [1, 1], -0.1), 'E_ARGUMENT', 'gamma', '-0.1');
    expectError(() => updateBias(new Float64Array(2), [1, 1], NaN), 'E_NUMERIC', 'gamma', 'NaN');
    expectError(() => updateBias(new Float64Array([0, NaN]), [1, 1], 0.1), 'E_NUMERIC', 'bias[1]', 'NaN');
    expectError(() => updateBias(new Float64Array(2), [1, Infinity], 0.1), 'E_NUMERIC', 'expertLoad[1]', 'Infinity');
    expectError(() => simulateBiasBalancing({ steps: 0 }), 'E_ARGUMENT', 'options.steps', '0');
  });
});
