/**
 * @module
 * Running the routed experts on what a dispatch delivered: each rank applies its local experts to
 * the rows that chose them and sums the weighted outputs per row (the rows combine then adds up).
 * The arithmetic runs on the main thread; its virtual time comes from the compute model and is
 * charged on each rank's clock.
 */
import { fail } from '../errors.js';
import { defineOp } from '../actors/op-registry.js';
import type { Cluster, RunOptions } from '../cluster/cluster.js';
import { fromBF16Array } from '../kernels/bf16.js';
import { expertTimeUs, type ComputeFormat } from '../kernels/compute-model.js';
import { expertFfn, type ExpertWeights } from '../kernels/ffn.js';
import { dequantizePerTile } from '../kernels/quantize.js';
import type { DispatchX, ReceivedTokens } from './ep-records-io.js';

/** An expert: SwiGLU weights, or any function of `[tokens][hidden]` float32 rows. */
export type Expert = ExpertWeights | ((x: Float32Array, tokens: number, expert: number) => Float32Array);

/** Options of {@link runLocalExperts}. */
export interface RunExpertsOptions {
  /** Format the compute model charges (default 'bf16'). */
  format?: ComputeFormat;
  /** Expert intermediate size for the compute model (default: the weights', else 2048). */
  intermediate?: number;
  /** SMs the experts run on (default: the profile's SM count). */
  sms?: number;
}

/** Result of running the experts: per rank weighted rows [rows][hidden], and the virtual time. */
export interface ExpertsResult {
  y: Float32Array[];
  /** Virtual time of the expert step per rank, us (compute model). */
  perRankUs: number[];
  timeUs: number;
}

/** Decode received payload rows to float32. */
export function decodeRows(x: DispatchX, rows: number, hidden: number): Float32Array {
  if (x instanceof Uint16Array) return fromBF16Array(x);
  return rows === 0 ? new Float32Array(0) : dequantizePerTile(x.q, x.scales, rows, hidden);
}

/** Apply one rank's local experts to its received rows; returns weighted sums per row. */
export function applyLocalExperts(
  recv: ReceivedTokens, rank: number, expertsPerRank: number, hidden: number, topk: number, experts: readonly Expert[],
): { y: Float32Array; tokensPerExpert: number[] } {
  const rows = recv.recvSrc.length / 2;
  const x = decodeRows(recv.recvX, rows, hidden);
  const y = new Float32Array(rows * hidden);
  const tokensPerExpert = new Array<number>(expertsPerRank).fill(0);
  for (let le = 0; le < expertsPerRank; le++) {
    const ge = rank * expertsPerRank + le;
    const idx: number[] = [];
    const w: number[] = [];
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < topk; j++)
        if (recv.recvTopkIdx[i * topk + j] === le) {
          idx.push(i);
          w.push(recv.recvTopkWeights[i * topk + j]!);
        }
    tokensPerExpert[le] = idx.length;
    if (idx.length === 0) continue;
    const ex = experts[ge];
    if (ex === undefined) fail('E_ARGUMENT', `runExperts: no expert given for expert ${ge} (rank ${rank})`, { argument: 'experts', expert: ge });
    const xin = new Float32Array(idx.length * hidden);
    idx.forEach((row, k) => xin.set(x.subarray(row * hidden, (row + 1) * hidden), k * hidden));
    const out = typeof ex === 'function' ? ex(xin, idx.length, ge) : expertFfn(xin, idx.length, ex);
    if (out.length !== idx.length * hidden) fail('E_ARGUMENT', `runExperts: expert ${ge} returned ${out.length} values, expected ${idx.length * hidden}`, { expert: ge });
    idx.forEach((row, k) => {
      const wk = w[k]!;
      for (let h = 0; h < hidden; h++) y[row * hidden + h] = Math.fround(y[row * hidden + h]! + Math.fround(wk * out[k * hidden + h]!));
    });
  }
  return { y, tokensPerExpert };
}

defineOp<{ us: number[] }>({
  name: 'ep.compute',
  *task(ctx, a) {
    yield ctx.sleep(a.us[ctx.rank]!);
  },
});

/** Charge per-rank compute time (us) on every rank's clock. */
export async function chargeCompute(cluster: Cluster, us: number[], run: RunOptions = {}): Promise<number> {
  const r = await cluster.run('ep.compute', { us }, run);
  return r.timeUs;
}

/** Compute-model time of one rank's experts given its tokens per expert. */
export function expertsTimeUs(cluster: Cluster, tokensPerExpert: number[], hidden: number, o: RunExpertsOptions, intermediate: number): number {
  const hw = cluster.config.hardware;
  let t = 0;
  for (const n of tokensPerExpert)
    if (n > 0) t += expertTimeUs(hw, { tokens: n, hidden, intermediate, format: o.format ?? 'bf16' }, { sms: o.sms ?? hw.smCount });
  return t;
}
