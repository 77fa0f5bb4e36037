/**
 * One clock per operation: an operation that starts on an idle cluster runs on the same numbers
 * whatever ran on the cluster before it (docs/runtime.md, "One clock per operation"). Before, it
 * ran from the cluster's clock, and float rounding (amplified by the links' send and credit
 * resolutions) made its figures depend on history: these cases then differed in the last bits of
 * the kernel times and by tens of events.
 */
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import { createCluster, type Cluster } from '../../../src/cluster/cluster.js';
import { createExpertParallel, type DispatchResult, type ExpertParallel } from '../../../src/ep/expert-parallel.js';
import { deepepTopk } from '../../../src/ep/deepep-inputs.js';
import type { EpConfig } from '../../../src/ep/normal/ep-config.js';
import { allToAll } from '../../../src/ep/all-to-all.js';
import { runTraffic, type TrafficTransfer } from '../../../src/ep/traffic.js';
import { H800 } from '../../../src/hardware/profile.js';
import { TIMELINE_STRIDE } from '../../../src/sim/timeline.js';
import { expectReject, ROUND, withCluster } from './helpers.js';

/** Every rank: a few steps of 0.1 us after 2.5 us (sums that round), then its clocks. */
defineOp<null>({
  name: 'test.clock.tick',
  *task(ctx) {
    yield ctx.sleep(2.5);
    for (let i = 0; i < 7; i++) yield ctx.sleep(0.1);
    ctx.setResult([ctx.now, ctx.opTimeUs, ctx.clusterTimeUs]);
  },
});

/** Rank 0 waits for a counter nobody sets after 1 us: a run that ends stuck, its task left behind. */
defineOp<null>({
  name: 'test.clock.stuck',
  *task(ctx) {
    if (ctx.rank !== 0) return;
    yield ctx.sleep(1);
    yield ctx.untilAtLeast(ctx.region('test.clock.flag'), 0, 1);
  },
});

/** Time fields of a flat timeline record (issueT .. deliverT). */
const TIMES = [6, 7, 8, 9, 10, 11];

interface Kernel {
  kernelUs: number;
  perRankUs: number[];
  events: number;
  transfers: number;
  /** The kernel's timeline (taken right after it) and where its operation started on the cluster's clock. */
  timeline: Float64Array;
  startUs: number;
}

type Mk = (dispatchConfig?: Partial<EpConfig>) => Promise<ExpertParallel>;

async function withEp<T>(ranks: number, workers: number, fn: (c: Cluster, mk: Mk) => Promise<T>): Promise<T> {
  const c = await createCluster({ nodes: ranks / 8, gpusPerNode: 8, hardware: H800, seed: 0, workers, transport: 'in-process', recordTimeline: true });
  try {
    return await fn(c, (dispatchConfig) => createExpertParallel(c, {
      numExperts: 64, hidden: 512, topk: 8, dtype: 'fp8', numSms: 24, sizesOnly: true, ...(dispatchConfig ? { dispatchConfig } : {}),
    }));
  } finally {
    await c.close();
  }
}

function inputs(ranks: number) {
  const shape = { numRanks: ranks, gpusPerNode: 8, tokens: 64, experts: 64, topk: 8 };
  const topkIdx = Array.from({ length: ranks }, (_, r) => deepepTopk(shape, r, 3));
  return { topkIdx, topkWeights: topkIdx.map((t) => new Float32Array(t.length).fill(1 / 8)) };
}

async function dispatch(c: Cluster, ep: ExpertParallel, ranks: number, handle?: DispatchResult['handle']): Promise<Kernel & { handle: DispatchResult['handle'] }> {
  await c.takeTimeline();
  const d = await ep.dispatch({ ...inputs(ranks), ...(handle ? { handle } : {}) });
  const t = d.timing;
  return { kernelUs: t.kernelUs, perRankUs: t.perRankUs, events: t.events, transfers: t.transfers, timeline: await c.takeTimeline(), startUs: t.startUs - t.launchUs, handle: d.handle };
}

