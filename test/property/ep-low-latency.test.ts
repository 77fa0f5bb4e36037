/**
 * DeepEP's low-latency dispatch and combine over random shapes (1-3 nodes x 1-4 GPUs), random
 * routings (distinct experts per token, -1 entries, empty ranks), FP8 (UE8M0 or not) or BF16
 * payloads and one-launch or hook mode, against an independent reference written here from the
 * routing alone: the packed layout (for every rank and local expert, the rows of source rank 0,
 * then 1, ..., each source's tokens in token order), the counts, the layout ranges and the source
 * token of every row; the payload of each row (the row's own cast); and the combine, which must
 * equal the top-k weighted sum of the expert outputs within BF16 rounding. fc.assert prints the
 * seed and counterexample of any failure.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createCluster, createExpertParallel, fromBF16Array, H800, quantizePerTile, toBF16Array } from '../../src/index.js';

interface Case {
  nodes: number;
  gpus: number;
  epr: number;
  topk: number;
  hidden: number;
  maxTokens: number;
  tokens: number[];
  dtype: 'fp8' | 'bf16';
  ue8m0: boolean;
  hook: boolean;
  seed: number;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({ nodes: fc.integer({ min: 1, max: 3 }), gpus: fc.integer({ min: 1, max: 4 }), epr: fc.integer({ min: 1, max: 3 }), maxTokens: fc.integer({ min: 1, max: 6 }) })
  .chain(({ nodes, gpus, epr, maxTokens }) =>
    fc.record({
      nodes: fc.constant(nodes), gpus: fc.constant(gpus), epr: fc.constant(epr), maxTokens: fc.constant(maxTokens),
      topk: fc.integer({ min: 1, max: Math.min(4, nodes * gpus * epr) }),
      hidden: fc.constantFrom(128, 256),
      tokens: fc.array(fc.integer({ min: 0, max: maxTokens }), { minLength: nodes * gpus, maxLength: nodes * gpus }),
      dtype: fc.constantFrom('fp8' as const, 'bf16' as const),
      ue8m0: fc.boolean(),
      hook: fc.boolean(),
      seed: fc.integer({ min: 0, max: 1 << 30 }),
    }),
  )
  .map((c) => ({ ...c, ue8m0: c.dtype === 'fp8' && c.ue8m0 }));

/** A small deterministic generator (independent of the library's). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function inputs(k: Case) {
  const R = k.nodes * k.gpus;
  const E = R * k.epr;
  const rnd = lcg(k.seed);
  const topkIdx = k.tokens.map((T) => {
    const t = new Int32Array(T * k.topk);
    for (let i = 0; i < T; i++) {
      const chosen = new Set<number>();
      for (let j = 0; j < k.topk; j++) {
        let e = Math.floor(rnd() * E);
        while (chosen.has(e)) e = (e + 1) % E;
        chosen.add(e);
        t[i * k.topk + j] = rnd() < 0.15 ? -1 : e;
      }
    }
    return t;
  });
  const x = k.tokens.map((T) => toBF16Array(Float32Array.from({ length: T * k.hidden }, () => (rnd() - 0.5) * 8 * (1 + Math.floor(rnd() * 3)))));
  const w = k.tokens.map((T) => Float32Array.from({ length: T * k.topk }, () => rnd()));
  return { R, E, topkIdx, x, w };
}

/** The reference packing: per rank, per local expert, (source rank, token) rows in source then token order. */
function referenceRows(k: Case, topkIdx: Int32Array[], R: number): Array<Array<Array<[number, number]>>> {
  const out = Array.from({ length: R }, () => Array.from({ length: k.epr }, () => [] as Array<[number, number]>));
  for (let s = 0; s < R; s++)
    for (let t = 0; t < k.tokens[s]!; t++)
      for (let j = 0; j < k.topk; j++) {
        const e = topkIdx[s]![t * k.topk + j]!;
        if (e >= 0) out[Math.floor(e / k.epr)]![e % k.epr]!.push([s, t]);
      }
  return out;
}

function fail(msg: string): never {
  throw new Error(msg);
}

