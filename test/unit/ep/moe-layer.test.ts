/**
 * A whole MoE layer through the expert-parallel path (gate, dispatch, SwiGLU experts, combine, shared
 * expert) against a dense single-threaded reference, intranode and internode, on small shapes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../../../src/cluster/cluster.js';
import { H800 } from '../../../src/hardware/profile.js';
import { createExpertParallel } from '../../../src/ep/expert-parallel.js';
import type { DispatchX } from '../../../src/ep/ep-records-io.js';
import { DEEPSEEK_V3 } from '../../../src/routing/config.js';
import { gate } from '../../../src/routing/gate.js';
import { fromBF16Array, toBF16Array } from '../../../src/kernels/bf16.js';
import { expertFfn, type ExpertWeights } from '../../../src/kernels/ffn.js';
import { dequantizePerTile, quantizePerTile } from '../../../src/kernels/quantize.js';
import { rng, smallConfig } from './ep-case.js';

const open: Cluster[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

interface Shape {
  nodes: number;
  gpus: number;
  hidden: number;
  inter: number;
  numExperts: number;
  topk: number;
  tokens: number;
  dtype: 'bf16' | 'fp8';
}

async function check(s: Shape): Promise<void> {
  const R = s.nodes * s.gpus;
  const { hidden: H, inter: I, numExperts: E, topk } = s;
  const rand = rng(R * 1000 + H + E);
  const mk = (n: number, scale: number) => Float32Array.from({ length: n }, () => Math.fround((rand() - 0.5) * scale));
  const w = (): ExpertWeights => ({ hidden: H, intermediate: I, gate: mk(I * H, 0.2), up: mk(I * H, 0.2), down: mk(H * I, 0.2) });
  const experts = Array.from({ length: E }, w);
  const shared = w();
  const gateW = mk(E * H, 1);
  const gcfg = { ...DEEPSEEK_V3, numExperts: E, topk, numGroups: 4, topkGroups: 2 };
  const x: DispatchX[] = [];
  const xf: Float32Array[] = [];
  const topkIdx: Int32Array[] = [];
  const topkWeights: Float32Array[] = [];
  for (let r = 0; r < R; r++) {
    const T = s.tokens + ((r * 5) % 7) - (r === 1 ? s.tokens : 0); // rank 1 has no tokens
    const raw = mk(T * H, 2);
    let dec: Float32Array;
    if (s.dtype === 'bf16') {
      const b = toBF16Array(raw);
      x.push(b);
      dec = fromBF16Array(b);
    } else {
      const q = T === 0 ? { q: new Uint8Array(0), scales: new Float32Array(0) } : quantizePerTile(raw, T, H);
      x.push(q);
      dec = T === 0 ? new Float32Array(0) : dequantizePerTile(q.q, q.scales, T, H);
    }
    xf.push(dec);
    const g = gate(dec, gateW, null, T, H, gcfg);
    topkIdx.push(Int32Array.from(g.topkIdx));
    topkWeights.push(Float32Array.from(g.topkWeights));
  }
  const cluster = await createCluster({ nodes: s.nodes, gpusPerNode: s.gpus, hardware: H800, workers: 1, transport: 'in-process' });
  open.push(cluster);
  const ep = await createExpertParallel(cluster, { numExperts: E, hidden: H, topk, dtype: s.dtype, ...smallConfig(s.nodes, 4, 3, 2, 3) });
  const res = await ep.moeLayer({ x, topkIdx, topkWeights, experts, sharedExpert: shared });
  expect(res.timing.dispatchUs).toBeGreaterThan(0);
  expect(res.timing.combineUs).toBeGreaterThan(0);
  expect(res.timing.expertsUs).toBeGreaterThan(0);
  expect(res.timing.notifyUs).toBeGreaterThan(0);
  expect(res.timing.totalUs).toBeCloseTo(res.timing.notifyUs + res.timing.dispatchUs + res.timing.expertsUs + res.timing.combineUs, 9);
  // Dense reference, one token at a time, float64 sums: shared(x) + sum_j w_j * expert_j(x).
  let worst = 0;
  let compared = 0;
  for (let r = 0; r < R; r++) {
    const T = topkIdx[r]!.length / topk;
    expect(res.y[r]!.length).toBe(T * H);
    const got = fromBF16Array(res.y[r]!);
    for (let t = 0; t < T; t++) {
      const row = xf[r]!.subarray(t * H, (t + 1) * H);
      const want = new Float64Array(H);
      const mag = new Float64Array(H);
      const sh = expertFfn(row, 1, shared);
      for (let h = 0; h < H; h++) {
        want[h] = want[h]! + sh[h]!;
        mag[h] = mag[h]! + Math.abs(sh[h]!);
      }
      for (let j = 0; j < topk; j++) {
        const o = expertFfn(row, 1, experts[topkIdx[r]![t * topk + j]!]!);
        const wj = topkWeights[r]![t * topk + j]!;
        for (let h = 0; h < H; h++) {
          want[h] = want[h]! + wj * o[h]!;
          mag[h] = mag[h]! + Math.abs(wj * o[h]!);
        }
      }
      for (let h = 0; h < H; h++) {
        // BF16 roundings: each rank's weighted row, each node's partial sum, the output.
        const err = Math.abs(got[t * H + h]! - want[h]!);
        const tol = 3.1 * 2 ** -8 * mag[h]! + 1e-6;
        if (err > tol) throw new Error(`rank ${r} token ${t} [${h}]: moeLayer ${got[t * H + h]}, dense ${want[h]} (tolerance ${tol})`);
        worst = Math.max(worst, err / (mag[h]! + 1e-6));
        compared++;
      }
    }
  }
  expect(compared).toBeGreaterThan(0);
  expect(worst).toBeLessThan(3.1 * 2 ** -8);
}

describe('moeLayer equals a dense single-threaded reference', () => {
  it('intranode 1x4, hidden 256, 16 experts top-4, BF16', () => check({ nodes: 1, gpus: 4, hidden: 256, inter: 64, numExperts: 16, topk: 4, tokens: 20, dtype: 'bf16' }));
  it('intranode 1x8, hidden 128, 32 experts top-8, FP8 dispatch', () => check({ nodes: 1, gpus: 8, hidden: 128, inter: 32, numExperts: 32, topk: 8, tokens: 12, dtype: 'fp8' }));
  it('internode 2x2, hidden 512, 16 experts top-4, BF16', () => check({ nodes: 2, gpus: 2, hidden: 512, inter: 64, numExperts: 16, topk: 4, tokens: 16, dtype: 'bf16' }));
  it('internode 2x4, hidden 128, 32 experts top-6, FP8 dispatch', () => check({ nodes: 2, gpus: 4, hidden: 128, inter: 32, numExperts: 32, topk: 6, tokens: 14, dtype: 'fp8' }));
  it('internode 3x2, hidden 256, 24 experts top-4, BF16', () => check({ nodes: 3, gpus: 2, hidden: 256, inter: 32, numExperts: 24, topk: 4, tokens: 20, dtype: 'bf16' }));
});