async function combine(c: Cluster, ep: ExpertParallel, handle: DispatchResult['handle']): Promise<Kernel> {
  await c.takeTimeline();
  const x = await ep.combine({ handle });
  const t = x.timing;
  return { kernelUs: t.kernelUs, perRankUs: t.perRankUs, events: t.events, transfers: t.transfers, timeline: await c.takeTimeline(), startUs: t.startUs - t.launchUs };
}

/**
 * The same kernel: bit-identical times and counts, and the same timeline relative to its start
 * (records in the same canonical order; pair sequence numbers count on across operations, so not
 * compared; times are placed on the cluster's clock, so equal up to the rounding of that placing:
 * within two units in the last place).
 */
function expectSameKernel(a: Kernel, b: Kernel, timelineFrom = 0): void {
  expect(b.kernelUs).toBe(a.kernelUs);
  expect(b.perRankUs).toEqual(a.perRankUs);
  expect([b.events, b.transfers]).toEqual([a.events, a.transfers]);
  const ta = a.timeline.subarray(timelineFrom * TIMELINE_STRIDE);
  const tb = b.timeline.subarray(timelineFrom * TIMELINE_STRIDE);
  expect(tb.length).toBe(ta.length);
  const n = ta.length / TIMELINE_STRIDE;
  expect(n).toBeGreaterThan(100);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const o = i * TIMELINE_STRIDE;
    for (const f of [0, 1, 3, 4, 5]) expect(tb[o + f]).toBe(ta[o + f]);
    for (const f of TIMES) {
      const da = ta[o + f]! - a.startUs;
      const db = tb[o + f]! - b.startUs;
      const ulp = Math.max(Math.abs(ta[o + f]!), Math.abs(tb[o + f]!)) * Number.EPSILON;
      worst = Math.max(worst, Math.abs(db - da) / ulp);
    }
  }
  expect(worst).toBeLessThanOrEqual(2);
}

