/**
 * Expert-parallel configuration: DeepEP's default configs per rank count (and the rule for other
 * counts), every deadlock constraint rejected with E_CONFIG naming it, record sizes, and typed
 * errors for bad inputs to createExpertParallel, dispatch, combine and runExperts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../../../src/cluster/cluster.js';
import { H800 } from '../../../src/hardware/profile.js';
import { createExpertParallel, type ExpertParallel } from '../../../src/ep/expert-parallel.js';
import { defaultEpConfigs, resolveEpConfigs, validateEpConfig, type EpConfig } from '../../../src/ep/normal/ep-config.js';
import { benchmarkRowBytes, combineRecordBytes, dispatchRecordLayout } from '../../../src/ep/records.js';
import { expectError, expectReject } from '../cluster/helpers.js';
import { makeInputs, smallConfig, type EpCase } from './ep-case.js';

const cfg = (numSms: number, nvlChunk: number, nvlBuffer: number, rdmaChunk: number, rdmaBuffer: number): EpConfig => ({ numSms, nvlChunk, nvlBuffer, rdmaChunk, rdmaBuffer });

describe('record sizes', () => {
  it('hidden 7168, top-8: FP8 7,472 B and BF16 14,416 B; combine rows 14,336 B', () => {
    expect(dispatchRecordLayout(7168, 8, 'fp8').bytes).toBe(7472);
    expect(dispatchRecordLayout(7168, 8, 'bf16').bytes).toBe(14416);
    const f = dispatchRecordLayout(7168, 8, 'fp8');
    expect([f.dataBytes, f.scaleBytes, f.metaOffset, f.idxOffset, f.weightOffset]).toEqual([7168, 224, 7392, 7400, 7432]);
    expect(combineRecordBytes(7168)).toBe(14336);
    expect(dispatchRecordLayout(128, 1, 'bf16').bytes % 16).toBe(0);
    expect(benchmarkRowBytes(7168, 'fp8')).toBe(7168 * (1 + 4 / 128));
    expect(benchmarkRowBytes(7168, 'bf16')).toBe(14336);
  });
});

describe('default configs', () => {
  // deepep-details.md §1, all 12 entries: (nvl_send_chunk, nvl_recv_slots, rdma_send_chunk, rdma_recv_slots).
  const ref: Array<[number, number[], number[]]> = [
    [2, [24, 256, 6, 128], [10, 256, 6, 128]],
    [4, [6, 256, 6, 128], [9, 256, 6, 128]],
    [8, [6, 256, 6, 128], [4, 256, 6, 128]],
    [16, [36, 288, 20, 128], [4, 288, 12, 128]],
    [24, [32, 288, 8, 128], [1, 288, 8, 128]],
    [32, [32, 288, 8, 128], [1, 288, 8, 128]],
    [48, [32, 288, 8, 128], [1, 288, 8, 128]],
    [64, [32, 288, 8, 128], [1, 288, 8, 128]],
    [96, [20, 480, 12, 128], [1, 480, 8, 128]],
    [128, [20, 560, 12, 128], [1, 560, 8, 128]],
    [144, [32, 720, 12, 128], [2, 720, 8, 128]],
    [160, [28, 720, 12, 128], [2, 720, 8, 128]],
  ];
  const tuple = (c: EpConfig) => [c.nvlChunk, c.nvlBuffer, c.rdmaChunk, c.rdmaBuffer];

  it("DeepEP's 12 entries (reference §1), source 'deepep', 20 SMs unless told", () => {
    for (const [R, d, c] of ref) {
      const got = defaultEpConfigs(R);
      expect(tuple(got.dispatch), `${R} ranks dispatch`).toEqual(d);
      expect(tuple(got.combine), `${R} ranks combine`).toEqual(c);
      expect(got.dispatch.numSms).toBe(20);
      expect([got.dispatch.source, got.combine.source]).toEqual(['deepep', 'deepep']);
    }
    expect(defaultEpConfigs(8, 24).combine.numSms).toBe(24);
  });

  it('other counts take the nearest lower entry as it is, marked nearest', () => {
    const e40 = defaultEpConfigs(40);
    expect(tuple(e40.dispatch)).toEqual([32, 288, 8, 128]);
    expect([e40.dispatch.source, e40.dispatch.entryRanks]).toEqual(['nearest', 32]);
    expect(tuple(defaultEpConfigs(6).dispatch)).toEqual([6, 256, 6, 128]);
    expect(tuple(defaultEpConfigs(1).combine)).toEqual([10, 256, 6, 128]);
    // EP112 (14 nodes) takes EP96's rings, not grown.
    expect(tuple(defaultEpConfigs(112, 20, 14).dispatch)).toEqual([20, 480, 12, 132]);
    expect(defaultEpConfigs(112, 20, 14).dispatch.source).toBe('nearest');
  });

  it("internode, the RDMA ring is aligned up to its chunk as DeepEP's Config does", () => {
    const e16 = defaultEpConfigs(16, 20, 2);
    expect(tuple(e16.dispatch)).toEqual([36, 288, 20, 140]);
    expect(tuple(e16.combine)).toEqual([4, 288, 12, 132]);
    expect(tuple(defaultEpConfigs(96, 20, 12).dispatch)).toEqual([20, 480, 12, 132]);
    expect(defaultEpConfigs(96, 20, 12).dispatch.nvlBuffer).toBe(480);
    // EP40 takes EP32's entry as it is: both rings 288, nothing cut or grown.
    const e40 = defaultEpConfigs(40, 20, 5);
    expect(tuple(e40.dispatch)).toEqual([32, 288, 8, 128]);
    expect(tuple(e40.combine)).toEqual([1, 288, 8, 128]);
    expect(Object.keys(e40.combine).sort()).toEqual(['entryRanks', 'numSms', 'nvlBuffer', 'nvlChunk', 'rdmaBuffer', 'rdmaChunk', 'source']);
  });

  it("EP40: EP32's combine ring (288 slots) fails DeepEP's divisibility assert on 5 nodes and is refused, naming the assert, the values and a config that passes", () => {
    const data = expectError(() => resolveEpConfigs(40, 5, 24), 'E_CONFIG', 'combineConfig', '`num_max_nvl_chunked_recv_tokens % num_rdma_ranks == 0`',
      'NVLink receive ring (288) % 5 nodes = 3', "EP32's entry", 'nvl 1/288, rdma 8/128', 'does not resize', '"combineConfig": { "nvlBuffer": 290 }', '--combine-config', '(or 285)');
    expect(data).toMatchObject({ field: 'combineConfig.nvlBuffer', assert: 'num_max_nvl_chunked_recv_tokens % num_rdma_ranks == 0', value: 288, ranks: 40, entryRanks: 32, suggest: { nvlBuffer: 290 } });
    // The suggestion passes; dispatch stays the nearest entry, combine is given.
    const ok = resolveEpConfigs(40, 5, 24, { combine: { nvlBuffer: 290 } });
    expect(ok.dispatch).toMatchObject({ nvlBuffer: 288, source: 'nearest', entryRanks: 32 });
    expect(ok.combine).toEqual({ numSms: 24, nvlChunk: 1, nvlBuffer: 290, rdmaChunk: 8, rdmaBuffer: 128, source: 'given' });
    // A given config failing the same assert is refused without the nearest-entry advice.
    const given = expectError(() => resolveEpConfigs(40, 5, 24, { combine: { nvlBuffer: 291 } }), 'E_CONFIG', 'NVLink receive ring (291) % 5 nodes = 1');
    expect(given.suggest).toBeUndefined();
  });

  it("every DeepEP entry passes on its shape; on 1-24 nodes a nearest entry passes or is refused by the combine divisibility assert with a suggestion that passes", () => {
    const refused: number[] = [];
    for (let N = 1; N <= 24; N++) {
      const d = defaultEpConfigs(N * 8, 24, N);
      expect(() => validateEpConfig(d.dispatch, N, 'dispatch'), `${N}x8 dispatch`).not.toThrow();
      if (d.combine.source === 'deepep') expect(() => validateEpConfig(d.combine, N, 'combine'), `${N}x8 combine`).not.toThrow();
      let data: Record<string, unknown> | null = null;
      try {
        resolveEpConfigs(N * 8, N, 24);
      } catch (e) {
        data = (e as { data: Record<string, unknown> }).data;
      }
      if (data === null) continue;
      refused.push(N);
      expect(data.assert).toBe('num_max_nvl_chunked_recv_tokens % num_rdma_ranks == 0');
      expect(() => resolveEpConfigs(N * 8, N, 24, { combine: data!.suggest as Partial<EpConfig> }), `${N}x8 suggestion`).not.toThrow();
    }
    // 288 % 5, 7, 10, 11; 480 % 13, 14; 560 % 17; 720 % 19, 21, 22, 23.
    expect(refused).toEqual([5, 7, 10, 11, 13, 14, 17, 19, 21, 22, 23]);
    for (const G of [1, 2, 4, 8]) expect(() => resolveEpConfigs(G, 1, 24)).not.toThrow();
  });

  it('EP256 (32 nodes) is refused naming the combine assert', () => {
    const data = expectError(() => resolveEpConfigs(256, 32, 24), 'E_CONFIG', 'combineConfig', 'num_rdma_ranks <= kNumCombineForwarderWarps', '32 nodes > 24');
    expect(data.assert).toBe('num_rdma_ranks <= kNumCombineForwarderWarps');
    // Dispatch alone has no such limit.
    expect(() => validateEpConfig(defaultEpConfigs(256, 24, 32).dispatch, 32, 'dispatch')).not.toThrow();
  });

  it('a given config wins, field by field, and is marked given', () => {
    const r = resolveEpConfigs(8, 1, 24, { dispatch: { nvlChunk: 10 } });
    expect(tuple(r.dispatch)).toEqual([10, 256, 6, 128]);
    expect(r.dispatch.source).toBe('given');
    expect(r.combine.source).toBe('deepep');
  });

  it('createExpertParallel uses them when configs are not given, and merges partial ones', async () => {
    const cluster = await createCluster({ nodes: 1, gpusPerNode: 8, hardware: H800, workers: 1, transport: 'in-process' });
    try {
      const ep = await createExpertParallel(cluster, { numExperts: 16, hidden: 128 });
      expect(ep.dispatchConfig).toEqual({ numSms: 20, nvlChunk: 6, nvlBuffer: 256, rdmaChunk: 6, rdmaBuffer: 128, source: 'deepep' });
      expect(ep.combineConfig).toEqual({ numSms: 20, nvlChunk: 4, nvlBuffer: 256, rdmaChunk: 6, rdmaBuffer: 128, source: 'deepep' });
      expect(ep.topk).toBe(8);
      expect(ep.dtype).toBe('bf16');
      const ep2 = await createExpertParallel(cluster, { numExperts: 16, hidden: 128, numSms: 24, dispatchConfig: { nvlChunk: 10 } });
      expect(ep2.dispatchConfig).toEqual({ numSms: 24, nvlChunk: 10, nvlBuffer: 256, rdmaChunk: 6, rdmaBuffer: 128, source: 'given' });
      expect(ep2.combineConfig.numSms).toBe(24);
    } finally {
      await cluster.close();
    }
  });
});

describe("DeepEP's asserts are refused with E_CONFIG naming them", () => {
  it('numSms even, positive integer fields', () => {
    expectError(() => validateEpConfig(cfg(3, 4, 8, 4, 8), 1, 'dispatch'), 'E_CONFIG', 'dispatchConfig.numSms', 'even');
    for (const f of ['numSms', 'nvlChunk', 'nvlBuffer', 'rdmaChunk', 'rdmaBuffer'] as const)
      for (const bad of [0, -2, 1.5, Number.NaN, '4' as unknown as number]) {
        const c = { ...cfg(4, 4, 8, 4, 8), [f]: bad };
        const data = expectError(() => validateEpConfig(c, 2, 'combine'), 'E_CONFIG', `combineConfig.${f}`, 'positive integer');
        expect(data.field).toBe(`combineConfig.${f}`);
      }
  });

  it('NVLink send chunk < NVLink receive ring (intranode and internode)', () => {
    for (const [nvlChunk, nvlBuffer] of [[8, 8], [9, 8]] as const)
      expectError(() => validateEpConfig(cfg(4, nvlChunk, nvlBuffer, 4, 8), 1, 'dispatch'), 'E_CONFIG', 'num_max_nvl_chunked_send_tokens < num_max_nvl_chunked_recv_tokens');
    expectError(() => validateEpConfig(cfg(4, 16, 16, 4, 8), 2, 'dispatch'), 'E_CONFIG', 'NVLink send chunk (16)', 'NVLink receive ring (16)');
    expect(validateEpConfig(cfg(4, 7, 8, 4, 8), 1, 'dispatch').nvlChunk).toBe(7);
  });

  it('RDMA receive ring a multiple of the RDMA send chunk (internode only)', () => {
    expectError(() => validateEpConfig(cfg(4, 2, 32, 4, 10), 2, 'dispatch'), 'E_CONFIG', 'RDMA receive ring (10)', 'multiple of the RDMA send chunk (4)');
    expect(() => validateEpConfig(cfg(4, 2, 32, 4, 10), 1, 'dispatch')).not.toThrow();
  });

  it('RDMA send chunk at most half the RDMA ring (lazy head returns)', () => {
    expectError(() => validateEpConfig(cfg(4, 2, 32, 8, 8), 2, 'dispatch'), 'E_CONFIG', 'dispatchConfig', 'num_max_rdma_chunked_send_tokens <= num_max_rdma_chunked_recv_tokens / 2');
    expect(() => validateEpConfig(cfg(4, 2, 32, 4, 8), 2, 'dispatch')).not.toThrow();
  });

  it('internode dispatch shares its NVLink ring: none of the per-node asserts apply', () => {
    // 288 slots on 5 nodes, chunk 32: combine would refuse (288 % 5), dispatch runs.
    expect(() => validateEpConfig(cfg(24, 32, 288, 8, 128), 5, 'dispatch')).not.toThrow();
    expect(() => validateEpConfig(cfg(4, 7, 21, 1, 8), 2, 'dispatch')).not.toThrow();
  });

  // Reference §3: warps_per_forwarder = max(24 / num_nodes, 1): 2 nodes -> 12, 3 -> 8, 5 -> 4, 16 -> 1.
  it('combine: nvl_recv_slots % num_nodes == 0', () => {
    const data = expectError(() => validateEpConfig(cfg(4, 1, 288, 8, 128), 5, 'combine'), 'E_CONFIG', 'num_max_nvl_chunked_recv_tokens % num_rdma_ranks == 0', 'NVLink receive ring (288) % 5 nodes = 3');
    expect(data.field).toBe('combineConfig.nvlBuffer');
  });

  it('combine: nvl_recv_slots / num_nodes > max(rdma_send_chunk, nvl_send_chunk)', () => {
    expectError(() => validateEpConfig(cfg(4, 1, 48, 24, 48), 2, 'combine'), 'E_CONFIG', '/ num_rdma_ranks > max(num_max_rdma_chunked_send_tokens, num_max_nvl_chunked_send_tokens)', '(48 / 2 = 24)');
    expect(() => validateEpConfig(cfg(4, 1, 50, 24, 48), 2, 'combine')).not.toThrow();
  });

  it('combine: nvl_recv_slots / num_nodes - warps_per_forwarder >= nvl_send_chunk', () => {
    // 2 nodes: share 20 - 12 warps = 8 < chunk 9.
    expectError(() => validateEpConfig(cfg(4, 9, 40, 12, 24), 2, 'combine'), 'E_CONFIG', '- warps_per_forwarder >= num_max_nvl_chunked_send_tokens', '(20) - 12 forwarder warps < NVLink send chunk (9)');
    expect(() => validateEpConfig(cfg(4, 8, 40, 12, 24), 2, 'combine')).not.toThrow();
    // 5 nodes: 4 warps; share 10 - 4 = 6 < chunk 7.
    expectError(() => validateEpConfig(cfg(4, 7, 50, 4, 8), 5, 'combine'), 'E_CONFIG', '(10) - 4 forwarder warps < NVLink send chunk (7)');
  });

  it('combine: rdma_send_chunk >= warps_per_forwarder', () => {
    expectError(() => validateEpConfig(cfg(4, 1, 288, 6, 12), 3, 'combine'), 'E_CONFIG', 'num_max_rdma_chunked_send_tokens >= warps_per_forwarder', 'RDMA send chunk (6) < 8 forwarder warps');
    expect(() => validateEpConfig(cfg(4, 1, 285, 4, 128), 5, 'combine')).not.toThrow();
  });

  it('combine: num_nodes <= 24 (kNumCombineForwarderWarps)', () => {
    expectError(() => validateEpConfig(cfg(4, 1, 1250, 8, 128), 25, 'combine'), 'E_CONFIG', 'num_rdma_ranks <= kNumCombineForwarderWarps', '25 nodes > 24');
    expect(() => validateEpConfig(cfg(4, 1, 720, 8, 128), 24, 'combine')).not.toThrow();
  });

  it('createExpertParallel rejects bad dispatch and combine configs, naming which', async () => {
    const cluster = await createCluster({ nodes: 2, gpusPerNode: 2, hardware: H800, workers: 1, transport: 'in-process' });
    try {
      const base = { numExperts: 8, hidden: 128, topk: 2, ...smallConfig(2, 4, 2, 4) };
      await expectReject(createExpertParallel(cluster, { ...base, dispatchConfig: { ...base.dispatchConfig, rdmaBuffer: 6 } }), 'E_CONFIG', 'dispatchConfig', 'multiple of the RDMA send chunk');
      await expectReject(createExpertParallel(cluster, { ...base, combineConfig: { ...base.combineConfig, nvlChunk: 99 } }), 'E_CONFIG', 'combineConfig', 'NVLink send chunk');
      await expectReject(createExpertParallel(cluster, { ...base, numSms: 5 }), 'E_CONFIG', 'numSms', 'even');
      await expectReject(createExpertParallel(cluster, { ...base, combineConfig: { ...base.combineConfig, numSms: 6 } }), 'E_CONFIG', 'combineConfig.numSms (6) must equal dispatchConfig.numSms (4)');
    } finally {
      await cluster.close();
    }
  });
});

describe('bad inputs give typed errors', () => {
  let cluster: Cluster;
  let ep: ExpertParallel;
  const k: EpCase = {
    nodes: 2, gpus: 2, numExperts: 8, hidden: 128, topk: 2, dtype: 'bf16', ...smallConfig(2, 4, 2, 4), expertAlignment: 1,
    tokens: [3, 2, 0, 4], routing: 'random', minusOne: 0, seed: 1,
  };
  beforeAll(async () => {
    cluster = await createCluster({ nodes: 2, gpusPerNode: 2, hardware: H800, workers: 1, transport: 'in-process' });
    ep = await createExpertParallel(cluster, { numExperts: 8, hidden: 128, topk: 2, numSms: k.numSms, dispatchConfig: k.dispatchConfig, combineConfig: k.combineConfig });
  });
  afterAll(async () => {
    await cluster.close();
  });

  it('createExpertParallel: layer options', async () => {
    const o = { numExperts: 8, hidden: 128, topk: 2, ...smallConfig(2, 4, 2, 4) };
    await expectReject(createExpertParallel(cluster, { ...o, numExperts: 6 }), 'E_CONFIG', 'numExperts 6', 'not divisible by the 4 ranks');
    await expectReject(createExpertParallel(cluster, { ...o, numExperts: 0 }), 'E_CONFIG', "'numExperts'");
    await expectReject(createExpertParallel(cluster, { ...o, hidden: 0 }), 'E_CONFIG', "'hidden'");
    await expectReject(createExpertParallel(cluster, { ...o, topk: 9 }), 'E_CONFIG', 'topk 9 exceeds numExperts 8');
    await expectReject(createExpertParallel(cluster, { ...o, topk: 0 }), 'E_CONFIG', "'topk'");
    await expectReject(createExpertParallel(cluster, { ...o, dtype: 'fp16' as 'bf16' }), 'E_CONFIG', 'dtype');
    await expectReject(createExpertParallel(cluster, { ...o, dtype: 'fp8', hidden: 192 }), 'E_CONFIG', 'FP8', 'divisible by 128');
    await expectReject(createExpertParallel(cluster, { ...o, expertAlignment: 0 }), 'E_CONFIG', "'expertAlignment'");
  });

  it('dispatch: per-rank arrays of the wrong length or type', async () => {
    const inp = makeInputs(k);
    const ok = { x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights };
    await expectReject(ep.dispatch({ ...ok, topkIdx: inp.topkIdx.slice(1) }), 'E_ARGUMENT', "'topkIdx'", 'one entry per rank (4)', 'length 3');
    await expectReject(ep.dispatch({ ...ok, x: inp.x.slice(0, 2) }), 'E_ARGUMENT', "'x'", 'one entry per rank');
    await expectReject(ep.dispatch({ ...ok, topkWeights: inp.topkWeights.slice(0, 1) }), 'E_ARGUMENT', "'topkWeights'");
    await expectReject(ep.dispatch({ ...ok, topkIdx: [inp.topkIdx[0]!, new Int32Array(3), inp.topkIdx[2]!, inp.topkIdx[3]!] }), 'E_ARGUMENT', 'topkIdx[1]', '[tokens][2]', 'length 3');
    await expectReject(ep.dispatch({ ...ok, topkIdx: [Array.from(inp.topkIdx[0]!) as unknown as Int32Array, ...inp.topkIdx.slice(1)] }), 'E_ARGUMENT', 'topkIdx[0]', 'Int32Array');
    const w = inp.topkWeights.slice();
    w[3] = new Float32Array(7);
    await expectReject(ep.dispatch({ ...ok, topkWeights: w }), 'E_ARGUMENT', 'topkWeights[3] has length 7, expected 8');
    const x = inp.x.slice();
    x[1] = new Uint16Array(5);
    await expectReject(ep.dispatch({ ...ok, x }), 'E_ARGUMENT', 'x[1]', 'BF16', '2 x 128 = 256');
    x[1] = new Float32Array(256) as unknown as Uint16Array;
    await expectReject(ep.dispatch({ ...ok, x }), 'E_ARGUMENT', 'x[1]');
    // The cluster is still usable after rejected inputs.
    const d = await ep.dispatch(ok);
    expect(d.handle.numTokens).toEqual(k.tokens);
  });

  it('dispatch: FP8 payloads of the wrong shape', async () => {
    const f8 = { ...k, dtype: 'fp8' as const };
    const ep8 = await createExpertParallel(cluster, { numExperts: 8, hidden: 128, topk: 2, dtype: 'fp8', numSms: k.numSms, dispatchConfig: k.dispatchConfig, combineConfig: k.combineConfig });
    const inp = makeInputs(f8);
    const ok = { x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights };
    const x = inp.x.slice();
    x[0] = { q: new Uint8Array(3 * 128), scales: new Float32Array(2) };
    await expectReject(ep8.dispatch({ ...ok, x }), 'E_ARGUMENT', 'x[0]', 'scales: Float32Array(3)');
    x[0] = new Uint16Array(3 * 128);
    await expectReject(ep8.dispatch({ ...ok, x }), 'E_ARGUMENT', 'x[0]', 'for FP8');
    await expect(ep8.dispatch(ok)).resolves.toBeDefined();
  });

  it('dispatch: expert ids out of range are routing errors', async () => {
    const inp = makeInputs(k);
    for (const bad of [8, -2, 1000]) {
      const idx = inp.topkIdx.map((t) => t.slice());
      idx[3]![5] = bad;
      const data = await expectReject(ep.dispatch({ x: inp.x, topkIdx: idx, topkWeights: inp.topkWeights }), 'E_ROUTING', `topkIdx[3][2][1] = ${bad}`, 'outside [-1, 8)');
      expect(data.value).toBe(bad);
    }
    await expectReject(Promise.resolve().then(() => ep.getDispatchLayout(inp.topkIdx.slice(2))), 'E_ARGUMENT', "'topkIdx'");
  });

  it('dispatch: a handle made for other token counts', async () => {
    const inp = makeInputs(k);
    const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
    const k2 = { ...k, tokens: [3, 2, 1, 4] };
    const i2 = makeInputs(k2);
    await expectReject(ep.dispatch({ x: i2.x, topkIdx: i2.topkIdx, topkWeights: i2.topkWeights, handle: d.handle }), 'E_ARGUMENT', 'handle', 'other token counts');
  });

  it('combine: missing handle, rows of the wrong size, bias of the wrong size', async () => {
    const inp = makeInputs(k);
    const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
    const y = d.recv.map((r) => new Float32Array((r.recvSrc.length / 2) * 128));
    await expectReject(ep.combine({ x: y } as unknown as Parameters<ExpertParallel['combine']>[0]), 'E_ARGUMENT', 'handle');
    await expectReject(ep.combine({ x: y.slice(1), handle: d.handle }), 'E_ARGUMENT', "'x'", 'one entry per rank');
    const yb: Float32Array[] = y.slice();
    yb[0] = new Float32Array(y[0]!.length + 128);
    await expectReject(ep.combine({ x: yb, handle: d.handle }), 'E_ARGUMENT', 'x[0]', `${d.handle.numRecv[0]} x 128`);
    yb[0] = new Float64Array(y[0]!.length) as unknown as Float32Array;
    await expectReject(ep.combine({ x: yb, handle: d.handle }), 'E_ARGUMENT', 'x[0]');
    const bias = k.tokens.map((T) => new Float32Array(T * 128));
    bias[3] = new Float32Array(4);
    await expectReject(ep.combine({ x: y, handle: d.handle, bias }), 'E_ARGUMENT', 'bias[3]', '4 x 128');
    // Still usable.
    const c = await ep.combine({ x: y, handle: d.handle });
    expect(c.x.map((r) => r.length)).toEqual(k.tokens.map((T) => T * 128));
  });

  it('runExperts: wrong expert list, missing expert, wrong output size; sizes-only has no runExperts', async () => {
    const inp = makeInputs(k);
    const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
    const id = (x: Float32Array) => x;
    await expectReject(ep.runExperts(d, [id]), 'E_ARGUMENT', "'experts' must list 8 experts, got 1");
    const holes = new Array(8).fill(id);
    const used = inp.topkIdx[0]![0]!;
    delete holes[used];
    await expectReject(ep.runExperts(d, holes), 'E_ARGUMENT', `no expert given for expert ${used}`);
    await expectReject(ep.runExperts(d, new Array(8).fill((x: Float32Array) => x.subarray(1))), 'E_ARGUMENT', 'returned');
    const sz = await createExpertParallel(cluster, { numExperts: 8, hidden: 128, topk: 2, sizesOnly: true, numSms: k.numSms, dispatchConfig: k.dispatchConfig, combineConfig: k.combineConfig });
    const ds = await sz.dispatch({ topkIdx: inp.topkIdx });
    await expectReject(sz.runExperts(ds, new Array(8).fill(id)), 'E_ARGUMENT', 'sizes-only');
  });
});
