import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../../src/scenario/load.js';
import { runScenario } from '../../../src/scenario/run.js';
import { expectError } from '../cluster/helpers.js';

const base = {
  cluster: { nodes: 2, gpusPerNode: 2, hardware: 'H800', workers: 1, transport: 'in-process' as const },
  model: { numExperts: 16, topk: 4, numGroups: 4, topkGroups: 2, hidden: 512, moeIntermediateSize: 256, tokensPerRank: 128 },
  routing: { zipf: 0.5, seed: 1 },
};

describe('scenario schedule', () => {
  it('defaults: serial, 24 comm SMs, 3 layers; absent means the kernels one by one', () => {
    expect(loadScenario({ ...base, schedule: {} }).schedule).toEqual({ kind: 'serial', commSms: 24, layers: 3, promptLen: 4096 });
    expect(loadScenario(base).schedule).toBeUndefined();
  });

  it('rejects real payloads, odd comm SMs and unknown kinds', () => {
    expectError(() => loadScenario({ ...base, payload: 'real', schedule: { kind: 'serial' } }), 'E_SCENARIO', 'schedule', "sizes-only");
    expectError(() => loadScenario({ ...base, schedule: { commSms: 23 } }), 'E_SCENARIO', 'schedule.commSms', '23');
    expect(() => loadScenario({ ...base, schedule: { kind: 'three-batch' } })).toThrow(/schedule/);
  });

  it('a scheduled run reports step, communication, exposure and throughput, and conserves tokens', async () => {
    const r = await runScenario(loadScenario({ ...base, schedule: { kind: 'two-batch-overlap', commSms: 24, layers: 2 } }));
    expect(r.tokens.conserved).toBe(true);
    expect(r.layersSimulated).toBe(2);
    expect(r.schedule!.kind).toBe('two-batch-overlap');
    expect(r.exposedCommUs!).toBeLessThanOrEqual(r.commUs!);
    expect(r.commUs!).toBeGreaterThan(0);
    expect(r.stepUs!).toBeGreaterThan(58 * r.schedule!.simulated.layerUs - 1e-6);
    // 128 tokens x 2 GPUs per node per step, cache hits (342 of 608) counted as input.
    expect(r.throughputPerNode!.inputTokensPerSec).toBeCloseTo((256 / (r.stepUs! * 1e-6)) / (1 - 342 / 608), 3);
    expect(Object.keys(r.schedule!.simulated.smBusyShare)).toEqual(['compute', 'comm']);
    expect(r.phases.schedule!.timeUs).toBeGreaterThan(0);
    expect(r.phases.dispatch.timeUs).toBe(0);
  });
});
