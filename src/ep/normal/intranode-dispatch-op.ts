/**
 * @module
 * DeepEP's intranode normal dispatch, role by role. Per channel (two SMs): the sender SM's warps,
 * split over the peers, copy the channel's tokens for each peer into that peer's ring in chunks,
 * polling the peer's head over NVLink until a whole chunk fits, then advance the peer's tail; the
 * receiver SM's warps wait on their own tails, copy the new tokens to the output rows (fixed by
 * source rank and channel) and advance the head the sender polls. Both counters live in the
 * receiver's buffer.
 */
import { defineOp } from '../../actors/op-registry.js';
import type { RankContext } from '../../sim/rank-context.js';
import type { RoleStep, TaskBody } from '../../sim/task.js';
import { layoutOf, numChannels, notifyStride, ringNames, R_IN, R_RECV, R_TOPK, type EpArgs } from '../ep-args.js';
import { tokensByChannelAndDest } from './plan.js';
import { intranodeState, type IntranodeState } from './intranode-state.js';
import { copySlots } from './slots.js';
import { SERIES_NVL_RING } from '../../sim/timeline.js';
import { sendOverNvlRing } from './nvl-ring-sender.js';
import { INTRANODE_WARPS_PER_SM } from '../sm-clock.js';

const N = ringNames('d');

interface State extends IntranodeState {
  /** Per channel and destination rank, the tokens sent there in order. */
  lists: Int32Array[][];
}

function sender(ctx: RankContext, a: EpArgs, st: State, c: number, d: number): RoleStep {
  const R = ctx.numRanks;
  const B = a.dispatch.nvlBuffer;
  const toks = st.lists[c]![d]!;
  const real = !a.sizesOnly;
  return sendOverNvlRing(ctx, {
    dst: d, ctrl: ctx.peerRegion(d, N.nvlCtrl), tailIndex: (c * R + ctx.rank) * 2,
    ring: real ? ctx.peerRegion(d, N.nvlRing) : null, ringBase: (c * R + ctx.rank) * B,
    stage: real ? ctx.region(N.nvlStage) : null, stageBase: (c * R + d) * B,
    input: real ? ctx.region(R_IN) : null, rowOf: (i) => toks[i]!, rows: toks.length,
    chunk: a.dispatch.nvlChunk, slots: B, rec: st.rec, sm: st.sendSm[c]!, role: 'nvl sender',
    warps: INTRANODE_WARPS_PER_SM / R,
    meta: { region: ctx.peerRegion(d, N.meta), index: c * R + ctx.rank },
  });
}

function* receiver(ctx: RankContext, a: EpArgs, st: State, c: number, s: number): TaskBody {
  const R = ctx.numRanks;
  const C = numChannels(a.dispatch);
  const B = a.dispatch.nvlBuffer;
  const rec = st.rec;
  const n = st.counts[s * notifyStride(a, R) + c]!;
  const base = st.offsets[s * C + c]!;
  const ctrl = ctx.region(N.nvlCtrl);
  const tailIdx = (c * R + s) * 2;
  const ring = a.sizesOnly ? null : ctx.region(N.nvlRing);
  const out = a.sizesOnly ? null : ctx.region(R_RECV);
  let consumed = 0;
  // The sender's channel metadata (start/end offsets) comes before any token is read.
  if (n > 0) yield ctx.untilAtLeast(ctx.region(N.meta), c * R + s, 1);
  while (consumed < n) {
    const tail: number = yield ctx.untilAtLeast(ctrl, tailIdx, consumed + 1);
    const k = tail - consumed;
    ctx.sample(SERIES_NVL_RING, k);
    yield ctx.sleep(st.recvSm[c]!.copy(ctx, 'nvl receiver', k * rec, 'hbm', INTRANODE_WARPS_PER_SM / R));
    ctx.sample(SERIES_NVL_RING, -k);
    if (ring && out) copySlots(ring, (c * R + s) * B, consumed % B, B, out, base + consumed, k, rec);
    consumed = tail;
    ctx.store(ctrl, tailIdx + 1, consumed);
  }
}

defineOp<EpArgs>({
  name: 'ep.dispatch.intranode',
  prepare(ctx, a) {
    const R = ctx.numRanks;
    const T = a.numTokens[ctx.rank]!;
    const epr = a.numExperts / R;
    const topk = new Int32Array(ctx.region(R_TOPK).buffer, 0, T * a.topk);
    const st: State = {
      ...intranodeState(ctx, a, layoutOf(a).bytes),
      lists: tokensByChannelAndDest(topk, T, a.topk, numChannels(a.dispatch), R, (e) => (e / epr) | 0),
    };
    ctx.state['dispatch'] = st;
  },
  *task(ctx, a) {
    // The kernel's launch (its own fixed cost, before it runs on the GPU).
    yield ctx.sleep(ctx.hardware.kernelLaunchUs);
    const st = ctx.state['dispatch'] as State;
    const R = ctx.numRanks;
    const C = numChannels(a.dispatch);
    const stride = notifyStride(a, R);
    const tasks = [];
    for (let c = 0; c < C; c++)
      for (let k = 0; k < R; k++) {
        const d = (ctx.rank + k) % R;
        if (st.lists[c]![d]!.length > 0) tasks.push(ctx.spawn(`nvl.sender[${c}->${d}]`, sender(ctx, a, st, c, d)));
        if (st.counts[d * stride + c]! > 0) tasks.push(ctx.spawn(`nvl.receiver[${c}<-${d}]`, receiver(ctx, a, st, c, d)));
      }
    yield ctx.join(tasks);
  },
});
