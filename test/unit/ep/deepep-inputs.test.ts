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
