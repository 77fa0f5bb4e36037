import { describe, expect, it } from 'vitest';
import {
  countExpertTokens,
  loadTraceFromCsv,
  loadTraceFromJson,
  loadTraceToCsv,
  loadTraceToJson,
  rebalanceExperts,
  sampleTopk,
  withSharedExpert,
  withSharedExpertLoad,
  zipfPopularity,
} from '../../../src/balancer/index.js';
import { expectError } from '../routing/expect-error.js';

describe('load traces', () => {
  const weight = [
    [5, 0, 2],
    [0, 1, 0],
  ];

  it('round-trips through JSON and CSV', () => {
    expect(loadTraceFromJson(loadTraceToJson(weight))).toEqual(weight);
    expect(loadTraceFromCsv(loadTraceToCsv(weight), { numLayers: 2, numExperts: 3 })).toEqual(weight);
    expect(loadTraceToCsv(weight)).toBe('layer,expert,tokens\n0,0,5\n0,2,2\n1,1,1\n');
  });

  it('sums repeated records, skips comments, accepts a bare array', () => {
    expect(loadTraceFromCsv('# step 1\nLayer, Expert, Tokens\n0,1,3\n\n0,1,4\n')).toEqual([[0, 7]]);
    expect(loadTraceFromJson('[{"layer":1,"expert":0,"tokens":2}]', { numExperts: 2 })).toEqual([[0, 0], [2, 0]]);
  });

  it('plans straight from a trace', () => {
    const plan = rebalanceExperts(loadTraceFromCsv('layer,expert,tokens\n0,0,4\n0,1,3\n0,2,2\n0,3,1\n'), 6, 1, 1, 2);
    expect(plan.phy2log).toEqual([[0, 0, 3, 2, 1, 1]]);
  });

  it('names the bad value', () => {
    expectError(() => loadTraceFromJson('{'), 'E_ARGUMENT', 'not valid JSON');
    expectError(() => loadTraceFromJson('{"rows":[]}'), 'E_ARGUMENT', '"records"');
    expectError(() => loadTraceFromJson('[{"layer":-1,"expert":0,"tokens":1}]'), 'E_ARGUMENT', 'record 0', 'layer', '-1');
    expectError(() => loadTraceFromJson('[{"layer":0,"expert":0,"tokens":-3}]'), 'E_NUMERIC', 'record 0: tokens', '-3');
    expectError(() => loadTraceFromJson('[{"layer":0,"expert":4,"tokens":1}]', { numExperts: 2 }), 'E_ARGUMENT', 'expert 4', 'numExperts 2');
    expectError(() => loadTraceFromJson('[]'), 'E_ARGUMENT', 'at least one layer');
    expectError(() => loadTraceFromCsv('a,b,c\n'), 'E_ARGUMENT', 'header', '"a,b,c"');
    expectError(() => loadTraceFromCsv('layer,expert,tokens\n0,1\n'), 'E_ARGUMENT', 'CSV line 2', '2 fields');
    expectError(() => loadTraceFromCsv('layer,expert,tokens\n0,x,1\n'), 'E_ARGUMENT', 'expert', 'NaN');
  });
});

describe('decode mode and synthetic skew', () => {
  it('adds the shared expert to every token and its load to every layer', () => {
    expect(withSharedExpert([[3, 7], [1, -1]], 256)).toEqual([[3, 7, 256], [1, -1, 256]]);
    expect(withSharedExpertLoad([[5, 3], [1, 1]], [4, 2])).toEqual([[5, 3, 4], [1, 1, 2]]);
    expectError(() => withSharedExpertLoad([[5, 3], [1, 1]], [4]), 'E_ARGUMENT', 'layer 1');
  });

  it('Zipf popularity sums to 1 and sampling is seeded with distinct experts', () => {
    const pop = zipfPopularity(2, 8, 1, 42);
    for (const row of pop) expect(row.reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    expect(zipfPopularity(2, 8, 1, 42)).toEqual(pop);
    const topk = sampleTopk(pop[0]!, 50, 4, 9);
    expect(topk).toEqual(sampleTopk(pop[0]!, 50, 4, 9));
    for (const row of topk) expect(new Set(row).size).toBe(4);
    expect(countExpertTokens(topk, 8).reduce((a, b) => a + b)).toBe(200);
    expect(sampleTopk([1, 0, 1e-300], 3, 2, 1).every((r) => r.includes(2))).toBe(true);
    expectError(() => sampleTopk([1, 0], 1, 2, 1), 'E_ARGUMENT', 'topk (2)');
  });
});
