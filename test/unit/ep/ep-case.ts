/**
 * Shared by the expert-parallel tests: seeded inputs, the reference of what a dispatch must deliver
 * (rows ordered by source rank, channel, token), and checks of dispatch and combine results. The
 * checks throw plain Errors with a message saying what differs, so fast-check can report them.
 */
import { createCluster, type Cluster } from '../../../src/cluster/cluster.js';
import { H800 } from '../../../src/hardware/profile.js';
import { createExpertParallel, type CombineResult, type DispatchResult, type ExpertParallel, type ExpertParallelOptions } from '../../../src/ep/expert-parallel.js';
import type { DispatchX } from '../../../src/ep/ep-records-io.js';
import type { EpConfig } from '../../../src/ep/normal/ep-config.js';
import { channelRange } from '../../../src/ep/normal/plan.js';
import { fromBF16Array, toBF16Array } from '../../../src/kernels/bf16.js';
import { dequantizePerTile, quantizePerTile } from '../../../src/kernels/quantize.js';

/** A small deterministic PRNG (mulberry32), so cases are reproducible from their seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** One dispatch/combine case: a cluster shape, a layer, and the routing and data per rank. */
export interface EpCase {
  nodes: number;
  gpus: number;
  numExperts: number;
  hidden: number;
  topk: number;
  dtype: 'bf16' | 'fp8';
  numSms: number;
  dispatchConfig: Partial<EpConfig>;
  combineConfig: Partial<EpConfig>;
  expertAlignment: number;
  /** Tokens per rank. */
  tokens: number[];
  /** Routing: 'random' (distinct experts per token), 'one' (every token's first choice is expert 0, the rest -1). */
  routing: 'random' | 'one';
  /** Probability that a top-k entry is -1. */
  minusOne: number;
  seed: number;
}

/** The per-rank inputs of a case. */
export interface EpInputs {
  topkIdx: Int32Array[];
  topkWeights: Float32Array[];
  /** Payload as dispatched (BF16 bits, or FP8 + scales). */
  x: DispatchX[];
  /** The float values before any rounding (for FP8: before quantization). */
  xRaw: Float32Array[];
  /** The values the payload decodes to (what experts see). */
  xf: Float32Array[];
}

export function makeInputs(k: EpCase): EpInputs {
  const R = k.nodes * k.gpus;
  const { topk, numExperts: E, hidden: H } = k;
  const rand = rng(k.seed);
  const out: EpInputs = { topkIdx: [], topkWeights: [], x: [], xRaw: [], xf: [] };
  for (let r = 0; r < R; r++) {
    const T = k.tokens[r]!;
    const idx = new Int32Array(T * topk).fill(-1);
    const w = new Float32Array(T * topk);
    for (let t = 0; t < T; t++) {
      if (k.routing === 'one') {
        idx[t * topk] = 0;
        w[t * topk] = Math.fround(0.5 + rand());
        continue;
      }
      const chosen = new Set<number>();
      for (let j = 0; j < topk; j++) {
        if (rand() < k.minusOne) continue;
        let e = Math.floor(rand() * E);
        while (chosen.has(e)) e = (e + 1) % E;
        chosen.add(e);
        idx[t * topk + j] = e;
        w[t * topk + j] = Math.fround(0.05 + rand());
      }
    }
    const raw = new Float32Array(T * H);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.fround((rand() - 0.5) * 4);
    out.topkIdx.push(idx);
    out.topkWeights.push(w);
    out.xRaw.push(raw);
    if (k.dtype === 'bf16') {
      const b = toBF16Array(raw);
      out.x.push(b);
      out.xf.push(fromBF16Array(b));
    } else {
      const q = T === 0 ? { q: new Uint8Array(0), scales: new Float32Array(0) } : quantizePerTile(raw, T, H);
      out.x.push(q);
      out.xf.push(T === 0 ? new Float32Array(0) : dequantizePerTile(q.q, q.scales, T, H));
    }
  }
  return out;
}

export function layerOptions(k: EpCase, sizesOnly = false): ExpertParallelOptions {
  return {
    numExperts: k.numExperts, hidden: k.hidden, topk: k.topk, dtype: k.dtype, numSms: k.numSms,
    dispatchConfig: k.dispatchConfig, combineConfig: k.combineConfig, expertAlignment: k.expertAlignment, sizesOnly,
  };
}

export async function makeLayer(k: EpCase, workers = 1, transport: 'in-process' | 'worker' = 'in-process', sizesOnly = false, recordTraces = true): Promise<{ cluster: Cluster; ep: ExpertParallel }> {
  const cluster = await createCluster({ nodes: k.nodes, gpusPerNode: k.gpus, hardware: H800, workers, transport, timeoutMs: 60_000, recordTraces });
  try {
    return { cluster, ep: await createExpertParallel(cluster, layerOptions(k, sizesOnly)) };
  } catch (e) {
    await cluster.close();
    throw e;
  }
}

