import { describe, expect, it } from 'vitest';
import { timelineDigest } from '../../../src/sim/timeline.js';
import { ACTIVITY_STRIDE, SAMPLE_STRIDE, SERIES_NVL_RING, SERIES_RDMA_RING } from '../../../src/sim/timeline.js';
import { activityRole, SM_NAMES } from '../../../src/ep/sm-clock.js';
import { makeInputs, makeLayer, type EpCase } from './ep-case.js';

const base: EpCase = {
  nodes: 2, gpus: 4, numExperts: 32, hidden: 128, topk: 4, dtype: 'bf16', numSms: 4,
  dispatchConfig: { nvlChunk: 2, nvlBuffer: 16, rdmaChunk: 4, rdmaBuffer: 8 },
  // DeepEP's combine asserts on 2 nodes: 12 warps per forwarder, so RDMA chunk >= 12 and share - 12 >= NVLink chunk.
  combineConfig: { nvlChunk: 2, nvlBuffer: 32, rdmaChunk: 12, rdmaBuffer: 24 },
  expertAlignment: 1, tokens: [24, 24, 0, 24, 24, 24, 24, 24], routing: 'random', minusOne: 0.1, seed: 5,
};

/** Running value of every (rank, series) through the samples; checks it never goes negative. */
function replay(s: Float64Array): Map<string, { value: number; peak: number }> {
  const out = new Map<string, { value: number; peak: number }>();
  for (let i = 0; i < s.length; i += SAMPLE_STRIDE) {
    if (i > 0) expect(s[i]!).toBeGreaterThanOrEqual(s[i - SAMPLE_STRIDE]!);
    const key = `${s[i + 1]}/${s[i + 2]}`;
    const e = out.get(key) ?? { value: 0, peak: 0 };
    e.value += s[i + 3]!;
    expect(e.value, `rank/series ${key} went negative at ${s[i]} us`).toBeGreaterThanOrEqual(0);
    e.peak = Math.max(e.peak, e.value);
    out.set(key, e);
  }
  return out;
}

describe('SM activity slices', () => {
  it('every channel SM track holds disjoint slices in time order, named by a warp role, for dispatch and combine', async () => {
    const k: EpCase = { ...base };
    const { cluster, ep } = await makeLayer(k, 2);
    try {
      const inp = makeInputs(k);
      await cluster.takeActivities();
      const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
      const da = await cluster.takeActivities();
      await ep.combine({ x: d.recv.map((r) => r.recvX as Uint16Array), handle: d.handle });
      const ca = await cluster.takeActivities();
      for (const [name, a] of [['dispatch', da], ['combine', ca]] as const) {
        expect(a.length, name).toBeGreaterThan(0);
        const roles = new Set<string>();
        for (let i = 0; i < a.length; i += ACTIVITY_STRIDE) {
          expect(a[i + 1]!).toBeGreaterThan(a[i]!);
          expect(a[i + 3]!).toBeLessThan((k.numSms / 2) * SM_NAMES.length);
          roles.add(activityRole(a[i + 4]!)!);
          const prev = i - ACTIVITY_STRIDE;
          if (prev >= 0 && a[prev + 2] === a[i + 2] && a[prev + 3] === a[i + 3]) expect(a[i]!).toBeGreaterThanOrEqual(a[prev + 1]! - 1e-9);
        }
        expect([...roles].every((r) => r !== undefined)).toBe(true);
        if (name === 'dispatch') expect(roles).toEqual(new Set(['RDMASender', 'RDMASenderCoordinator', 'RDMAAndNVLForwarder', 'ForwarderCoordinator', 'NVLReceivers']));
      }
    } finally {
      await cluster.close();
    }
  });
});

describe('ring occupancy samples', () => {
  for (const nodes of [1, 2]) {
    it(`${nodes} node(s): every ring series rises, never goes negative, and drains to zero (dispatch, bounded by the ring sizes, and combine)`, async () => {
      const k: EpCase = { ...base, nodes, gpus: 8 / nodes, tokens: base.tokens };
      const { cluster, ep } = await makeLayer(k, 2);
      try {
        const inp = makeInputs(k);
        await cluster.takeSamples();
        const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
        const series = replay(await cluster.takeSamples());
        // Combine's rings too: they fill, never go negative, and drain.
        await ep.combine({ x: d.recv.map((r) => r.recvX as Uint16Array), handle: d.handle });
        const combined = replay(await cluster.takeSamples());
        expect(combined.size).toBeGreaterThan(0);
        for (const [key, e] of combined) {
          expect(e.value, `combine ${key}`).toBe(0);
          expect(e.peak, `combine ${key}`).toBeGreaterThan(0);
        }
        expect(series.size).toBeGreaterThan(0);
        const C = k.numSms / 2;
        for (const [key, e] of series) {
          expect(e.value, key).toBe(0);
          expect(e.peak, key).toBeGreaterThan(0);
          const [, s] = key.split('/').map(Number);
          // Never more tokens buffered than the rank's rings of that kind hold.
          if (s === SERIES_NVL_RING) expect(e.peak).toBeLessThanOrEqual(C * 8 * k.dispatchConfig.nvlBuffer!);
          if (s === SERIES_RDMA_RING) expect(e.peak).toBeLessThanOrEqual(C * nodes * k.dispatchConfig.rdmaBuffer!);
        }
        if (nodes > 1) expect([...series.keys()].some((key) => key.endsWith(`/${SERIES_RDMA_RING}`))).toBe(true);
      } finally {
        await cluster.close();
      }
    });
  }
});

describe('recordTraces: false', () => {
  it('keeps no samples nor activity slices, and the same timeline', async () => {
    const run = async (recordTraces: boolean) => {
      const { cluster, ep } = await makeLayer(base, 2, 'in-process', false, recordTraces);
      try {
        const inp = makeInputs(base);
        const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
        await ep.combine({ x: d.recv.map((r) => r.recvX as Uint16Array), handle: d.handle });
        return { digest: timelineDigest(await cluster.takeTimeline()), samples: (await cluster.takeSamples()).length, activities: (await cluster.takeActivities()).length };
      } finally {
        await cluster.close();
      }
    };
    const on = await run(true);
    const off = await run(false);
    expect(on.samples).toBeGreaterThan(0);
    expect(on.activities).toBeGreaterThan(0);
    expect([off.samples, off.activities]).toEqual([0, 0]);
    expect(off.digest).toBe(on.digest);
  });
});
