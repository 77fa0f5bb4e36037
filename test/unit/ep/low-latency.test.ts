/**
 * DeepEP's low-latency kernels: the layout's size hint against reference §4's literals, the launch
 * geometry, the limits (256 tokens per rank, two buffer sets), hook mode against one-launch mode
 * (same bytes, no SM time between the send and the receive launch), sizes-only against real data,
 * and the benchmark's defaults and byte counting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCluster, createExpertParallel, H800, isExpertmeshError, toBF16Array, type Cluster, type HardwareProfile } from '../../../src/index.js';
import { lowLatencyLaunch, lowLatencyRdmaSizeHint, lowLatencySizes } from '../../../src/ep/low-latency/layout.js';
import { lowLatencyPairBytes, lowLatencyTopk, runLowLatencyBenchmark } from '../../../src/ep/low-latency/benchmark.js';
import { ACTIVITY_STRIDE, TIMELINE_FIELDS, TIMELINE_STRIDE } from '../../../src/sim/timeline.js';
import { activityRole } from '../../../src/ep/sm-clock.js';

const clusters: Cluster[] = [];
afterEach(async () => {
  while (clusters.length > 0) await clusters.pop()!.close();
});

async function layer(nodes: number, gpus: number, o: { experts?: number; hidden?: number; topk?: number; T?: number; sizesOnly?: boolean; record?: boolean; hw?: HardwareProfile } = {}) {
  const cluster = await createCluster({ nodes, gpusPerNode: gpus, hardware: o.hw ?? H800, workers: 1, transport: 'in-process', recordTimeline: o.record ?? false });
  clusters.push(cluster);
  const R = nodes * gpus;
  const E = o.experts ?? 2 * R, H = o.hidden ?? 256, K = o.topk ?? 2, T = o.T ?? 6;
  const ep = await createExpertParallel(cluster, { numExperts: E, hidden: H, topk: K, sizesOnly: o.sizesOnly ?? false, lowLatency: { maxDispatchTokensPerRank: T } });
  const topkIdx = Array.from({ length: R }, (_, r) => lowLatencyTopk(T, E, K, r, 5).map((e, i) => (i % 7 === 3 ? -1 : e)));
  const x = Array.from({ length: R }, (_, r) => toBF16Array(Float32Array.from({ length: T * H }, (_, i) => Math.cos(r * 13 + i * 0.37) * (1 + (i % 5)))));
  const w = topkIdx.map((t) => Float32Array.from(t, (_, i) => 0.25 + (i % 3) * 0.5));
  const identity = Array.from({ length: E }, () => (rows: Float32Array) => rows);
  return { cluster, ep, R, E, H, K, T, topkIdx, x, w, identity };
}

function code(f: () => unknown): Promise<{ code: string; data: Record<string, unknown> }> {
  return Promise.resolve()
    .then(f)
    .then(
      () => ({ code: 'none', data: {} }),
      (e) => (isExpertmeshError(e) ? { code: e.code, data: e.data } : { code: `uncoded: ${String(e)}`, data: {} }),
    );
}

describe('low-latency layout', () => {
  it("lowLatencyRdmaSizeHint equals reference §4's three literals to the byte", () => {
    expect(lowLatencyRdmaSizeHint(128, 7168, 8, 256)).toBe(1_908_410_496);
    expect(lowLatencyRdmaSizeHint(128, 7168, 32, 288)).toBe(2_146_961_792);
    expect(lowLatencyRdmaSizeHint(256, 7168, 8, 256)).toBe(3_816_818_816);
    // The pieces: dispatch slot 16 + max(2H, H + 4 * H/128), combine slot 4 * H/128 + 2H.
    const s = lowLatencySizes(128, 7168, 256);
    expect(s.dispatchSlot).toBe(14_352);
    expect(s.combineSlot).toBe(14_560);
    expect(s.signalBytes).toBe(1024);
    expect(s.hintBytes - s.totalBytes).toBe(128);
  });

  it("launch geometry: DeepEP's warp groups per SM from the SM count", () => {
    expect(lowLatencyLaunch(256, 132)).toEqual({ numWarpGroups: 2, warpsPerGroup: 16, numSms: 128 });
    expect(lowLatencyLaunch(288, 132)).toEqual({ numWarpGroups: 3, warpsPerGroup: 10, numSms: 96 });
    expect(lowLatencyLaunch(16, 132)).toEqual({ numWarpGroups: 1, warpsPerGroup: 32, numSms: 16 });
  });

  it("the benchmark counts bytes as DeepEP's test: 7,408 B per pair dispatched, 14,336 B combined", () => {
    expect(lowLatencyPairBytes(7168, 'dispatch')).toBe(7408);
    expect(lowLatencyPairBytes(7168, 'combine')).toBe(14_336);
  });
});

describe('low-latency limits', () => {
  it('more than 256 tokens per rank is refused, and a call over maxDispatchTokensPerRank', async () => {
    const cluster = await createCluster({ nodes: 1, gpusPerNode: 2, hardware: H800, workers: 1, transport: 'in-process' });
    clusters.push(cluster);
    const e = await code(() => createExpertParallel(cluster, { numExperts: 4, hidden: 128, topk: 2, lowLatency: { maxDispatchTokensPerRank: 257 } }));
    expect(e.code).toBe('E_CONFIG');
    expect(e.data['max']).toBe(256);
    for (const bad of [0, 1.5, '8', null]) expect((await code(() => createExpertParallel(cluster, { numExperts: 4, hidden: 128, topk: 2, lowLatency: { maxDispatchTokensPerRank: bad as never } }))).code).toBe('E_CONFIG');
    expect((await code(() => createExpertParallel(cluster, { numExperts: 4, hidden: 128, topk: 2, lowLatency: 3 as never }))).code).toBe('E_CONFIG');
    const ep = await createExpertParallel(cluster, { numExperts: 4, hidden: 128, topk: 2, sizesOnly: true, lowLatency: { maxDispatchTokensPerRank: 4 } });
    const over = await code(() => ep.lowLatencyDispatch({ topkIdx: [new Int32Array(10), new Int32Array(10)] }));
    expect(over.code).toBe('E_ARGUMENT');
    expect(over.data['max']).toBe(4);
    // Without the option, the low-latency calls say how to enable them.
    const normal = await createExpertParallel(cluster, { numExperts: 4, hidden: 128, topk: 2 });
    expect((await code(() => normal.lowLatencyDispatch({ topkIdx: [new Int32Array(2), new Int32Array(2)] }))).code).toBe('E_ARGUMENT');
  });

  it('a buffer over the HBM is refused (E_MEMORY)', async () => {
    const cluster = await createCluster({ nodes: 1, gpusPerNode: 2, hardware: { ...H800, name: 'small', hbmBytes: 1e9 }, workers: 1, transport: 'in-process' });
    clusters.push(cluster);
    const e = await code(() => createExpertParallel(cluster, { numExperts: 256, hidden: 7168, topk: 8, sizesOnly: true, lowLatency: { maxDispatchTokensPerRank: 128 } }));
    expect(e.code).toBe('E_MEMORY');
  });

  it('two buffer sets alternate: a third live result is refused until a hook runs', async () => {
    const { ep, topkIdx, x } = await layer(1, 2);
    const a = await ep.lowLatencyDispatch({ x, topkIdx, returnRecvHook: true });
    const b = await ep.lowLatencyDispatch({ x, topkIdx, returnRecvHook: true });
    const third = await code(() => ep.lowLatencyDispatch({ x, topkIdx }));
    expect(third.code).toBe('E_ARGUMENT');
    expect(third.data['rule']).toBe('two-buffer-sets');
    // Combine on a dispatch that has not received is refused too.
    expect((await code(() => ep.lowLatencyCombine({ handle: a.handle, x: [], topkWeights: [] }))).code).toBe('E_ARGUMENT');
    await a.hook();
    expect((await code(() => a.hook())).code).toBe('E_ARGUMENT');
    // Set 0 is free again; set 1 is still held by b.
    const c = await ep.lowLatencyDispatch({ x, topkIdx });
    expect((await code(() => ep.lowLatencyDispatch({ x, topkIdx }))).data['rule']).toBe('two-buffer-sets');
    await b.hook();
    // Every result received the same rows (b's counts survived a and c's launches).
    expect(b.recv).toEqual(a.recv);
    expect(c.recv).toEqual(a.recv);
    const d = await ep.lowLatencyDispatch({ x, topkIdx });
    expect(d.recv).toEqual(a.recv);
  });
});

describe('low-latency dispatch and combine', () => {
  it('hook mode gives the bytes of one-launch mode, and charges no SM time between send and receive', async () => {
    const { cluster, ep, R, E, topkIdx, x, w, identity } = await layer(2, 2, { record: true, experts: 8, topk: 3 });
    const d1 = await ep.lowLatencyDispatch({ x, topkIdx, useFp8: true });
    const y1 = await ep.runExperts(d1, identity);
    const c1 = await ep.lowLatencyCombine({ x: y1.y, topkIdx, topkWeights: w, handle: d1.handle });
    expect(d1.timing.mode).toBe('one-kernel');
    await cluster.takeActivities();
    await cluster.takeTimeline();

    const d2 = await ep.lowLatencyDispatch({ x, topkIdx, useFp8: true, returnRecvHook: true });
    expect(d2.received).toBe(false);
    expect(d2.recv).toEqual([]);
    const sendEnd = d2.timing.startUs + d2.timing.sendUs;
    const sendActs = await cluster.takeActivities();
    const flight = await cluster.takeTimeline();
    const hookStart = cluster.nowUs;
    await d2.hook();
    const recvActs = await cluster.takeActivities();
    // The send launch's SM work ends with it; the receive launch's starts after the hook.
    expect(sendActs.length).toBeGreaterThan(0);
    for (let i = 0; i < sendActs.length; i += ACTIVITY_STRIDE) expect(sendActs[i + 1]!).toBeLessThanOrEqual(sendEnd + 1e-9);
    for (let i = 0; i < recvActs.length; i += ACTIVITY_STRIDE) expect(recvActs[i]!).toBeGreaterThanOrEqual(hookStart);
    // Data was still in flight after the send launch ended: the gap no SM pays for.
    const deliveredAt = TIMELINE_FIELDS.indexOf('deliverT');
    let last = 0;
    for (let i = 0; i < flight.length; i += TIMELINE_STRIDE) last = Math.max(last, flight[i + deliveredAt]!);
    expect(last).toBeGreaterThan(sendEnd);
    expect(d2.recv).toEqual(d1.recv);
    expect(d2.recvCount).toEqual(d1.recvCount);
    expect(d2.timing.recvUs).toBeGreaterThan(0);

    const y2 = await ep.runExperts(d2, identity);
    const c2 = await ep.lowLatencyCombine({ x: y2.y, topkIdx, topkWeights: w, handle: d2.handle, returnRecvHook: true });
    await c2.hook();
    expect(c2.x).toEqual(c1.x);
    expect(c1.x).toHaveLength(R);
    expect(E).toBe(8);
  });

  it('sizes-only mode has the timings of real data', async () => {
    const real = await layer(2, 2, { experts: 8, topk: 3 });
    const d = await real.ep.lowLatencyDispatch({ x: real.x, topkIdx: real.topkIdx });
    const y = await real.ep.runExperts(d, real.identity);
    const c = await real.ep.lowLatencyCombine({ x: y.y, topkWeights: real.w, handle: d.handle });
    const sizes = await layer(2, 2, { experts: 8, topk: 3, sizesOnly: true });
    const ds = await sizes.ep.lowLatencyDispatch({ topkIdx: sizes.topkIdx });
    const cs = await sizes.ep.lowLatencyCombine({ handle: ds.handle });
    expect(ds.timing.perRankUs).toEqual(d.timing.perRankUs);
    // The real run's compute step moved the clock, so only rounding differs.
    cs.timing.perRankUs.forEach((t, r) => expect(t).toBeCloseTo(c.timing.perRankUs[r]!, 9));
    expect(ds.recv).toEqual([]);
    expect(ds.recvCount).toEqual(d.recvCount);
  });

  it('UE8M0 scales are powers of two', async () => {
    const { ep, topkIdx, x } = await layer(1, 2);
    const d = await ep.lowLatencyDispatch({ x, topkIdx, ue8m0: true });
    const rx = d.recv[0]!.x as { q: Uint8Array; scales: Float32Array };
    let checked = 0;
    for (const s of rx.scales)
      if (s !== 0) {
        expect(Math.log2(s)).toBe(Math.round(Math.log2(s)));
        checked++;
      }
    expect(checked).toBeGreaterThan(0);
  });
});

describe('low-latency kernels on the SM and NIC models', () => {
  // Two experts on two GPUs: 2 SMs of 32 warps (31 cast), 8 tokens per rank, so 4 per SM; top-1,
  // every token to the other rank's expert.
  const shape = { experts: 2, topk: 1, T: 8, hidden: 256, sizesOnly: true };
  const toPeer = [new Int32Array(8).fill(1), new Int32Array(8).fill(0)];

  it('the cast is charged by the SM law: the BF16 row read at the per-SM read rate, and halving that rate doubles it and slows the send kernel', async () => {
    const castUs: number[][] = [];
    const sendUs: number[] = [];
    for (const readGBps of [0.5, 0.25]) {
      const { cluster, ep } = await layer(1, 2, { ...shape, record: true, hw: { ...H800, smHbmReadGBps: readGBps } });
      const d = await ep.lowLatencyDispatch({ topkIdx: toPeer, returnRecvHook: true });
      sendUs.push(d.timing.sendPerRankUs[0]!);
      const acts = await cluster.takeActivities();
      const casts: number[] = [];
      for (let i = 0; i < acts.length; i += ACTIVITY_STRIDE) if (activityRole(acts[i + 4]!) === 'LL cast') casts.push(acts[i + 1]! - acts[i]!);
      castUs.push(casts);
      await d.hook();
    }
    // One cast per token (2 ranks x 8), each 2 x 256 B = 512 B read: 1.024 us at 0.5 GB/s, 2.048 us at 0.25.
    expect(castUs[0]).toHaveLength(16);
    for (const t of castUs[0]!) expect(t).toBeCloseTo(1.024, 9);
    for (const t of castUs[1]!) expect(t).toBeCloseTo(2.048, 9);
    // The send kernel is the SM's 4 tokens in turn: it grows by at least 4 x 1.024 us.
    expect(sendUs[1]! - sendUs[0]!).toBeGreaterThanOrEqual(4 * 1.024 - 1e-9);
  });

  it('a cast whose row fits in the warps\' bytes in flight still waits one HBM round trip', async () => {
    const send = async (hbmLatencyUs: number) => {
      const { ep } = await layer(1, 2, { ...shape, hw: { ...H800, hbmLatencyUs } });
      const d = await ep.lowLatencyDispatch({ topkIdx: toPeer, returnRecvHook: true });
      await d.hook();
      return d.timing.sendPerRankUs[0]!;
    };
    // Per token: the cast's round trip and the slot claim's atomic, each hbmLatencyUs (the sends
    // themselves go over NVLink, whose latency is unchanged): 4 tokens x 2 x 0.5 us more; plus SM 0's
    // zeroing of the other set's 2 x 4 B of signals first (one warp, 8 B x 0.5 us / 4096 B in flight).
    expect((await send(1.1)) - (await send(0.6))).toBeCloseTo(4 * 2 * 0.5 + (8 * 0.5) / 4096, 9);
  });

  it("a rank launched late holds up its peers' kernels, not its own (DeepEP's ranks run their kernels back to back)", async () => {
    const { ep } = await layer(1, 2, shape);
    const aligned = await ep.lowLatencyDispatch({ topkIdx: toPeer });
    const late = await ep.lowLatencyDispatch({ topkIdx: toPeer, launchDelayUs: [0, 5] });
    // Rank 0 waits for rank 1's tokens, which leave 5 us later (less the little of it rank 0 spent
    // on its own sends anyway); rank 1's own kernel is as before.
    const grew = late.timing.perRankUs[0]! - aligned.timing.perRankUs[0]!;
    expect(grew).toBeGreaterThan(4);
    expect(grew).toBeLessThanOrEqual(5 + 1e-9);
    expect(late.timing.perRankUs[1]!).toBeCloseTo(aligned.timing.perRankUs[1]!, 6);
    expect(late.timing.endPerRankUs[1]! - late.timing.perRankUs[1]!).toBe(5);
    expect(late.timing.delayPerRankUs).toEqual([0, 5]);
    for (const bad of [[0, -1], [0, Number.NaN], [0]])
      expect((await code(() => ep.lowLatencyDispatch({ topkIdx: toPeer, launchDelayUs: bad }))).code).toBe('E_ARGUMENT');
  });

  it('a count sent over RDMA leaves once its writes are acknowledged: 1 us more of IB latency costs the dispatch 3 us (data, acknowledgement, atomic)', async () => {
    const kernel = async (ibLatencyUs: number, ibDoorbellUs = 1) => {
      const { ep } = await layer(2, 1, { ...shape, hw: { ...H800, ibLatencyUs, ibDoorbellUs } });
      const d = await ep.lowLatencyDispatch({ topkIdx: toPeer });
      return d.timing.perRankUs[0]!;
    };
    const base = await kernel(2.5);
    expect((await kernel(3.5)) - base).toBeCloseTo(3, 6);
    // The doorbell delays the writes and the count alike.
    expect((await kernel(2.5, 2)) - base).toBeCloseTo(1, 6);
  });
});

describe('low-latency benchmark', () => {
  it("draws DeepEP's test inputs: the same expert ids as the first version (top-k by repeated argmax over createRng's draws), pinned", () => {
    // Written from the first version's output: 16 tokens, 32 experts, top-3, rank 5, seed 7 (10 entries masked to -1).
    expect(Array.from(lowLatencyTopk(16, 32, 3, 5, 7))).toEqual([
      -1, 29, -1, 19, 25, 11, 31, 5, 24, 21, 16, -1, -1, 8, 22, 14, 5, 31, 0, 29, 12, 17, 31, 27,
      -1, -1, 12, 19, 27, 26, 12, 13, 27, 30, -1, -1, 9, 6, 30, 23, -1, -1, 13, 5, 27, 25, 29, 8,
    ]);
    // Every expert chosen (topk = experts): each token's row is a permutation, highest score first.
    expect(Array.from(lowLatencyTopk(4, 9, 9, 2, 1))).toEqual([
      -1, 5, 2, -1, 0, 3, -1, 8, -1, 8, -1, 5, 7, 3, 1, 0, 4, 2, 5, -1, 7, 1, 3, -1, 8, 4, -1, 7, 6, 1, -1, 0, 8, 4, 5, 3,
    ]);
  });

  it("defaults to 288 experts where the rank count divides it, else 256, and to message link sharing, and says which", async () => {
    const a = await runLowLatencyBenchmark({ ranks: 8, tokens: 4, hidden: 256, workers: 1, transport: 'in-process', hook: false });
    expect(a).toMatchObject({ mode: 'low-latency', experts: 288, expertsSource: 'default-288', nodes: 1, linkSharing: 'message' });
    expect(a.dispatch.bytes).toBe(lowLatencyTopk(4, 288, 8, 0, 0).filter((e) => e >= 0).length * (256 + 8 + 16));
    expect(a.dispatch.sendUs).toBeNull();
    const b = await runLowLatencyBenchmark({ ranks: 64, tokens: 1, hidden: 128, topk: 2, workers: 1, transport: 'in-process' });
    expect(b).toMatchObject({ experts: 256, expertsSource: 'default-256', nodes: 8 });
    expect(b.dispatch.sendUs).toBeGreaterThan(0);
    expect(b.combine.recvUs).toBeGreaterThan(0);
    const c = await runLowLatencyBenchmark({ ranks: 8, experts: 16, tokens: 2, hidden: 128, topk: 2, workers: 1, transport: 'in-process', hook: false });
    expect(c.expertsSource).toBe('given');
  });
});
