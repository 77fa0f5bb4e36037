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
import type { RoleStep, Wait } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { layoutOf, numChannels, notifyStride, ringNames, R_IN, R_RECV, R_TOPK, type EpArgs } from '../ep-args.js';
import { tokensByChannelAndDest } from './plan.js';
import { intranodeState, type IntranodeState } from './intranode-state.js';
import { copySlots } from './slots.js';
import { SERIES_NVL_RING } from '../../sim/timeline.js';
import { sendOverNvlRing } from './nvl-ring-sender.js';
import { INTRANODE_WARPS_PER_SM, ROLE } from '../sm-clock.js';

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
    chunk: a.dispatch.nvlChunk, slots: B, rec: st.rec, sm: st.sendSm[c]!, role: ROLE['nvl sender'],
    warps: INTRANODE_WARPS_PER_SM, shares: R,
    meta: { region: ctx.peerRegion(d, N.meta), index: c * R + ctx.rank },
  });
}

/** Where an intranode dispatch {@link NvlReceiver} stands. */
const V_META = 0; // first step: the sender's channel metadata
const V_TAIL = 1; // top of the loop: rows past what is consumed
const V_ROWS = 2; // the tail has resumed with its value: copy the rows out
const V_COPIED = 3; // the copy has taken its time: release the slots
const V_DONE = 4;

/**
 * The receiver warps of one ring (source rank s, channel c) as an explicit state record: wait for
 * the sender's channel metadata, then, until every row of the source is in, wait for the tail past
 * what is consumed, copy the rows out (SM time), and return the slots (the head). Its waits are the
 * generator's it was, yielded at the same points.
 */
class NvlReceiver implements RoleStep {
  private pc = V_META;
  private consumed = 0;
  private tail = 0;
  private readonly n: number;
  private readonly base: number;
  private readonly ctrl: Region;
  private readonly tailIdx: number;
  private readonly ring: Region | null;
  private readonly out: Region | null;

  constructor(private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: State, private readonly c: number, private readonly s: number) {
    const R = ctx.numRanks;
    this.n = st.counts[s * notifyStride(a, R) + c]!;
    this.base = st.offsets[s * numChannels(a.dispatch) + c]!;
    this.ctrl = ctx.region(N.nvlCtrl);
    this.tailIdx = (c * R + s) * 2;
    this.ring = a.sizesOnly ? null : ctx.region(N.nvlRing);
    this.out = a.sizesOnly ? null : ctx.region(R_RECV);
  }

  step(value: number): Wait | null {
    const { ctx, c, s } = this;
    const R = ctx.numRanks;
    for (;;) {
      switch (this.pc) {
        case V_META:
          // The sender's channel metadata (start/end offsets) comes before any token is read.
          this.pc = V_TAIL;
          if (this.n > 0) return ctx.untilAtLeast(ctx.region(N.meta), c * R + s, 1);
          break;
        case V_TAIL:
          if (this.consumed >= this.n) {
            this.pc = V_DONE;
            return null;
          }
          this.pc = V_ROWS;
          return ctx.untilAtLeast(this.ctrl, this.tailIdx, this.consumed + 1);
        case V_ROWS: {
          this.tail = value;
          const k = value - this.consumed;
          ctx.sample(SERIES_NVL_RING, k);
          this.pc = V_COPIED;
          return this.st.recvSm[c]!.sleepCopy(ctx, ROLE['nvl receiver'], k * this.st.rec, 'hbm', INTRANODE_WARPS_PER_SM, R);
        }
        case V_COPIED: {
          const B = this.a.dispatch.nvlBuffer;
          const k = this.tail - this.consumed;
          ctx.sample(SERIES_NVL_RING, -k);
          if (this.ring && this.out) copySlots(this.ring, (c * R + s) * B, this.consumed % B, B, this.out, this.base + this.consumed, k, this.st.rec);
          this.consumed = this.tail;
          ctx.store(this.ctrl, this.tailIdx + 1, this.consumed);
          this.pc = V_TAIL;
          break;
        }
        default:
          return null;
      }
    }
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
        if (st.counts[d * stride + c]! > 0) tasks.push(ctx.spawn(`nvl.receiver[${c}<-${d}]`, new NvlReceiver(ctx, a, st, c, d)));
      }
    yield ctx.join(tasks);
  },
});