describe('one clock per operation: the same figures whatever ran before', () => {
  it('an operation on an idle cluster runs from 0 on its own clock, reports stay on the cluster clock (also after a failed start or a stuck run)', async () => {
    for (const workers of [1, 2]) {
      await withCluster({ workers, hardware: ROUND }, async (c) => {
        const fresh = await c.run<number[]>('test.clock.tick', null);
        const [now, opTime] = fresh.results[0]! as [number, number];
        expect(now).toBeCloseTo(3.2, 12);
        expect(opTime).toBe(now);
        expect(fresh.results).toEqual(Array(4).fill([now, now, now]));
        const same = (r: typeof fresh) => {
          expect(r.timeUs).toBe(fresh.timeUs);
          expect(r.rankTimeUs).toEqual(fresh.rankTimeUs);
          for (const x of r.results) expect(x).toEqual([now, now, r.startUs + now]);
          expect(r.endUs).toBe(r.startUs + now);
        };
        const again = await c.run<number[]>('test.clock.tick', null);
        expect(again.startUs).toBe(fresh.endUs);
        same(again);
        // A start that fails on every host still moves every host's clock with the main thread's.
        await expectReject(c.run('no.such.op', null), 'E_ARGUMENT', "unknown operation 'no.such.op'");
        const afterBadStart = await c.run<number[]>('test.clock.tick', null);
        expect(afterBadStart.startUs).toBe(again.endUs);
        same(afterBadStart);
        // A stuck run's task is dropped once the run has failed: the cluster is idle again, and the
        // next operation starts where the stuck run stopped, on its own clock.
        for (let r = 0; r < 4; r++) c.register(r, 'test.clock.flag', 4);
        await expectReject(c.run('test.clock.stuck', null), 'E_TIMEOUT', 'can make no more progress at');
        expect(c.nowUs).toBe(afterBadStart.endUs + 1);
        const afterStuck = await c.run<number[]>('test.clock.tick', null);
        expect(afterStuck.startUs).toBe(afterBadStart.endUs + 1);
        same(afterStuck);
      });
    }
  });

  for (const workers of [1, 2]) {
    it(`EP16 (internode) dispatch alone, and after a dispatch and a combine (${workers} worker(s))`, async () => {
      const alone = await withEp(16, workers, async (c, mk) => dispatch(c, await mk(), 16));
      const after = await withEp(16, workers, async (c, mk) => {
        const ep = await mk();
        const d = await dispatch(c, ep, 16);
        await combine(c, ep, d.handle);
        return dispatch(c, ep, 16);
      });
      expect(after.startUs).toBeGreaterThan(2 * alone.startUs);
      // The notify's records and the kernel's, from the kernel's start.
      expectSameKernel(alone, after);
    }, 60_000);

    it(`EP8 (intranode) combine after a tune-style sequence equals the combine after a single dispatch (${workers} worker(s))`, async () => {
      const plain = await withEp(8, workers, async (c, mk) => {
        const ep = await mk();
        const d = await dispatch(c, ep, 8);
        return combine(c, ep, d.handle);
      });
      const tuned = await withEp(8, workers, async (c, mk) => {
        const ep = await mk();
        const d = await dispatch(c, ep, 8);
        // Other dispatch configs with the cached handle, then the default dispatch again.
        for (const nvlChunk of [4, 12]) await dispatch(c, await mk({ nvlChunk, nvlBuffer: 256 }), 8, d.handle);
        const d2 = await dispatch(c, ep, 8, d.handle);
        return combine(c, ep, d2.handle);
      });
      expect(tuned.startUs).toBeGreaterThan(plain.startUs);
      expectSameKernel(plain, tuned);
    }, 60_000);
  }

  // runTraffic reads its records, rates and ports on the call's own clock (the engines' numbers),
  // not as cluster times minus its start: before, a used cluster's differed from a fresh one's by
  // that rounding (start + t - start), and the digest (over cluster times) differed entirely.
  for (const [transport, workers] of [['worker', 1], ['worker', 2], ['in-process', 2]] as const) {
    it(`traffic (${transport}, ${workers} worker(s)): records, rates, ports and digest exactly a fresh cluster's after other operations`, async () => {
      const flows: TrafficTransfer[] = [];
      for (let s = 0; s < 16; s++) for (let k = 1; k <= 5; k++) flows.push({ src: s, dst: (s * 7 + k * 3) % 16, bytes: 50_000 + 7_919 * k * (s + 1), atUs: (s % 3) * 0.7 });
      const open = () => createCluster({ nodes: 2, gpusPerNode: 8, hardware: H800, workers, transport, recordTimeline: true });
      const fresh = await open();
      const used = await open();
      try {
        const a = await runTraffic(fresh, flows);
        await allToAll(used, { bytesPerPair: 33_333, sizesOnly: true });
        await runTraffic(used, flows.map((f) => ({ ...f, dst: (f.dst + 5) % 16 })));
        const start = used.nowUs;
        expect(start).toBeGreaterThan(0);
        const b = await runTraffic(used, flows);
        expect(b.timeUs).toBe(a.timeUs);
        expect(b.events).toBe(a.events);
        expect(a.records.length).toBe(flows.length * 2);
        // Some time of this set is not exact on the cluster's clock: the old subtraction differed there.
        expect(a.records.some((r) => start + r.deliverT - start !== r.deliverT)).toBe(true);
        expect(b.records).toEqual(a.records);
        expect(a.rates.length).toBeGreaterThan(flows.length);
        expect(b.rates).toEqual(a.rates);
        expect(b.ports).toEqual(a.ports);
        expect(b.timelineDigest).toBe(a.timelineDigest);
        // The cluster's own view stays on its clock: the next timeline starts after `start`.
        await allToAll(used, { bytesPerPair: 1000, sizesOnly: true });
        const tl = await used.takeTimeline();
        expect(tl[6]).toBeGreaterThanOrEqual(start + b.timeUs);
      } finally {
        await fresh.close();
        await used.close();
      }
    }, 60_000);
  }
});
