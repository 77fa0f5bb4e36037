import { describe, expect, it } from 'vitest';
import { deepepTopk } from '../../../src/ep/deepep-inputs.js';

describe("DeepEP benchmark inputs", () => {
  for (const [ranks, gpn, wantGroups] of [[8, 8, 1], [16, 8, 2], [32, 8, 4], [128, 8, 4]] as const)
    it(`${ranks} ranks: top-8 distinct experts per token within at most ${wantGroups} node group(s); seeded`, () => {
      const shape = { numRanks: ranks, gpusPerNode: gpn, tokens: 200, experts: 256, topk: 8 };
      const a = deepepTopk(shape, 3, 11);
      expect(a).toEqual(deepepTopk(shape, 3, 11));
      expect(a).not.toEqual(deepepTopk(shape, 4, 11));
      const perNode = 256 / (ranks / gpn);
      const used = new Set<number>();
      for (let t = 0; t < 200; t++) {
        const row = Array.from(a.subarray(t * 8, t * 8 + 8));
        expect(new Set(row).size).toBe(8);
        for (const e of row) expect(e >= 0 && e < 256).toBe(true);
        const groups = new Set(row.map((e) => Math.floor(e / perNode)));
        expect(groups.size).toBeLessThanOrEqual(wantGroups);
        row.forEach((e) => used.add(e));
      }
      // i.i.d. scores: every expert is picked by someone in 200 tokens (1600 picks).
      expect(used.size).toBeGreaterThan(240);
    });
});

describe('DeepEP benchmark inputs, pinned', () => {
  // Literals from the first version (scores drawn with createRng(...).uniform(), top-k by sorting
  // insertion): the inlined generator and the per-group selection must give the same ids.
  it('the same ids as the straightforward version, within one node and across 2 and 8 nodes', () => {
    const first = [27, 33, 44, 206, 8, 42, 227, 248, 71, 43, 36, 197, 85, 147, 45, 20, 155, 224, 97, 124, 201, 17, 122, 100];
    for (const R of [8, 16])
      expect(Array.from(deepepTopk({ numRanks: R, gpusPerNode: 8, tokens: 3, experts: 256, topk: 8 }, 5, 7))).toEqual(first);
    expect(Array.from(deepepTopk({ numRanks: 64, gpusPerNode: 8, tokens: 3, experts: 256, topk: 8 }, 5, 7))).toEqual(
      [27, 33, 44, 206, 8, 42, 227, 248, 71, 43, 36, 197, 85, 147, 45, 33, 155, 224, 97, 124, 201, 122, 100, 227]);
    expect(Array.from(deepepTopk({ numRanks: 16, gpusPerNode: 8, tokens: 2, experts: 4, topk: 3 }, 0, 1))).toEqual([0, 3, 1, 3, 1, 2]);
  });
});
