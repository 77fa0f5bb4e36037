import { describe, expect, it } from 'vitest';
import { checkRange, RegionTable } from '../../../src/transport/memory.js';
import { expectError, ROUND, withCluster } from '../cluster/helpers.js';

describe('RegionTable and checkRange', () => {
  const t = new RegionTable();
  const r = t.add({ id: 0, rank: 3, name: 'buf', buffer: new SharedArrayBuffer(10) });

  it('views cover the region; counters cover its 4-byte prefix', () => {
    expect(r.u8.length).toBe(10);
    expect(r.i32.length).toBe(2);
    expect(t.lookup(3, 'buf')).toBe(r);
    expect(t.get(0)).toBe(r);
    expect(t.ofRank(3)).toEqual([r]);
  });

  it('bounds: inside passes, every way out throws E_REGION naming range, region and size', () => {
    checkRange(r, 0, 10, 'x');
    checkRange(r, 10, 0, 'x');
    for (const [o, l] of [[0, 11], [9, 2], [-1, 1], [0, -1], [0.5, 1], [11, 0]] as const) {
      const data = expectError(() => checkRange(r, o, l, 'put'), 'E_REGION', `bytes [${o}, ${o + l})`, "region 'buf' of rank 3 (10 bytes)");
      expect(data).toMatchObject({ rank: 3, region: 'buf', offset: o, length: l, size: 10 });
    }
  });

  it('unknown ids and names throw E_REGION naming them; removed regions are gone', () => {
    expectError(() => t.get(5), 'E_REGION', 'id 5');
    expectError(() => t.lookup(3, 'nope'), 'E_REGION', "rank 3 has no registered region 'nope'");
    const t2 = new RegionTable();
    t2.add({ id: 1, rank: 0, name: 'a', buffer: new SharedArrayBuffer(4) });
    t2.remove(1);
    expectError(() => t2.lookup(0, 'a'), 'E_REGION', "'a'");
    expect(t2.idLimit).toBe(2);
  });
});

describe('Cluster.register', () => {
  const small = { ...ROUND, hbmBytes: 1000 };

  it('registers shared memory visible to the main thread, counted against HBM', async () => {
    await withCluster({ hardware: small }, async (c) => {
      const r = c.register(1, 'a', 600);
      expect(r.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(c.region(1, 'a')).toBe(r);
      expect(c.hbmUsedBytes(1)).toBe(600);
      c.register(1, 'b', 400); // exactly at capacity
      expect(c.hbmUsedBytes(1)).toBe(1000);
      c.unregister(1, 'b');
      expect(c.hbmUsedBytes(1)).toBe(600);
      expect(c.findRegion(1, 'b')).toBeUndefined();
    });
  });

  it('HBM capacity, double registration, unknown rank, bad sizes and names -> typed errors naming the value', async () => {
    await withCluster({ hardware: small }, async (c) => {
      c.register(0, 'a', 600);
      const d = expectError(() => c.register(0, 'b', 401), 'E_MEMORY', "'b' (401 B)", 'rank 0 to 1001 B', 'over its 1000 B');
      expect(d).toMatchObject({ rank: 0, region: 'b', bytes: 401, capacity: 1000 });
      expectError(() => c.register(0, 'a', 4), 'E_REGION', "rank 0 already has a region 'a'");
      expectError(() => c.register(4, 'a', 4), 'E_RANK', 'rank 4 does not exist');
      expectError(() => c.register(-1, 'a', 4), 'E_RANK', 'rank -1');
      expectError(() => c.register(0, 'c', -4), 'E_REGION', "'c'", '-4');
      expectError(() => c.register(0, 'c', 1.5), 'E_REGION', '1.5');
      expectError(() => c.register(0, '', 4), 'E_REGION', 'non-empty');
      expectError(() => c.region(2, 'zz'), 'E_REGION', "rank 2 has no registered region 'zz'");
      expectError(() => c.snapshot(9), 'E_RANK', 'rank 9');
    });
  });

  it('after close, registering throws E_CLOSED', async () => {
    let cl: import('../../../src/cluster/cluster.js').Cluster | undefined;
    await withCluster({}, async (c) => void (cl = c));
    expectError(() => cl!.register(0, 'x', 4), 'E_CLOSED', 'closed');
  });
});
