/**
 * The communication SM from physics (src/ep/sm-clock.ts): the memory-level-parallelism law per
 * destination, issue slots shared by the roles of one SM, and, through DeepEP's benchmark, that a
 * link which binds speeds the kernel when doubled while one which does not bind leaves it alone.
 */
import { describe, expect, it } from 'vitest';
import { activityBound, activityRole, BOUND_HBM, BOUND_IN_FLIGHT, BOUND_ISSUE, BOUND_POST, copyBounds, CopyBounds, ROLE, ROLE_NAMES, rowCopyBounds, SmClock } from '../../../src/ep/sm-clock.js';
import { H800, type HardwareProfile } from '../../../src/hardware/profile.js';
import type { RankContext } from '../../../src/sim/rank-context.js';
import { runDeepepBenchmark } from '../../../src/ep/normal/deepep-benchmark.js';

// Literal parameters (not the profile's), so the expected times below are computed by hand.
const HW: HardwareProfile = { ...H800, smBytesInFlightPerWarp: 1024, nvlinkLatencyUs: 1.0, hbmLatencyUs: 0.5, smIssueGBps: 100, smHbmReadGBps: 200, smHbmWriteGBps: 50 };

/** A fake context's slice recording, as RankContext's: times through `activityTimes`, then `activitySpan`. */
function slicesTo(push: (track: number, label: number, t0: number, t1: number) => unknown): Pick<RankContext, 'activityTimes' | 'activitySpan'> {
  const span = new Float64Array(2);
  return { activityTimes: span, activitySpan: (track: number, label: number) => void push(track, label, span[0]!, span[1]!) };
}

function fakeCtx(hw: HardwareProfile): RankContext & { now: number } {
  return { now: 0, hardware: hw, recordsActivity: true, ...slicesTo(() => {}) } as unknown as RankContext & { now: number };
}