/** Expected rows at every rank: [source rank, source token], by source rank, channel, token. */
export function expectedRows(k: EpCase, inp: EpInputs, numChannels: number): Array<Array<[number, number]>> {
  const R = k.nodes * k.gpus;
  const epr = k.numExperts / R;
  const rows: Array<Array<[number, number]>> = Array.from({ length: R }, () => []);
  for (let s = 0; s < R; s++) {
    const T = k.tokens[s]!;
    for (let c = 0; c < numChannels; c++) {
      const [t0, t1] = channelRange(T, numChannels, c);
      for (let t = t0; t < t1; t++) {
        const dests = new Set<number>();
        for (let j = 0; j < k.topk; j++) {
          const e = inp.topkIdx[s]![t * k.topk + j]!;
          if (e >= 0) dests.add(Math.floor(e / epr));
        }
        for (const d of [...dests].sort((a, b) => a - b)) rows[d]!.push([s, t]);
      }
    }
  }
  return rows;
}

function bytesOf(a: ArrayBufferView, from: number, to: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset + from, to - from);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Check a real-data dispatch: rows, order, payload bits, rewritten top-k, counts per expert. */
export function checkDispatch(k: EpCase, inp: EpInputs, d: DispatchResult): void {
  const R = k.nodes * k.gpus;
  const epr = k.numExperts / R;
  const H = k.hidden;
  const want = expectedRows(k, inp, k.numSms / 2);
  for (let r = 0; r < R; r++) {
    const got = d.recv[r]!;
    const rows = want[r]!;
    const n = got.recvSrc.length / 2;
    if (n !== rows.length) throw new Error(`rank ${r}: received ${n} rows, expected ${rows.length}`);
    if (d.handle.numRecv[r] !== rows.length) throw new Error(`rank ${r}: handle.numRecv ${d.handle.numRecv[r]}, expected ${rows.length}`);
    const perExpert = new Array<number>(epr).fill(0);
    rows.forEach(([s, t], i) => {
      if (got.recvSrc[i * 2] !== s || got.recvSrc[i * 2 + 1] !== t)
        throw new Error(`rank ${r} row ${i}: from (${got.recvSrc[i * 2]}, ${got.recvSrc[i * 2 + 1]}), expected (${s}, ${t})`);
      if (k.dtype === 'bf16') {
        const gx = got.recvX as Uint16Array;
        const sx = inp.x[s] as Uint16Array;
        if (!sameBytes(bytesOf(gx, i * H * 2, (i + 1) * H * 2), bytesOf(sx, t * H * 2, (t + 1) * H * 2)))
          throw new Error(`rank ${r} row ${i}: BF16 payload differs from x[${s}][${t}]`);
      } else {
        const gx = got.recvX as { q: Uint8Array; scales: Float32Array };
        const sx = inp.x[s] as { q: Uint8Array; scales: Float32Array };
        const G = H / 128;
        if (!sameBytes(gx.q.subarray(i * H, (i + 1) * H), sx.q.subarray(t * H, (t + 1) * H)))
          throw new Error(`rank ${r} row ${i}: FP8 payload differs from x[${s}][${t}]`);
        if (!sameBytes(bytesOf(gx.scales, i * G * 4, (i + 1) * G * 4), bytesOf(sx.scales, t * G * 4, (t + 1) * G * 4)))
          throw new Error(`rank ${r} row ${i}: FP8 scales differ from x[${s}][${t}]`);
      }
      for (let j = 0; j < k.topk; j++) {
        const e = inp.topkIdx[s]![t * k.topk + j]!;
        const local = e >= 0 && Math.floor(e / epr) === r;
        const wantIdx = local ? e - r * epr : -1;
        const wantW = local ? inp.topkWeights[s]![t * k.topk + j]! : 0;
        if (got.recvTopkIdx[i * k.topk + j] !== wantIdx || got.recvTopkWeights[i * k.topk + j] !== wantW)
          throw new Error(`rank ${r} row ${i} slot ${j}: (${got.recvTopkIdx[i * k.topk + j]}, ${got.recvTopkWeights[i * k.topk + j]}), expected (${wantIdx}, ${wantW})`);
        if (local) perExpert[e - r * epr]!++;
      }
    });
    const a = k.expertAlignment;
    const aligned = perExpert.map((v) => Math.ceil(v / a) * a);
    if (d.numRecvTokensPerExpert[r]!.join() !== aligned.join())
      throw new Error(`rank ${r}: numRecvTokensPerExpert ${d.numRecvTokensPerExpert[r]!.join()}, expected ${aligned.join()}`);
  }
}

/**
 * Expert outputs as the tests' experts produce them: every received row times the sum of its local
 * weights (the sum, over the rank's local experts, of input times that expert's weight).
 */
export function weightedRows(k: EpCase, d: DispatchResult, inp: EpInputs): Float32Array[] {
  const H = k.hidden;
  return d.recv.map((rv) => {
    const n = rv.recvSrc.length / 2;
    const y = new Float32Array(n * H);
    for (let i = 0; i < n; i++) {
      const s = rv.recvSrc[i * 2]!;
      const t = rv.recvSrc[i * 2 + 1]!;
      for (let j = 0; j < k.topk; j++) {
        const w = rv.recvTopkWeights[i * k.topk + j]!;
        if (rv.recvTopkIdx[i * k.topk + j]! < 0) continue;
        for (let h = 0; h < H; h++) y[i * H + h] = Math.fround(y[i * H + h]! + Math.fround(w * inp.xf[s]![t * H + h]!));
      }
    }
    return y;
  });
}

