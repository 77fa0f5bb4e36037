/**
 * Normal-mode dispatch and combine on real data (in-process hosts): exact rows in (source rank,
 * channel, token) order for BF16 and FP8 payloads, rewritten top-k, aligned per-expert counts,
 * cached dispatch, combine sums and bias, and sizes-only mode's timeline against real data's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../../src/cluster/cluster.js';
import { timelineDigest, timelineRecords } from '../../../src/sim/timeline.js';
import { checkCombine, checkDispatch, expectedRows, makeInputs, makeLayer, runChecked, smallConfig, timingKey, weightedRows, type EpCase } from './ep-case.js';

const open: Cluster[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});
async function layer(k: EpCase, sizesOnly = false) {
  const l = await makeLayer(k, 1, 'in-process', sizesOnly);
  open.push(l.cluster);
  return l;
}

function mkCase(nodes: number, gpus: number, over: Partial<EpCase> = {}): EpCase {
  const R = nodes * gpus;
  return {
    nodes, gpus, numExperts: 4 * R, hidden: 256, topk: 4, dtype: 'bf16', ...smallConfig(nodes, 4, 3, 2, 1), expertAlignment: 1,
    tokens: Array.from({ length: R }, (_, r) => 17 + 5 * r), routing: 'random', minusOne: 0.15, seed: 11, ...over,
  };
}

const SHAPES: Array<[string, number, number]> = [['intranode 1x4', 1, 4], ['internode 2x2', 2, 2], ['internode 3x2', 3, 2]];

describe('dispatch delivers exactly the right rows', () => {
  for (const [name, nodes, gpus] of SHAPES)
    for (const dtype of ['bf16', 'fp8'] as const)
      it(`${name}, ${dtype}: rows bit-identical in (source rank, channel, token) order, top-k rewritten`, async () => {
        const k = mkCase(nodes, gpus, { dtype });
        const { ep } = await layer(k);
        const inp = makeInputs(k);
        const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
        checkDispatch(k, inp, d);
        // Not a trivial case: every rank receives rows from several sources and channels.
        const rows = expectedRows(k, inp, k.numSms / 2);
        for (const r of rows) expect(new Set(r.map(([s]) => s)).size).toBeGreaterThan(1);
        expect(d.timing.notifyUs).toBeGreaterThan(0);
        expect(d.timing.kernelUs).toBeGreaterThan(0);
        expect(d.timing.perRankUs).toHaveLength(nodes * gpus);
      });

  it('order is by source rank, then channel, then token (channels are contiguous token ranges)', async () => {
    // 3 channels of ceil(10 / 3) = 4 tokens: [0,4) [4,8) [8,10); every token goes to rank 1.
    const k = mkCase(1, 2, { numExperts: 2, topk: 1, tokens: [10, 10], numSms: 6, minusOne: 0, dispatchConfig: { nvlChunk: 1, nvlBuffer: 2 }, combineConfig: { nvlChunk: 1, nvlBuffer: 2 } });
    const inp = makeInputs(k);
    for (const t of inp.topkIdx) t.fill(1);
    const { ep } = await layer(k);
    const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
    checkDispatch(k, inp, d);
    expect(Array.from(d.recv[1]!.recvSrc)).toEqual([0, 1].flatMap((s) => Array.from({ length: 10 }, (_, t) => [s, t]).flat()));
    expect(d.recv[0]!.recvSrc.length).toBe(0);
    expect(d.numRecvTokensPerExpert).toEqual([[0], [20]]);
    expect(Array.from(d.recv[1]!.recvTopkIdx)).toEqual(new Array(20).fill(0));
  });

  it('numRecvTokensPerExpert is aligned to expertAlignment; -1 entries count nowhere', async () => {
    const k = mkCase(2, 2, { expertAlignment: 8, minusOne: 0.4 });
    const { ep } = await layer(k);
    const inp = makeInputs(k);
    const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
    checkDispatch(k, inp, d);
    for (const r of d.numRecvTokensPerExpert) for (const n of r) expect(n % 8).toBe(0);
    expect(d.numRecvTokensPerExpert.flat().some((n) => n > 0)).toBe(true);
  });

  it('empty ranks and a rank with all tokens on one expert', async () => {
    const k = mkCase(2, 3, { tokens: [0, 23, 0, 5, 0, 9], routing: 'one' });
    const { ep } = await layer(k);
    const { d } = await runChecked(k, ep);
    expect(d.handle.numRecv).toEqual([37, 0, 0, 0, 0, 0]);
  });

  it('every rank empty', async () => {
    const k = mkCase(2, 2, { tokens: [0, 0, 0, 0], dtype: 'fp8' });
    const { ep } = await layer(k);
    const { d, c } = await runChecked(k, ep);
    expect(d.handle.numRecv).toEqual([0, 0, 0, 0]);
    expect(c.x.map((x) => x.length)).toEqual([0, 0, 0, 0]);
  });
});

describe('channel metadata', () => {
  it("every receiver got its senders' start/end metadata: one flag per (channel, source) with rows (intranode), per (channel, source node) and per (channel, forwarder) internode", async () => {
    for (const [nodes, gpus] of [[1, 4], [2, 2]] as const) {
      const k = mkCase(nodes, gpus);
      const { ep, cluster } = await layer(k);
      const inp = makeInputs(k);
      const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
      const R = nodes * gpus;
      const C = 2; // numSms 4
      const stride = C + k.numExperts / R;
      for (let r = 0; r < R; r++) {
        const meta = cluster.region(r, 'ep.d.meta').i32;
        const counts = d.handle.notifyCounts[r]!;
        if (nodes === 1)
          for (let c = 0; c < C; c++) for (let s = 0; s < R; s++) expect(meta[c * R + s], `rank ${r} ch ${c} src ${s}`).toBe(counts[s * stride + c]! > 0 ? 1 : 0);
        else {
          // Every forwarder of the node writes its NVLink metadata to this rank, once per channel.
          for (let c = 0; c < C; c++) for (let f = 0; f < gpus; f++) expect(meta[C * nodes + c * gpus + f]).toBe(1);
        }
      }
    }
  });
});

describe('cached dispatch', () => {
  for (const [name, nodes, gpus] of SHAPES.slice(0, 2))
    it(`${name}: a handle gives the same result with DeepEP's cached notify (launch, barrier, clean, barrier; no host wait)`, async () => {
      const k = mkCase(nodes, gpus);
      const { ep } = await layer(k);
      const inp = makeInputs(k);
      const args = { x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights };
      const d1 = await ep.dispatch(args);
      const d2 = await ep.dispatch({ ...args, handle: d1.handle });
      checkDispatch(k, inp, d2);
      // H800: launch 4 us + two barriers, each one link latency (NVLink 1 us in a node, IB 2.5 us
      // across nodes), plus a few bytes of local HBM writes.
      const barrierUs = nodes > 1 ? 2.5 : 1.0;
      expect(d2.timing.notifyUs).toBeGreaterThanOrEqual(4 + 2 * barrierUs);
      expect(d2.timing.notifyUs).toBeLessThan(4 + 2 * barrierUs + 0.01);
      // The full notify: launch, three barriers, the count exchange with its fence, and the 15 us host wait.
      expect(d1.timing.notifyUs).toBeGreaterThanOrEqual(4 + 2 * barrierUs + 15);
      expect(d2.timing.launchUs).toBe(4);
      // Each notify is a run of its own, counted apart from the kernel: the cached one takes fewer events.
      expect(d2.timing.notify!.events).toBeGreaterThan(0);
      expect(d1.timing.notify!.events).toBeGreaterThan(d2.timing.notify!.events);
      expect(d1.timing.notify!.windows).toBeGreaterThan(0);
      expect(d1.timing.notify!.hostStats).toHaveLength(d1.timing.hostStats.length);
      expect(d2.handle).toBe(d1.handle);
      expect(d2.recv).toEqual(d1.recv);
      expect(d2.numRecvTokensPerExpert).toEqual(d1.numRecvTokensPerExpert);
      expect(d2.timing.kernelUs).toBeCloseTo(d1.timing.kernelUs, 6);
      d2.timing.perRankUs.forEach((u, r) => expect(u).toBeCloseTo(d1.timing.perRankUs[r]!, 6));
    });

  it('a handle still works after another dispatch with other routing (dispatch and combine)', async () => {
    const a = mkCase(2, 2, { seed: 1 });
    const b = { ...a, seed: 2, minusOne: 0 };
    const { ep } = await layer(a);
    const ia = makeInputs(a);
    const ib = makeInputs(b);
    const da = await ep.dispatch({ x: ia.x, topkIdx: ia.topkIdx, topkWeights: ia.topkWeights });
    const db = await ep.dispatch({ x: ib.x, topkIdx: ib.topkIdx, topkWeights: ib.topkWeights });
    checkDispatch(b, ib, db);
    // Combine on the first handle, then a cached dispatch of the first routing.
    checkCombine(a, ia, await ep.combine({ x: weightedRows(a, da, ia), handle: da.handle }));
    const da2 = await ep.dispatch({ x: ia.x, topkIdx: ia.topkIdx, topkWeights: ia.topkWeights, handle: da.handle });
    checkDispatch(a, ia, da2);
    expect(da2.timing.notifyUs).toBeLessThan(da.timing.notifyUs);
    checkCombine(b, ib, await ep.combine({ x: weightedRows(b, db, ib), handle: db.handle }));
  });
});

describe('combine', () => {
  for (const [name, nodes, gpus] of SHAPES)
    for (const dtype of ['bf16', 'fp8'] as const)
      it(`${name}, ${dtype}: weighted expert rows combine to x * (sum of the token's weights)`, async () => {
        const k = mkCase(nodes, gpus, { dtype, seed: 5 });
        const { ep } = await layer(k);
        const { c } = await runChecked(k, ep);
        expect(c.timing.notifyUs).toBe(0);
        expect(c.timing.notify).toBeUndefined();
        expect(c.timing.kernelUs).toBeGreaterThan(0);
      });

  it('runExperts with experts that return their input gives the same rows as weighting by hand', async () => {
    const k = mkCase(2, 2);
    const { ep } = await layer(k);
    const inp = makeInputs(k);
    const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
    const identity = (x: Float32Array) => x;
    const e = await ep.runExperts(d, Array.from({ length: k.numExperts }, () => identity));
    // The same sums, added in expert order rather than top-k slot order: equal to float32 rounding.
    const want = weightedRows(k, d, inp);
    e.y.forEach((y, r) => {
      expect(y.length).toBe(want[r]!.length);
      y.forEach((v, i) => expect(Math.abs(v - want[r]![i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
    });
    expect(e.timeUs).toBeGreaterThan(0);
    checkCombine(k, inp, await ep.combine({ x: e.y, handle: d.handle }));
  });

  for (const [name, nodes, gpus] of SHAPES.slice(0, 2))
    it(`${name}: bias is added to every combined row (tokens routed nowhere get the bias alone)`, async () => {
      const k = mkCase(nodes, gpus, { minusOne: 0.6, seed: 9 });
      const { ep } = await layer(k);
      const inp = makeInputs(k);
      // At least one token routed nowhere.
      inp.topkIdx[0]!.fill(-1, 0, k.topk);
      const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
      const bias = k.tokens.map((T, r) => Float32Array.from({ length: T * k.hidden }, (_, i) => Math.fround(((i * 7 + r) % 13) / 8 - 0.75)));
      const c = await ep.combine({ x: weightedRows(k, d, inp), handle: d.handle, bias });
      checkCombine(k, inp, c, bias);
      // BF16 bias input is accepted too and gives the same rows.
      const { toBF16Array, fromBF16Array } = await import('../../../src/kernels/bf16.js');
      const b16 = bias.map((b) => toBF16Array(b));
      const c16 = await ep.combine({ x: weightedRows(k, d, inp), handle: d.handle, bias: b16 });
      checkCombine(k, inp, c16, b16.map((b) => fromBF16Array(b)));
    });
});

describe('sizes-only mode', () => {
  for (const [name, nodes, gpus] of [...SHAPES, ['internode 4x3', 4, 3] as [string, number, number]])
    for (const dtype of ['bf16', 'fp8'] as const)
      it(`${name}, ${dtype}: same timings per rank and the same canonical timeline as real data`, async () => {
        // Small rings with chunks that do not divide them, so NVLink chunks wrap.
        const k = mkCase(nodes, gpus, { dtype, seed: 3, ...smallConfig(nodes, 6, 3, 2, 2) });
        const inp = makeInputs(k);
        const real = await layer(k);
        const r = await runChecked(k, real.ep, inp);
        const tReal = await real.cluster.takeTimeline();
        const sz = await layer(k, true);
        const d = await sz.ep.dispatch({ topkIdx: inp.topkIdx });
        const c = await sz.ep.combine({ handle: d.handle });
        const tSize = await sz.cluster.takeTimeline();
        expect(d.recv).toEqual([]);
        expect(c.x).toEqual([]);
        expect(d.handle.numRecv).toEqual(r.d.handle.numRecv);
        expect(d.numRecvTokensPerExpert).toEqual(r.d.numRecvTokensPerExpert);
        expect(timingKey(d, c)).toBe(timingKey(r.d, r.c));
        expect(d.timing.events).toBe(r.d.timing.events);
        expect(c.timing.events).toBe(r.c.timing.events);
        expect(tSize.length).toBe(tReal.length);
        if (timelineDigest(tSize) !== timelineDigest(tReal)) expect(timelineRecords(tSize)).toEqual(timelineRecords(tReal));
      });
});