describe('SM copy bounds', () => {
  it('a copy to a slow destination is slower than to a fast one by the latency ratio (MLP law)', () => {
    // 3 warps x 1024 B in flight: 30,720 B over NVLink (1 us) = 10 us; to HBM (0.5 us) = 5 us.
    expect(copyBounds(HW, 30720, 'nvlink', 3, 24).ownUs).toBeCloseTo(10, 9);
    expect(copyBounds(HW, 30720, 'hbm', 3, 24).ownUs).toBeCloseTo(5, 9);
    // More warps in flight, proportionally faster.
    expect(copyBounds(HW, 30720, 'nvlink', 6, 24).ownUs).toBeCloseTo(5, 9);
    // A role's sleep is its MLP time when the SM is idle.
    const ctx = fakeCtx(HW);
    expect(new SmClock(0, 0, 24).copy(ctx, ROLE['nvl sender'], 30720, 'nvlink', 3)).toBeCloseTo(10, 9);
    expect(new SmClock(0, 0, 24).copy(ctx, ROLE['nvl receiver'], 30720, 'hbm', 3)).toBeCloseTo(5, 9);
  });

  it('the SM takes the lowest of issue, HBM read and write rates, and its share of the bytes in flight', () => {
    // 50,000 B at min(100, 200, 50) GB/s = 1 us; in-flight share of 24 warps (of 24) = ownUs.
    expect(copyBounds(HW, 50_000, 'hbm', 24, 24).smUs).toBeCloseTo(Math.max(1, (50_000 * 0.5) / (24 * 1024)), 9);
    expect(copyBounds({ ...HW, smHbmWriteGBps: 400, smIssueGBps: 25 }, 50_000, 'hbm', 240, 24).smUs).toBeCloseTo(2, 9);
    // What bounds each (kept with the SM's activity slice for the utilisation measure).
    expect(copyBounds({ ...HW, smBytesInFlightPerWarp: 65536 }, 50_000, 'hbm', 24, 24).bound).toBe(BOUND_HBM);
    expect(copyBounds({ ...HW, smHbmWriteGBps: 400, smIssueGBps: 25 }, 50_000, 'hbm', 240, 24).bound).toBe(BOUND_ISSUE);
    expect(copyBounds(HW, 50_000, 'nvlink', 24, 24).bound).toBe(BOUND_IN_FLIGHT);
  });

  it('copyBounds fills the record it is given, by warps / shares warps', () => {
    // 1 warp shared by 2 streams (half a warp, 512 B in flight) over NVLink (1 us): 30,720 B take
    // 60 us; the SM's in-flight share is 60 x 0.5 / 24 = 1.25 us (issue 0.31, HBM write 0.61).
    const out = new CopyBounds();
    expect(copyBounds(HW, 30720, 'nvlink', 1, 24, 2, out)).toBe(out);
    expect([out.ownUs, out.smUs, out.bound]).toEqual([60, 1.25, BOUND_IN_FLIGHT]);
    // Filled again in place, with every field rewritten.
    copyBounds({ ...HW, smBytesInFlightPerWarp: 65536 }, 50_000, 'hbm', 24, 24, 1, out);
    expect([out.ownUs, out.smUs, out.bound]).toEqual([(50_000 * 0.5) / (24 * 65536), 1, BOUND_HBM]);
  });

  it("a reduction (an internode combine forwarder warp's) is bounded by its own warps' bytes in flight over HBM latency and by the SM's reduce rate", () => {
    // 1 warp x 1024 B in flight over 0.5 us: 30,720 B of input rows take 15 us; the SM's share is 1/24 of that (or the reduce rate).
    const hw = { ...HW, smReduceGBps: 100 };
    const ctx = fakeCtx(hw);
    expect(new SmClock(0, 1, 24).reduce(ctx, ROLE.NVLAndRDMAForwarder, 30720, 1)).toBeCloseTo(15, 9);
    // Six warps of one forwarder group, each its own role instance asking at once: each keeps its own
    // bytes in flight, so all six finish at 15 us (the SM holds 6 x 15 / 24 = 3.75 us of in-flight share, 6 x 0.31 us of reduce).
    const sm = new SmClock(0, 1, 24);
    const six = Array.from({ length: 6 }, () => sm.reduce(ctx, ROLE.NVLAndRDMAForwarder, 30720, 1));
    for (const t of six) expect(t).toBeCloseTo(15, 9);
    // The SM's reduce rate binds when the warps keep enough in flight: 24 warps x 64 KB.
    const fast = fakeCtx({ ...hw, smBytesInFlightPerWarp: 65536 });
    const busy = new SmClock(0, 1, 24);
    let last = 0;
    for (let w = 0; w < 24; w++) last = busy.reduce(fast, ROLE.NVLAndRDMAForwarder, 100_000, 1);
    expect(last).toBeCloseTo(24, 9); // 24 x 100,000 B at 100 GB/s
  });

  it('an SM shared by two roles halves their issue share', () => {
    // Issue-bound copies (64 KB in flight per warp: the MLP bound is far below): 50,000 B = 1 us of the SM each.
    const ctx = fakeCtx({ ...HW, smBytesInFlightPerWarp: 65536 });
    // Alone: a role asking for 10 chunks at once has the last one done after 10 us.
    const alone = new SmClock(0, 0, 24);
    let last = 0;
    for (let i = 0; i < 10; i++) last = alone.copy(ctx, ROLE.RDMASender, 50_000, 'hbm', 12);
    expect(last).toBeCloseTo(10, 9);
    // Two roles on one SM asking for 10 chunks each, interleaved: each one's last chunk is done
    // after about 20 us, the rate it had alone halved.
    const shared = new SmClock(0, 0, 24);
    let a = 0;
    let b = 0;
    for (let i = 0; i < 10; i++) {
      a = shared.copy(ctx, ROLE.RDMASender, 50_000, 'hbm', 12);
      b = shared.copy(ctx, ROLE.NVLReceivers, 50_000, 'hbm', 12);
    }
    expect(a).toBeCloseTo(19, 9);
    expect(b).toBeCloseTo(20, 9);
  });
});

