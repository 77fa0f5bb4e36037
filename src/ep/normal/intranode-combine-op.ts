/**
 * @module
 * DeepEP's intranode normal combine: the mirror of dispatch. On every rank, per channel, sender
 * warps push the rows it received from each source back into that source's ring (rows of one
 * (source, channel) are contiguous in receive order); on the source, the channel's receiver walks
 * its tokens in order, waits until every rank that holds a token has delivered it, reduces up to
 * top-k contributions in FP32, writes BF16, and advances the heads its senders poll.
 */
import { defineOp } from '../../actors/op-registry.js';
import type { RankContext } from '../../sim/rank-context.js';
import type { RoleStep, TaskBody } from '../../sim/task.js';
import { numChannels, notifyStride, ringNames, R_COMBINE_BIAS, R_COMBINE_IN, R_COMBINE_OUT, R_TOPK, type EpArgs } from '../ep-args.js';
import { sendOverNvlRing } from './nvl-ring-sender.js';
import { INTRANODE_WARPS_PER_SM } from '../sm-clock.js';
import { channelRange } from './plan.js';
import { combineRecordBytes } from '../records.js';
import { RowAccumulator } from '../reduce-rows.js';
import { SERIES_NVL_RING } from '../../sim/timeline.js';
import { intranodeState, type IntranodeState } from './intranode-state.js';

const N = ringNames('c');

type State = IntranodeState;

function sender(ctx: RankContext, a: EpArgs, st: State, c: number, s: number): RoleStep {
  const R = ctx.numRanks;
  const C = numChannels(a.dispatch);
  const B = a.combine.nvlBuffer;
  const base = st.offsets[s * C + c]!;
  const real = !a.sizesOnly;
  // The rows received from source s in channel c are contiguous in receive order.
  return sendOverNvlRing(ctx, {
    dst: s, ctrl: ctx.peerRegion(s, N.nvlCtrl), tailIndex: (c * R + ctx.rank) * 2,
    ring: real ? ctx.peerRegion(s, N.nvlRing) : null, ringBase: (c * R + ctx.rank) * B,
    stage: real ? ctx.region(N.nvlStage) : null, stageBase: (c * R + s) * B,
    input: real ? ctx.region(R_COMBINE_IN) : null, rowOf: (i) => base + i, rows: st.counts[s * notifyStride(a, R) + c]!,
    chunk: a.combine.nvlChunk, slots: B, rec: st.rec, sm: st.sendSm[c]!, role: 'nvl sender',
    warps: INTRANODE_WARPS_PER_SM / R,
    meta: { region: ctx.peerRegion(s, N.meta), index: c * R + ctx.rank },
  });
}

