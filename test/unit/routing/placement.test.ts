import { describe, expect, it } from 'vitest';
import { contiguousPlacement, placementFromSlots, validatePlacement, type Placement } from '../../../src/index.js';
import { expectError } from './expect-error.js';

describe('Placement', () => {
  it('contiguousPlacement puts numExperts/numRanks consecutive experts on each rank', () => {
    expect(contiguousPlacement(8, 4, 2)).toEqual({ numRanks: 4, gpusPerNode: 2, expertRanks: [[0], [0], [1], [1], [2], [2], [3], [3]] });
    const v3 = contiguousPlacement(256, 64, 8);
    expect(v3.expertRanks[255]).toEqual([63]);
    expect(v3.expertRanks[4]).toEqual([1]);
  });

  it('is plain data that survives JSON', () => {
    const p = contiguousPlacement(16, 4, 2);
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });

  it('placementFromSlots reads an EPLB phy2log row: slot p on rank p / (slots / ranks)', () => {
    expect(placementFromSlots([0, 1, 2, 0], 3, 2, 2).expertRanks).toEqual([[0, 1], [0], [1]]);
    // 4 slots per rank: the redundant replica of expert 1 lands on rank 1
    expect(placementFromSlots([0, 1, 2, 3, 4, 5, 1, 1], 6, 2, 1).expertRanks).toEqual([[0], [0, 1, 1], [0], [0], [1], [1]]);
  });

  it('rejects malformed placements, naming the field', () => {
    const ok: Placement = { numRanks: 2, gpusPerNode: 2, expertRanks: [[0], [1]] };
    expect(validatePlacement(ok, 2)).toBe(ok);
    expectError(() => validatePlacement({ ...ok, gpusPerNode: 3 }, 2), 'E_ARGUMENT', 'placement.numRanks 2', 'gpusPerNode 3');
    expectError(() => validatePlacement({ ...ok, expertRanks: [[0], []] }, 2), 'E_ARGUMENT', 'placement.expertRanks[1]');
    expectError(() => validatePlacement({ ...ok, expertRanks: [[0], [2]] }, 2), 'E_ARGUMENT', 'placement.expertRanks[1][0]', '2');
    expectError(() => validatePlacement(ok, 3), 'E_ARGUMENT', 'placement.expertRanks', '3 experts');
    expectError(() => validatePlacement({ ...ok, numRanks: 1.5 }, 2), 'E_ARGUMENT', 'placement.numRanks', '1.5');
    expectError(() => contiguousPlacement(10, 4, 2), 'E_ARGUMENT', 'numRanks 4', 'numExperts 10');
    expectError(() => placementFromSlots([0, 1, 2], 3, 2, 2), 'E_ARGUMENT', 'phy2log', '3 slots');
    expectError(() => placementFromSlots([0, 7], 3, 2, 2), 'E_ARGUMENT', 'phy2log[1]', '7');
  });
});