const BF16_EPS = 2 ** -8;

/**
 * Combine of {@link weightedRows} must give x * (sum of the token's weights) within BF16 rounding:
 * one rounding of each rank's row to BF16, one of each node's partial sum (internode), one of the
 * result; with FP8 payloads also within the quantization error of x. `bias` is added when given.
 */
export function checkCombine(k: EpCase, inp: EpInputs, c: CombineResult, bias?: Float32Array[]): void {
  const R = k.nodes * k.gpus;
  const H = k.hidden;
  for (let r = 0; r < R; r++) {
    const T = k.tokens[r]!;
    const got = fromBF16Array(c.x[r]!);
    if (got.length !== T * H) throw new Error(`rank ${r}: combine returned ${got.length / H} rows, expected ${T}`);
    for (let t = 0; t < T; t++) {
      let sw = 0;
      for (let j = 0; j < k.topk; j++) if (inp.topkIdx[r]![t * k.topk + j]! >= 0) sw += inp.topkWeights[r]![t * k.topk + j]!;
      let amax = 0;
      if (k.dtype === 'fp8') for (let h = 0; h < H; h++) amax = Math.max(amax, Math.abs(inp.xRaw[r]![t * H + h]!));
      for (let h = 0; h < H; h++) {
        const i = t * H + h;
        const b = bias ? bias[r]![i]! : 0;
        const xd = inp.xf[r]![i]!;
        const want = xd * sw + b;
        const scale = Math.abs(xd) * sw + Math.abs(b);
        let tol = 3.1 * BF16_EPS * scale;
        if (Math.abs(got[i]! - want) > tol)
          throw new Error(`rank ${r} token ${t} [${h}]: combine ${got[i]}, expected ${want} (decoded x ${xd} x weights ${sw} + bias ${b}) within ${tol}`);
        if (k.dtype === 'fp8') {
          // Against the unquantized x: E4M3 keeps 3 mantissa bits (half an ulp is 2^-4), and the
          // subnormal step of a tile is amax / 448 * 2^-9.
          const xr = inp.xRaw[r]![i]!;
          tol += sw * (2 ** -4 * Math.abs(xr) + (amax / 448) * 2 ** -10) * (1 + 3.1 * BF16_EPS);
          if (Math.abs(got[i]! - (xr * sw + b)) > tol)
            throw new Error(`rank ${r} token ${t} [${h}]: combine ${got[i]}, expected ${xr * sw + b} (unquantized) within ${tol}`);
        }
      }
    }
  }
}

/** Dispatch, check, combine, check; returns the results (for timing comparisons). */
export async function runChecked(k: EpCase, ep: ExpertParallel, inp = makeInputs(k)): Promise<{ d: DispatchResult; c: CombineResult }> {
  const d = await ep.dispatch({ x: inp.x, topkIdx: inp.topkIdx, topkWeights: inp.topkWeights });
  checkDispatch(k, inp, d);
  const c = await ep.combine({ x: weightedRows(k, d, inp), handle: d.handle });
  checkCombine(k, inp, c);
  return { d, c };
}

/** The timing figures two runs of the same inputs must agree on exactly. */
export function timingKey(d: DispatchResult, c: CombineResult): string {
  return JSON.stringify({ d: [d.timing.notifyUs, d.timing.kernelUs, d.timing.perRankUs], c: [c.timing.kernelUs, c.timing.perRankUs] });
}

/** A small valid config for a shape: rings of a few tokens so that flow control wraps often. */
export function smallConfig(nodes: number, numSms: number, nvlChunk: number, rdmaChunk: number, extra = 0): { numSms: number; dispatchConfig: Partial<EpConfig>; combineConfig: Partial<EpConfig> } {
  // DeepEP's combine: max(24 / nodes, 1) forwarder warps per source node; each node's NVLink share
  // must hold a chunk plus those warps and exceed both chunks, and the RDMA chunk be at least the warps.
  const fwd = Math.max(1, Math.floor(24 / nodes));
  const rc = Math.max(rdmaChunk, fwd);
  const share = nodes > 1 ? Math.max(nvlChunk + fwd, rc + 1, nvlChunk + 1) + extra : nvlChunk + 1 + extra;
  const cfg = { nvlChunk, nvlBuffer: share * nodes, rdmaChunk: rc, rdmaBuffer: rc * 2 + (extra % 2) * rc };
  // Dispatch shares one NVLink ring among all source nodes (no per-node asserts): one chunk plus a slot.
  const d = { nvlChunk, nvlBuffer: nvlChunk + 1 + extra, rdmaChunk, rdmaBuffer: rdmaChunk * 2 + (extra % 2) * rdmaChunk };
  return { numSms, dispatchConfig: nodes > 1 ? d : cfg, combineConfig: { ...cfg } };
}