describe('per-warp row copies (the low-latency kernels)', () => {
  it('a warp waits whole round trips of its destination: one for bytes that fit in its window, more beyond', () => {
    // 512 B per warp (a row split over the warps) < 1024 B in flight: one HBM round trip, 0.5 us.
    expect(rowCopyBounds(HW, 14_336, 7_408, 512, 'hbm', 28, 32).ownUs).toBeCloseTo(0.5, 9);
    // One warp with a 4,096 B message over NVLink: 4 windows of 1,024 B, 4 x 1 us.
    expect(rowCopyBounds(HW, 4096, 4096, 4096, 'nvlink', 1, 32).ownUs).toBeCloseTo(4, 9);
    // Spread evenly with more than a window per warp it is the MLP law of copyBounds.
    expect(rowCopyBounds(HW, 30_720, 30_720, 10_240, 'nvlink', 3, 24).ownUs).toBeCloseTo(copyBounds(HW, 30_720, 'nvlink', 3, 24).ownUs, 9);
  });

  it('the SM reads at its read rate and writes at its write rate, each its own bytes', () => {
    // 20,000 B read at 200 GB/s = 0.1 us; 10,000 B written at 50 GB/s = 0.2 us; issue 20,000 B at 100 GB/s = 0.2 us.
    const b = rowCopyBounds({ ...HW, smIssueGBps: 400 }, 20_000, 10_000, 100, 'hbm', 1, 32);
    expect(b.smUs).toBeCloseTo(0.2, 9);
    expect(b.bound).toBe(BOUND_HBM);
    // Reading twice the bytes at a quarter of the write rate: the read binds, 40,000 B at 12.5 GB/s = 3.2 us.
    expect(rowCopyBounds({ ...HW, smHbmReadGBps: 12.5 }, 40_000, 10_000, 100, 'hbm', 1, 32).smUs).toBeCloseTo(3.2, 9);
  });

  it('a top-k reduction waits at least one HBM round trip, and the SM its reduce rate', () => {
    const ctx = fakeCtx({ ...HW, smReduceGBps: 100 });
    // 8 rows x 512 B = 4,096 B over 4 warps: 1,024 B each, one window, one round trip of 0.5 us; SM 0.041 us.
    expect(new SmClock(0, 0, 32).reduceRows(ctx, ROLE['LL combine reduce'], 4096, 4)).toBeCloseTo(0.5, 9);
    // 8 x 14,336 B over 28 warps: 4,096 B each, 4 windows = 2 us; the SM reduces 114,688 B at 100 GB/s = 1.147 us.
    expect(new SmClock(0, 0, 32).reduceRows(ctx, ROLE['LL combine reduce'], 114_688, 28)).toBeCloseTo(2, 9);
  });
});

