import { describe, expect, it } from 'vitest';
import { contiguousPlacement, DEEPSEEK_V3, gateFromLogits, getDispatchLayout } from '../../../src/index.js';
import { expectError } from './expect-error.js';
import { referenceLayout, seededValues } from './reference.js';

const plain = (l: ReturnType<typeof getDispatchLayout>) => ({
  perRank: Array.from(l.numTokensPerRank),
  perNode: Array.from(l.numTokensPerRdmaRank),
  perExpert: Array.from(l.numTokensPerExpert),
  inRank: Array.from(l.isTokenInRank),
});

describe('getDispatchLayout (DeepEP get_dispatch_layout)', () => {
  it('one node: counts tokens per rank and per expert, ignores -1', () => {
    const l = getDispatchLayout(new Int32Array([0, 3, 2, -1]), 2, 4, { numRanks: 2, gpusPerNode: 2 });
    expect(plain(l)).toEqual({ perRank: [1, 2], perNode: [2], perExpert: [1, 0, 1, 1], inRank: [1, 1, 0, 1] });
    expect(l.isTokenInRank).toBeInstanceOf(Uint8Array);
    expect(l.numTokensPerRank).toBeInstanceOf(Int32Array);
  });

  it('two nodes: a token counts once per rank and once per node however many of its experts are there', () => {
    // 8 experts, 4 ranks (2 experts each), 2 nodes of 2 ranks
    const l = getDispatchLayout(new Int32Array([0, 1, 2, 7, -1, -1, 6, -1]), 2, 8, contiguousPlacement(8, 4, 2));
    expect(plain(l)).toEqual({
      perRank: [1, 1, 0, 2],
      perNode: [2, 2],
      perExpert: [1, 1, 1, 0, 0, 0, 1, 1],
      inRank: [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
    });
  });

  it('DeepEP benchmark shape (top-8 of 256 on 32 ranks, 4 nodes): matches the reference on a V3 routing', () => {
    const tokens = 256;
    const r = gateFromLogits(seededValues(tokens * 256, 9).map((v) => Math.abs(v) + 1), null, tokens, DEEPSEEK_V3);
    const ref = referenceLayout(r.topkIdx, 8, 256, 32, 8);
    expect(plain(getDispatchLayout(r.topkIdx, 8, 256, { numRanks: 32, gpusPerNode: 8 }))).toEqual(ref);
  });

  it('zero tokens', () => {
    expect(plain(getDispatchLayout(new Int32Array(0), 8, 16, { numRanks: 4, gpusPerNode: 2 }))).toEqual({
      perRank: [0, 0, 0, 0],
      perNode: [0, 0],
      perExpert: new Array(16).fill(0),
      inRank: [],
    });
  });

  it('rejects out-of-range expert ids and bad shapes, naming them', () => {
    const shape = { numRanks: 2, gpusPerNode: 2 };
    expect(expectError(() => getDispatchLayout(new Int32Array([0, 4]), 2, 4, shape), 'E_ROUTING', 'topkIdx[0][1]', '4')).toMatchObject({ token: 0, slot: 1, value: 4 });
    expectError(() => getDispatchLayout(new Int32Array([1, 0, -2, 1]), 2, 4, shape), 'E_ROUTING', 'topkIdx[1][0]', '-2');
    expectError(() => getDispatchLayout(new Int32Array([0, 1, 2]), 2, 4, shape), 'E_ARGUMENT', 'topkIdx', 'length 3');
    expectError(() => getDispatchLayout(new Int32Array(2), 2, 5, shape), 'E_ARGUMENT', 'shape.numRanks 2', 'numExperts 5');
    expectError(() => getDispatchLayout(new Int32Array(2), 2, 6, { numRanks: 3, gpusPerNode: 2 }), 'E_ARGUMENT', 'gpusPerNode 2');
    expectError(() => getDispatchLayout(new Int32Array(2), 0, 4, shape), 'E_ARGUMENT', 'topk', '0');
  });
});
