import { describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../../../src/cluster/cluster.js';
import { createExpertParallel } from '../../../src/ep/expert-parallel.js';
import { defaultEpConfigs } from '../../../src/ep/normal/ep-config.js';
import { H800 } from '../../../src/hardware/profile.js';
import { groupedExpertsTimeUs } from '../../../src/kernels/compute-model.js';
import { runSchedule, type ScheduledStepInput } from '../../../src/schedule/run-schedule.js';
import { buildSchedule } from '../../../src/schedule/schedule.js';
import '../../../src/ops.js';

// 2 nodes x 4 GPUs, 4 expert slots per GPU, balanced routing: every slot gets the same rows, so
// every rank runs the same compute and starts each kernel at the same time.
const R = 8, T = 256, TOPK = 4, EPR = 4, NSLOTS = R * EPR;
const slots = Array.from({ length: R }, (_, r) => Int32Array.from({ length: T * TOPK }, (_, i) => (r * T * TOPK + i) % NSLOTS));
const cfg = defaultEpConfigs(R, 24, 2);
const input: ScheduledStepInput = {
  slots, slotsPerRank: EPR, topk: TOPK, hidden: 1024, moeIntermediate: 512, routedExperts: NSLOTS, sharedExperts: 1, format: 'fp8',
  dispatchConfig: cfg.dispatch, combineConfig: cfg.combine, commSms: 24, promptLen: 4096,
};
const cluster = () => createCluster({ nodes: 2, gpusPerNode: 4, hardware: H800, workers: 1, transport: 'in-process' });

async function using<T>(f: (c: Cluster) => Promise<T>): Promise<T> {
  const c = await cluster();
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}

describe('runSchedule', () => {
  it("serial reproduces today's per-kernel times exactly (dispatch and combine as separate operations)", async () => {
    const today = await using(async (c) => {
      const ep = await createExpertParallel(c, { numExperts: NSLOTS, hidden: 1024, topk: TOPK, dtype: 'fp8', sizesOnly: true, numSms: 24, dispatchConfig: cfg.dispatch, combineConfig: cfg.combine });
      const d = await ep.dispatch({ topkIdx: slots });
      const cb = await ep.combine({ handle: d.handle });
      return { notify: d.timing.notifyUs, dispatch: d.timing.perRankUs, combine: cb.timing.perRankUs };
    });
    const run = await using((c) => runSchedule(c, buildSchedule('serial', 1, 132, 24), input));
    const per = (kind: string) => Array.from({ length: R }, (_, r) => {
      const k = run.kernels.find((x) => x.rank === r && x.kind === kind)!;
      return k.endUs - k.startUs;
    });
    expect(run.notifyUs).toBe(today.notify);
    // The same events at a later absolute time: equal up to the rounding of the absolute clock.
    const same = (got: number[], want: number[]) => want.forEach((w, r) => expect(Math.abs(got[r]! - w), `rank ${r}`).toBeLessThan(1e-9));
    // A kernel's span on its stream includes its launch; DeepEP's kernel time starts after it.
    const kernel = (kind: string) => per(kind).map((us) => us - H800.kernelLaunchUs);
    same(kernel('dispatch'), today.dispatch);
    same(kernel('combine'), today.combine);
    expect(today.combine.every((c, r) => c !== today.dispatch[r])).toBe(true);
    // Compute kernels take exactly the compute model's time on the stream's 132 SMs.
    const load = new Array(EPR).fill((R * T * TOPK) / NSLOTS);
    same(per('experts'), new Array(R).fill(groupedExpertsTimeUs(H800, { tokensPerExpert: load, hidden: 1024, intermediate: 512, format: 'fp8' }, { sms: 132 })));
  });

  it('two-batch overlap: one micro-batch communicates while the other computes, and hides most communication', async () => {
    const run = await using((c) => runSchedule(c, buildSchedule('two-batch-overlap', 2, 132, 24), { ...input, hidden: 2048, moeIntermediate: 1024 }));
    const r0 = run.kernels.filter((k) => k.rank === 0);
    const at = (id: string) => r0.find((k) => k.id === id)!;
    // DISPATCH(mb1) runs during ATTN(mb0) on the same rank.
    expect(at('L0.mb1.dispatch').startUs).toBeLessThan(at('L0.mb0.attn').endUs);
    expect(at('L0.mb1.dispatch').endUs).toBeGreaterThan(at('L0.mb0.attn').startUs);
    // Every kernel waited for its data: experts after its dispatch, the next ATTN after combine and shared.
    expect(at('L0.mb1.experts').startUs).toBeGreaterThanOrEqual(at('L0.mb1.dispatch').endUs);
    expect(at('L1.mb0.attn').startUs).toBeGreaterThanOrEqual(Math.max(at('L0.mb0.combine').endUs, at('L0.mb0.shared').endUs));
    expect(run.tokensPerMb).toEqual([new Array(R).fill(T / 2), new Array(R).fill(T / 2)]);
  });
});