function* receiver(ctx: RankContext, a: EpArgs, st: State, c: number): TaskBody {
  const R = ctx.numRanks;
  const C = numChannels(a.dispatch);
  const B = a.combine.nvlBuffer;
  const rec = st.rec;
  const H = a.hidden;
  const T = a.numTokens[ctx.rank]!;
  const epr = a.numExperts / R;
  const [t0, t1] = channelRange(T, C, c);
  const topk = new Int32Array(ctx.region(R_TOPK).buffer, 0, T * a.topk);
  const ctrl = ctx.region(N.nvlCtrl);
  const meta = ctx.region(N.meta);
  const ring = a.sizesOnly ? null : ctx.region(N.nvlRing);
  const out = a.sizesOnly ? null : ctx.region(R_COMBINE_OUT);
  const acc = a.sizesOnly ? null : new RowAccumulator(H);
  const bias = a.hasBias && !a.sizesOnly ? new Float32Array(ctx.region(R_COMBINE_BIAS).buffer) : null;
  const reduceRate = ctx.hardware.smReduceGBps * 1e3;
  // Per token: the ranks holding it, ascending, each once (token t's at [off[t - t0], off[t - t0 + 1])
  // of one flat array: no array per token), and its position in each one's stream for this channel.
  const consumed = new Int32Array(R);
  const off = new Int32Array(t1 - t0 + 1);
  const ranksOf = new Int32Array((t1 - t0) * Math.min(a.topk, R));
  let filled = 0;
  for (let t = t0; t < t1; t++) {
    const q0 = filled;
    for (let j = 0; j < a.topk; j++) {
      const e = topk[t * a.topk + j]!;
      if (e < 0) continue;
      const d = (e / epr) | 0;
      let k = q0;
      while (k < filled && ranksOf[k]! < d) k++;
      if (k < filled && ranksOf[k] === d) continue;
      for (let x = filled; x > k; x--) ranksOf[x] = ranksOf[x - 1]!;
      ranksOf[k] = d;
      filled++;
    }
    off[t - t0 + 1] = filled;
  }
  const need = new Int32Array(R);
  // Tokens waiting in this channel's rings (for the trace's ring-occupancy counter).
  let shown = 0;
  const showOccupancy = () => {
    let o = 0;
    for (let d = 0; d < R; d++) o += Atomics.load(ctrl.i32, (c * R + d) * 2) - consumed[d]!;
    ctx.sample(SERIES_NVL_RING, o - shown);
    shown = o;
  };
  let t = t0;
  while (t < t1) {
    // Wait until every contributor of token t has delivered it.
    for (let q = off[t - t0]!; q < off[t - t0 + 1]!; q++) {
      const d = ranksOf[q]!;
      // A sender's channel metadata comes before its first row is read.
      if (consumed[d] === 0) yield ctx.untilAtLeast(meta, c * R + d, 1);
      yield ctx.untilAtLeast(ctrl, (c * R + d) * 2, consumed[d]! + 1);
    }
    showOccupancy();
    // Then take every following token that is already complete: one reduction step.
    need.set(consumed);
    let end = t;
    let bytes = 0;
    while (end < t1) {
      const q0 = off[end - t0]!, q1 = off[end - t0 + 1]!;
      let ok = true;
      for (let q = q0; q < q1; q++) if (Atomics.load(ctrl.i32, (c * R + ranksOf[q]!) * 2) < need[ranksOf[q]!]! + 1) ok = false;
      if (!ok) break;
      for (let q = q0; q < q1; q++) need[ranksOf[q]!]!++;
      bytes += (q1 - q0) * H * 2;
      end++;
    }
    yield ctx.sleep(st.recvSm[c]!.busy(ctx, 'combine reduce', bytes / reduceRate));
    for (; t < end; t++) {
      const q0 = off[t - t0]!, q1 = off[t - t0 + 1]!;
      if (ring && out && acc) {
        acc.reset();
        for (let q = q0; q < q1; q++) acc.addBf16(ring.u8, ((c * R + ranksOf[q]!) * B + (consumed[ranksOf[q]!]! % B)) * rec);
        if (bias) acc.addF32(bias, t * H);
        acc.writeBf16(out.u8, t * H * 2);
      }
      for (let q = q0; q < q1; q++) consumed[ranksOf[q]!]!++;
    }
    showOccupancy();
    for (let d = 0; d < R; d++) if (Atomics.load(ctrl.i32, (c * R + d) * 2 + 1) !== consumed[d]) ctx.store(ctrl, (c * R + d) * 2 + 1, consumed[d]!);
  }
  ctx.sample(SERIES_NVL_RING, -shown);
}

defineOp<EpArgs>({
  name: 'ep.combine.intranode',
  prepare(ctx, a) {
    const st = intranodeState(ctx, a, combineRecordBytes(a.hidden));
    if (!a.sizesOnly) ctx.region(R_COMBINE_OUT).u8.fill(0);
    ctx.state['combine'] = st;
  },
  *task(ctx, a) {
    // The kernel's launch (its own fixed cost, before it runs on the GPU).
    yield ctx.sleep(ctx.hardware.kernelLaunchUs);
    const st = ctx.state['combine'] as State;
    const R = ctx.numRanks;
    const C = numChannels(a.dispatch);
    const stride = notifyStride(a, R);
    const tasks = [];
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < R; k++) {
        const s = (ctx.rank + k) % R;
        if (st.counts[s * stride + c]! > 0) tasks.push(ctx.spawn(`nvl.sender[${c}->${s}]`, sender(ctx, a, st, c, s)));
      }
      tasks.push(ctx.spawn(`nvl.receiver[${c}]`, receiver(ctx, a, st, c)));
    }
    yield ctx.join(tasks);
  },
});