describe("the roles' sleeps (no float crosses a call, no record per sleep)", () => {
  // A fake context whose running task's sleep record is `rec`: every sleep fills it in place.
  function sleepCtx(hw: HardwareProfile): { ctx: RankContext; rec: { kind: number; us: number } } {
    const rec = { kind: 0, us: -1 };
    return { ctx: { now: 3, hardware: hw, recordsActivity: true, ...slicesTo(() => {}), sleepWait: () => rec } as unknown as RankContext, rec };
  }
  const hw: HardwareProfile = { ...HW, nvlinkMessageUs: 0.25, ibMessageUs: 0.125, smReduceGBps: 100 };

  it('each fills the task\'s one sleep record with the time its float-taking counterpart returns, bit for bit', () => {
    const { ctx, rec } = sleepCtx(hw);
    // sleepCopy(warps, shares, messages) is copy(warps / shares, messages x nvlinkMessageUs) on a clock at the same state.
    const a = new SmClock(0, 0, 24), b = new SmClock(0, 0, 24);
    for (const [bytes, dest, warps, shares, messages] of [[30720, 'nvlink', 1, 2, 1], [50_000, 'hbm', 24, 7, 0], [4096, 'nvlink', 1, 1, 1]] as const) {
      expect(a.sleepCopy(ctx, ROLE.NVLSender, bytes, dest, warps, shares, messages)).toBe(rec);
      expect(rec.us).toBe(b.copy(ctx, ROLE.NVLSender, bytes, dest, warps / shares, messages * hw.nvlinkMessageUs));
    }
    // One NVLSender warp serving 2 source nodes, 30,720 B over NVLink: 1 / 2 warp x 1024 B in flight over 1 us = 60 us, plus a message.
    expect(new SmClock(0, 0, 24).sleepCopy(ctx, ROLE.NVLSender, 30720, 'nvlink', 1, 2, 1)).toBe(rec);
    expect(rec.us).toBe(60.25);
    // sleepPost(requests): requests x ibMessageUs of the posting lane.
    const p = new SmClock(0, 2, 24), q = new SmClock(0, 2, 24);
    expect(p.sleepPost(ctx, ROLE.RDMAReceiver, 2)).toBe(rec);
    expect(rec.us).toBe(q.post(ctx, ROLE.RDMAReceiver, 2 * hw.ibMessageUs));
    expect(rec.us).toBe(0.25);
    // sleepReduceRate(bytes): the SM busy for bytes at smReduceGBps (100,000 B at 100 GB/s = 1 us; then queued behind it: 2 us).
    const r = new SmClock(0, 0, 24), s = new SmClock(0, 0, 24);
    expect(r.sleepReduceRate(ctx, ROLE.RDMAReceiver, 100_000)).toBe(rec);
    expect(rec.us).toBe(s.busy(ctx, ROLE.RDMAReceiver, 100_000 / (hw.smReduceGBps * 1e3)));
    r.sleepReduceRate(ctx, ROLE.RDMAReceiver, 100_000);
    expect(rec.us).toBe(2);
    // sleepReduce: reduce's time.
    expect(new SmClock(0, 1, 24).sleepReduce(ctx, ROLE.NVLAndRDMAForwarder, 30720, 1)).toBe(rec);
    expect(rec.us).toBe(new SmClock(0, 1, 24).reduce(ctx, ROLE.NVLAndRDMAForwarder, 30720, 1));
  });

  it('each draws the same activity slices as its float-taking counterpart', () => {
    const rec = { kind: 0, us: -1 };
    const run = (counterpart: boolean): number[][] => {
      const slices: number[][] = [];
      const ctx = { now: 3, hardware: hw, sleepWait: () => rec, recordsActivity: true, ...slicesTo((...a: number[]) => slices.push(a)) } as unknown as RankContext;
      const send = new SmClock(1, 0, 24), fwd = new SmClock(1, 1, 24), post = new SmClock(1, 2, 24);
      if (counterpart) {
        send.copy(ctx, ROLE.NVLSender, 30720, 'nvlink', 1 / 2, hw.nvlinkMessageUs);
        fwd.reduce(ctx, ROLE.NVLAndRDMAForwarder, 30720, 1);
        fwd.busy(ctx, ROLE.RDMAReceiver, 100_000 / (hw.smReduceGBps * 1e3));
        post.post(ctx, ROLE.RDMAReceiver, 2 * hw.ibMessageUs);
      } else {
        send.sleepCopy(ctx, ROLE.NVLSender, 30720, 'nvlink', 1, 2, 1);
        fwd.sleepReduce(ctx, ROLE.NVLAndRDMAForwarder, 30720, 1);
        fwd.sleepReduceRate(ctx, ROLE.RDMAReceiver, 100_000);
        post.sleepPost(ctx, ROLE.RDMAReceiver, 2);
      }
      return slices;
    };
    const slices = run(false);
    expect(slices).toEqual(run(true));
    // The copy's SM share from 3 us (1.25 us, bound by the bytes in flight), the reduction's and
    // the reduce-rate work queued behind each other on the forwarder SM, the two posts' 0.25 us.
    expect(slices).toEqual([
      [3, ROLE.NVLSender + 32 * BOUND_IN_FLIGHT, 3, 4.25],
      [4, ROLE.NVLAndRDMAForwarder + 32 * BOUND_IN_FLIGHT, 3, 3.625],
      [4, ROLE.RDMAReceiver + 32 * BOUND_ISSUE, 3.625, 4.625],
      [5, ROLE.RDMAReceiver + 32 * BOUND_POST, 3, 3.25],
    ]);
  });
});

