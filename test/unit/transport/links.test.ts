import { describe, expect, it } from 'vitest';
import { LinkModel } from '../../../src/transport/links.js';
import { PATH_IB, PATH_LOCAL, PATH_NVLINK } from '../../../src/transport/protocol.js';
import { placeRanks } from '../../../src/cluster/config.js';
import { ROUND } from '../cluster/helpers.js';

describe('LinkModel', () => {
  const m = new LinkModel(ROUND, 4);
  it('paths: local within a rank, NVLink within a node, IB across nodes', () => {
    expect(m.path(5, 5)).toBe(PATH_LOCAL);
    expect(m.path(4, 7)).toBe(PATH_NVLINK);
    expect(m.path(3, 4)).toBe(PATH_IB);
    expect(m.latencyUs[PATH_NVLINK]).toBe(1);
    expect(m.latencyUs[PATH_IB]).toBe(2);
    expect(m.bytesPerUs[PATH_NVLINK]).toBe(1e5);
    expect(m.bytesPerUs[PATH_IB]).toBe(5e4);
  });
  it('lookahead: the smallest latency of a link between workers', () => {
    expect(m.lookahead(placeRanks(2, 4, 1))).toBe(Infinity);
    expect(m.lookahead(placeRanks(2, 4, 2))).toBe(2); // whole nodes per worker: only IB crosses
    expect(m.lookahead(placeRanks(1, 4, 2))).toBe(1); // a node split over workers: NVLink crosses
  });
});
