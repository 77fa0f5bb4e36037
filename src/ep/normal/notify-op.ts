/**
 * @module
 * The steps around the kernels, as DeepEP runs them (reference §3b):
 * - `ep.notify` (`notify_dispatch`): launch; barrier; every rank writes its per-channel and
 *   per-expert counts into every peer; fence and barrier; each rank sums its counts and writes the
 *   totals to pinned host memory, which the CPU polls to size the outputs (host wait); the queues'
 *   counters are zeroed; barrier. The host wait runs alongside the clean and the last barrier.
 * - `ep.notify.cached` (`cached_notify_dispatch`, with a handle): launch; barrier; copy the stored
 *   prefix matrix into the buffer and zero the counters; barrier. No host wait.
 * A barrier is a signal to every rank over its link and a wait for all of them, so its cost comes
 * from the links' latencies (NVLink within a node, InfiniBand across). Zeroing and copying are local
 * HBM writes at `hbmGBps`. DeepEP's benchmark reports notify separately from the kernel time, and so
 * does expertmesh. (DeepEP's internode notify runs the exchange over RDMA and then within the node;
 * here one exchange goes to every rank over its own link.)
 */
import { defineOp } from '../../actors/op-registry.js';
import type { RankContext } from '../../sim/rank-context.js';
import { numChannels, notifyStride, ringNames, ringRegionSizes, R_NOTIFY, R_NOTIFY_OUT, R_NOTIFY_SIG, R_TOPK, type EpArgs } from '../ep-args.js';
import type { Wait } from '../../sim/task.js';
import { channelOf } from './plan.js';

/** What each rank learns in the notify step. */
export interface NotifyResult {
  /** Rows this rank will receive. */
  numRecv: number;
  /** Received tokens per local expert, before alignment. */
  perExpert: number[];
}

/** Count, for each destination rank, this rank's tokens per channel and per destination expert. */
function countOutgoing(ctx: RankContext, a: EpArgs): void {
  const R = ctx.numRanks;
  const T = a.numTokens[ctx.rank]!;
  const C = numChannels(a.dispatch);
  const epr = a.numExperts / R;
  const stride = notifyStride(a, R);
  const topk = new Int32Array(ctx.region(R_TOPK).buffer, 0, T * a.topk);
  const out = ctx.region(R_NOTIFY_OUT).i32;
  out.fill(0);
  const last = new Int32Array(R).fill(-1);
  for (let t = 0; t < T; t++) {
    const c = channelOf(T, C, t);
    for (let j = 0; j < a.topk; j++) {
      const e = topk[t * a.topk + j]!;
      if (e < 0) continue;
      const d = (e / epr) | 0;
      out[d * stride + C + (e - d * epr)]!++;
      if (last[d] !== t) {
        last[d] = t;
        out[d * stride + c]!++;
      }
    }
  }
}

/** Signal slots of `R_NOTIFY_SIG`: rows received, barrier arrivals. */
const SIG_ROWS = 0;
const SIG_BARRIER = 1;

/** Barrier `k` (1-based) across all ranks: signal every rank, wait for all R signals of round k. */
function* barrier(ctx: RankContext, k: number): Generator<Wait, void, unknown> {
  const R = ctx.numRanks;
  for (let i = 0; i < R; i++) ctx.atomicAdd(ctx.peerRegion((ctx.rank + i) % R, R_NOTIFY_SIG), SIG_BARRIER * 4, 1);
  yield ctx.untilAtLeast(ctx.region(R_NOTIFY_SIG), SIG_BARRIER, k * R);
}

/** Bytes of the queues' head/tail counters a rank zeroes before a dispatch (both kernels' rings). */
function counterBytes(ctx: RankContext, a: EpArgs): number {
  let n = 0;
  for (const k of ['d', 'c'] as const) {
    const names = ringNames(k);
    const ctrl = new Set([names.nvlCtrl, names.rdmaCtrl]);
    for (const r of ringRegionSizes(k, a, ctx.numRanks, ctx.gpusPerNode)) if (ctrl.has(r.name)) n += r.bytes;
  }
  return n;
}

/** Local HBM write time of `bytes`, us. */
const hbmUs = (ctx: RankContext, bytes: number) => bytes / (ctx.hardware.hbmGBps * 1e3);

defineOp<EpArgs>({
  name: 'ep.notify',
  prepare(ctx, a) {
    countOutgoing(ctx, a);
    const sig = ctx.region(R_NOTIFY_SIG).i32;
    sig[SIG_ROWS] = 0;
    sig[SIG_BARRIER] = 0;
  },
  *task(ctx, a) {
    const R = ctx.numRanks;
    const rowBytes = notifyStride(a, R) * 4;
    const out = ctx.region(R_NOTIFY_OUT);
    yield ctx.sleep(ctx.hardware.kernelLaunchUs);
    yield* barrier(ctx, 1);
    const puts = [];
    for (let k = 0; k < R; k++) {
      const d = (ctx.rank + k) % R;
      puts.push(ctx.put(ctx.peerRegion(d, R_NOTIFY), ctx.rank * rowBytes, out, d * rowBytes, rowBytes, { ack: true, signal: { region: ctx.peerRegion(d, R_NOTIFY_SIG), offset: SIG_ROWS * 4, value: 1 } }));
    }
    // Fence (own writes delivered), then the second barrier: every rank's counts are in place.
    for (const p of puts) yield ctx.delivered(p);
    yield* barrier(ctx, 2);
    // Sum the counts, write the totals to pinned host memory: from here the CPU polls for them.
    yield ctx.sleep(hbmUs(ctx, R * rowBytes));
    const hostReady = ctx.now + ctx.hardware.hostSyncUs;
    // Zero the queues' counters, third barrier.
    yield ctx.sleep(hbmUs(ctx, counterBytes(ctx, a)));
    yield* barrier(ctx, 3);
    // The CPU has seen the totals and launches the dispatch.
    if (hostReady > ctx.now) yield ctx.sleep(hostReady - ctx.now);
  },
  finish(ctx, a): NotifyResult {
    const R = ctx.numRanks;
    const C = numChannels(a.dispatch);
    const epr = a.numExperts / R;
    const stride = notifyStride(a, R);
    const n = ctx.region(R_NOTIFY).i32;
    let numRecv = 0;
    const perExpert = new Array<number>(epr).fill(0);
    for (let s = 0; s < R; s++) {
      for (let c = 0; c < C; c++) numRecv += n[s * stride + c]!;
      for (let e = 0; e < epr; e++) perExpert[e]! += n[s * stride + C + e]!;
    }
    return { numRecv, perExpert };
  },
});

defineOp<EpArgs>({
  name: 'ep.notify.cached',
  prepare(ctx) {
    ctx.region(R_NOTIFY_SIG).i32[SIG_BARRIER] = 0;
  },
  *task(ctx, a) {
    yield ctx.sleep(ctx.hardware.kernelLaunchUs);
    yield* barrier(ctx, 1);
    // Copy the handle's prefix matrix into the buffer and zero the queues' counters.
    yield ctx.sleep(hbmUs(ctx, ctx.numRanks * notifyStride(a, ctx.numRanks) * 4 + counterBytes(ctx, a)));
    yield* barrier(ctx, 2);
  },
});