describe('SM activity labels', () => {
  it("a reservation by a role's number is labelled with that role's name and what bound it", () => {
    const slices: [number, number, number, number][] = [];
    const ctx = { now: 0, hardware: HW, recordsActivity: true, ...slicesTo((track, label, t0, t1) => slices.push([track, label, t0, t1])) } as unknown as RankContext;
    const sm = new SmClock(1, 2, 24);
    sm.busy(ctx, ROLE.RDMAReceiver, 2);
    sm.post(ctx, ROLE['LL combine send'], 0.5);
    expect(slices.map(([track, label, t0, t1]) => [track, activityRole(label), activityBound(label), t0, t1])).toEqual([
      [5, 'RDMAReceiver', BOUND_ISSUE, 0, 2],
      [5, 'LL combine send', BOUND_POST, 2, 2.5],
    ]);
    // Every role's number names it back.
    for (const name of ROLE_NAMES) expect(activityRole(ROLE[name])).toBe(name);
  });

  it('without a timeline the SM is reserved the same and no slice is drawn (the call is not made)', () => {
    let calls = 0;
    const ctx = { now: 0, hardware: HW, recordsActivity: false, activitySpan: () => calls++ } as unknown as RankContext;
    const sm = new SmClock(1, 2, 24);
    expect(sm.busy(ctx, ROLE.RDMAReceiver, 2)).toBe(2);
    expect(sm.busy(ctx, ROLE.RDMAReceiver, 2)).toBe(4);
    expect(calls).toBe(0);
  });
});

describe('links that bind and links that do not (EP8, DeepEP benchmark, 24 SMs)', () => {
  const run = (hw: HardwareProfile) => runDeepepBenchmark({ ranks: 8, tokens: 512, hardware: hw, workers: 1, transport: 'in-process' });
  it('doubling NVLink (binding at 24 SMs) speeds dispatch; doubling the NIC (unused in one node) changes it < 2%', async () => {
    const base = await run(H800);
    const nvl = await run({ ...H800, nvlinkGBps: 2 * H800.nvlinkGBps });
    const nic = await run({ ...H800, ibGBps: 2 * H800.ibGBps });
    expect(nvl.dispatch.timeUs).toBeLessThan(0.85 * base.dispatch.timeUs);
    expect(Math.abs(nic.dispatch.timeUs / base.dispatch.timeUs - 1)).toBeLessThan(0.02);
  });

  it('a latency-bound sender role (512 B in flight per warp, 8 SMs): doubling the NVLink store latency nearly doubles dispatch time', async () => {
    // 4 sender SMs x 24 warps x 512 B / 1 us = 49 GB/s, well below the link: the MLP law binds.
    const hw = { ...H800, smBytesInFlightPerWarp: 512, nvlinkLatencyUs: 1 };
    const few = (h: HardwareProfile) => runDeepepBenchmark({ ranks: 8, sms: 8, tokens: 512, hardware: h, workers: 1, transport: 'in-process' });
    const base = await few(hw);
    const slow = await few({ ...hw, nvlinkLatencyUs: 2 });
    const r = slow.dispatch.timeUs / base.dispatch.timeUs;
    expect(r).toBeGreaterThan(1.6);
    expect(r).toBeLessThan(2.05);
  });
});