async function check(k: Case): Promise<void> {
  const { R, E, topkIdx, x, w } = inputs(k);
  const H = k.hidden;
  const T = k.maxTokens;
  const cluster = await createCluster({ nodes: k.nodes, gpusPerNode: k.gpus, hardware: H800, workers: 1, transport: 'in-process' });
  try {
    const ep = await createExpertParallel(cluster, { numExperts: E, hidden: H, topk: k.topk, lowLatency: { maxDispatchTokensPerRank: T } });
    const d = await ep.lowLatencyDispatch({ x, topkIdx, useFp8: k.dtype === 'fp8', ue8m0: k.ue8m0, returnRecvHook: k.hook });
    await d.hook();
    const ref = referenceRows(k, topkIdx, R);
    const slots = R * T;
    for (let r = 0; r < R; r++) {
      const rv = d.recv[r]!;
      for (let le = 0; le < k.epr; le++) {
        const rows = ref[r]![le]!;
        if (rv.count[le] !== rows.length || d.recvCount[r]![le] !== rows.length) fail(`rank ${r} expert ${le}: count ${rv.count[le]}, reference ${rows.length}`);
        for (let s = 0; s < R; s++) {
          const n = rows.filter(([src]) => src === s).length;
          const begin = rows.findIndex(([src]) => src === s);
          const i = (le * R + s) * 2;
          if (rv.layoutRange[i] !== n || (n > 0 && rv.layoutRange[i + 1] !== begin)) fail(`rank ${r} expert ${le} source ${s}: range (${rv.layoutRange[i]}, ${rv.layoutRange[i + 1]}), reference (${n}, ${begin})`);
        }
        for (let j = 0; j < slots; j++) {
          const row = le * slots + j;
          if (j >= rows.length) {
            const zero = rv.x instanceof Uint16Array ? rv.x.subarray(row * H, (row + 1) * H).every((v) => v === 0) : rv.x.q.subarray(row * H, (row + 1) * H).every((v) => v === 0);
            if (!zero) fail(`rank ${r} expert ${le}: row ${j} past the count is not zero`);
            continue;
          }
          const [s, t] = rows[j]!;
          if (rv.srcInfo[row] !== t) fail(`rank ${r} expert ${le} row ${j}: source token ${rv.srcInfo[row]}, reference ${t}`);
          const src = x[s]!.subarray(t * H, (t + 1) * H);
          if (rv.x instanceof Uint16Array) {
            if (!rv.x.subarray(row * H, (row + 1) * H).every((v, h) => v === src[h])) fail(`rank ${r} expert ${le} row ${j}: BF16 payload differs from token ${t} of rank ${s}`);
          } else {
            const q = quantizePerTile(fromBF16Array(src), 1, H, { ue8m0: k.ue8m0 });
            if (!rv.x.q.subarray(row * H, (row + 1) * H).every((v, h) => v === q.q[h])) fail(`rank ${r} expert ${le} row ${j}: FP8 codes differ from the cast of token ${t} of rank ${s}`);
            const sc = rv.x.scales.subarray((row * H) / 128, ((row + 1) * H) / 128);
            if (!sc.every((v, g) => v === q.scales[g])) fail(`rank ${r} expert ${le} row ${j}: scales differ`);
          }
        }
      }
    }
    // Experts: a fixed per-expert affine map, so every contribution differs.
    const experts = Array.from({ length: E }, (_, e) => (rows: Float32Array) => rows.map((v, i) => v * (1 + e / 8) + ((i % 3) - 1) * 0.25));
    const y = await ep.runExperts(d, experts);
    const yb = y.y.map((v) => toBF16Array(v));
    const c = await ep.lowLatencyCombine({ x: yb, topkIdx, topkWeights: w, handle: d.handle, returnRecvHook: k.hook });
    await c.hook();
    for (let s = 0; s < R; s++) {
      const out = fromBF16Array(c.x[s]!);
      for (let t = 0; t < k.tokens[s]!; t++) {
        for (let h = 0; h < H; h++) {
          let sum = 0;
          let mag = 0;
          for (let j = 0; j < k.topk; j++) {
            const e = topkIdx[s]![t * k.topk + j]!;
            if (e < 0) continue;
            const r = Math.floor(e / k.epr);
            const le = e % k.epr;
            const rows = ref[r]![le]!;
            const pos = rows.findIndex(([a, b]) => a === s && b === t);
            const v = fromBF16Array(yb[r]!.subarray((le * slots + pos) * H + h, (le * slots + pos) * H + h + 1))[0]!;
            sum += w[s]![t * k.topk + j]! * v;
            mag += Math.abs(w[s]![t * k.topk + j]! * v);
          }
          const got = out[t * H + h]!;
          // BF16 rounding of the result (half an ulp: 2^-8 relative) plus float32 accumulation.
          const tol = Math.abs(sum) * 2 ** -8 + mag * k.topk * 2 ** -23 + 1e-30;
          if (Math.abs(got - sum) > tol) fail(`rank ${s} token ${t} [${h}]: combined ${got}, weighted sum ${sum} (tolerance ${tol})`);
        }
      }
    }
  } finally {
    await cluster.close();
  }
}

/** Runs per test run; raise it (EP_PROP_RUNS=200) for a longer search. */
const RUNS = Number(process.env['EP_PROP_RUNS'] ?? 20);

describe('low-latency dispatch / combine (property)', () => {
  it('packs every rank\'s rows as the routing says and combines to the weighted sum', async () => {
    await fc.assert(fc.asyncProperty(caseArb, check), { numRuns: RUNS });
  }, 240_000);
});
