import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeRanks, resolveClusterConfig, type ClusterConfig } from '../../../src/cluster/config.js';
import { H800 } from '../../../src/hardware/profile.js';
import { expectError } from './helpers.js';

const base: ClusterConfig = { nodes: 2, gpusPerNode: 4, hardware: H800 };

describe('cluster config validation', () => {
  it.each([
    ['nodes', 0], ['nodes', 1.5], ['nodes', '2'], ['gpusPerNode', -1], ['gpusPerNode', NaN], ['workers', 0], ['workers', 9],
    ['seed', 0.5], ['transport', 'tcp'], ['timeoutMs', 0], ['timeoutMs', -5], ['ringBytes', 65536], ['ringBytes', 600000], ['ringBytes', 134217728], ['linkSharing', 'packet'], ['recordTraces', 1],
  ] as const)("'%s' = %s -> E_CONFIG naming the field and value", (field, value) => {
    const data = expectError(() => resolveClusterConfig({ ...base, [field]: value } as ClusterConfig), 'E_CONFIG', `'${field}'`, typeof value === 'number' ? String(value) : JSON.stringify(value));
    expect(data['field']).toBe(field);
  });

  it('hardware: missing, unknown name, bad field', () => {
    expectError(() => resolveClusterConfig({ ...base, hardware: undefined as never }), 'E_CONFIG', "'hardware' is required");
    expectError(() => resolveClusterConfig({ ...base, hardware: 'A100' }), 'E_CONFIG', "unknown hardware profile 'A100'", 'H800');
    expectError(() => resolveClusterConfig({ ...base, hardware: { ...H800, ibGBps: 0 } }), 'E_CONFIG', 'hardware.ibGBps', '0');
    expectError(() => resolveClusterConfig(null as never), 'E_CONFIG', 'must be an object');
    expectError(() => resolveClusterConfig({ ...base, nodes: 1024, gpusPerNode: 8 }), 'E_CONFIG', '8192', '4096-rank limit');
  });

  it("hostHeapSampling: defaults filled in, absent when not asked; checked; needs the worker transport", () => {
    expect(resolveClusterConfig(base).hostHeapSampling).toBeUndefined();
    expect(resolveClusterConfig({ ...base, hostHeapSampling: {} }).hostHeapSampling).toEqual({ intervalBytes: 1024, topSites: 20 });
    expect(resolveClusterConfig({ ...base, hostHeapSampling: { intervalBytes: 32, topSites: 0 } }).hostHeapSampling).toEqual({ intervalBytes: 32, topSites: 0 });
    expectError(() => resolveClusterConfig({ ...base, hostHeapSampling: { intervalBytes: 100 } }), 'E_CONFIG', "'hostHeapSampling.intervalBytes'", '100');
    expectError(() => resolveClusterConfig({ ...base, hostHeapSampling: { intervalBytes: 8 } }), 'E_CONFIG', "'hostHeapSampling.intervalBytes'", '8');
    expectError(() => resolveClusterConfig({ ...base, hostHeapSampling: { topSites: -1 } }), 'E_CONFIG', "'hostHeapSampling.topSites'", '-1');
    expectError(() => resolveClusterConfig({ ...base, hostHeapSampling: true as never }), 'E_CONFIG', "'hostHeapSampling' must be an object");
    expectError(() => resolveClusterConfig({ ...base, transport: 'in-process', hostHeapSampling: {} }), 'E_CONFIG', "'hostHeapSampling' needs transport 'worker'");
  });

  it('defaults: seed 0, worker transport, timeline on, 30 s timeout, workers <= ranks', () => {
    const c = resolveClusterConfig({ nodes: 1, gpusPerNode: 1, hardware: 'h800' });
    expect(c).toMatchObject({ numRanks: 1, seed: 0, transport: 'worker', recordTimeline: true, timeoutMs: 30_000, workers: 1, workerOfRank: [0] });
    expect(c.hardware).toBe(H800);
  });

  it('recordTraces: as recordTimeline unless given', () => {
    expect(resolveClusterConfig(base).recordTraces).toBe(true);
    expect(resolveClusterConfig({ ...base, recordTimeline: false }).recordTraces).toBe(false);
    expect(resolveClusterConfig({ ...base, recordTraces: false }).recordTraces).toBe(false);
    expect(resolveClusterConfig({ ...base, recordTimeline: false, recordTraces: true }).recordTraces).toBe(true);
  });
});

describe('placement', () => {
  it('256 ranks (32 nodes x 8) on 2 workers: whole nodes, 128 ranks each, contiguous', () => {
    const p = placeRanks(32, 8, 2);
    expect(p.slice(0, 128).every((w) => w === 0)).toBe(true);
    expect(p.slice(128).every((w) => w === 1)).toBe(true);
  });

  it('whole nodes per worker whenever nodes >= workers; every worker used; contiguous blocks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 12 }), (nodes, g, w0) => {
        const workers = Math.min(w0, nodes * g);
        const p = placeRanks(nodes, g, workers);
        expect(p.length).toBe(nodes * g);
        expect(new Set(p).size).toBe(workers);
        for (let r = 1; r < p.length; r++) expect(p[r]! - p[r - 1]!).toBeGreaterThanOrEqual(0);
        if (nodes >= workers)
          for (let n = 0; n < nodes; n++) expect(new Set(p.slice(n * g, (n + 1) * g)).size).toBe(1);
        // Balanced: worker loads differ by at most one node (or one rank when nodes are split).
        const load = Array.from({ length: workers }, (_, w) => p.filter((x) => x === w).length);
        expect(Math.max(...load) - Math.min(...load)).toBeLessThanOrEqual(nodes >= workers ? g : 1);
      }),
      { numRuns: 300 },
    );
  });
});
