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
import type { RoleStep, Wait } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { numChannels, notifyStride, ringNames, R_COMBINE_BIAS, R_COMBINE_IN, R_COMBINE_OUT, R_TOPK, type EpArgs } from '../ep-args.js';
import { sendOverNvlRing } from './nvl-ring-sender.js';
import { INTRANODE_WARPS_PER_SM, ROLE } from '../sm-clock.js';
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
    chunk: a.combine.nvlChunk, slots: B, rec: st.rec, sm: st.sendSm[c]!, role: ROLE['nvl sender'],
    warps: INTRANODE_WARPS_PER_SM, shares: R,
    meta: { region: ctx.peerRegion(s, N.meta), index: c * R + ctx.rank },
  });
}

/** Where an intranode combine {@link CombineReceiver} stands. */
const K_TOKEN = 0; // top of a step: token t's contributors, from condition q on
const K_REDUCED = 1; // the reduction of tokens t..end has taken its time
const K_DONE = 2;

/**
 * The combine's receiver warps of one channel as an explicit state record: per token, wait until
 * every rank holding it has delivered its row (after that rank's channel metadata); reduce it, with
 * every following token already complete, in one reduction (FP32 to BF16, plus the bias); return
 * the slots (heads) that moved. Its waits are the generator's it was, yielded at the same points.
 */
class CombineReceiver implements RoleStep {
  private pc = K_TOKEN;
  private t: number;
  private end = 0;
  private q: number;
  /** Whether the metadata wait of condition q has been yielded. */
  private metaAsked = false;
  /** Tokens waiting in this channel's rings, last sampled (the ring-occupancy counter). */
  private shown = 0;
  private readonly t0: number;
  private readonly t1: number;
  /** Per token: the ranks holding it, ascending, each once (token t's at [off[t - t0], off[t - t0 + 1]) of one flat array). */
  private readonly off: Int32Array;
  private readonly ranksOf: Int32Array;
  /** Per rank: its rows consumed in this channel; and what the reduction being planned needs. */
  private readonly consumed: Int32Array;
  private readonly need: Int32Array;
  private readonly ctrl: Region;
  private readonly meta: Region;
  private readonly ring: Region | null;
  private readonly out: Region | null;
  private readonly acc: RowAccumulator | null;
  private readonly bias: Float32Array | null;

  constructor(private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: State, private readonly c: number) {
    const R = ctx.numRanks;
    const T = a.numTokens[ctx.rank]!;
    const epr = a.numExperts / R;
    const [t0, t1] = channelRange(T, numChannels(a.dispatch), c);
    this.t0 = t0;
    this.t1 = t1;
    this.t = t0;
    const topk = new Int32Array(ctx.region(R_TOPK).buffer, 0, T * a.topk);
    this.ctrl = ctx.region(N.nvlCtrl);
    this.meta = ctx.region(N.meta);
    this.ring = a.sizesOnly ? null : ctx.region(N.nvlRing);
    this.out = a.sizesOnly ? null : ctx.region(R_COMBINE_OUT);
    this.acc = a.sizesOnly ? null : new RowAccumulator(a.hidden);
    this.bias = a.hasBias && !a.sizesOnly ? new Float32Array(ctx.region(R_COMBINE_BIAS).buffer) : null;
    this.consumed = new Int32Array(R);
    this.need = new Int32Array(R);
    const off = (this.off = new Int32Array(t1 - t0 + 1));
    const ranksOf = (this.ranksOf = new Int32Array((t1 - t0) * Math.min(a.topk, R)));
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
    this.q = 0;
  }

  step(): Wait | null {
    const { ctx, a, st, c, t0, t1, off, ranksOf, consumed, ctrl } = this;
    const R = ctx.numRanks;
    const H = a.hidden;
    for (;;) {
      switch (this.pc) {
        case K_TOKEN: {
          const t = this.t;
          if (t >= t1) {
            ctx.sample(SERIES_NVL_RING, -this.shown);
            this.pc = K_DONE;
            return null;
          }
          // Wait until every contributor of token t has delivered it.
          const q1 = off[t - t0 + 1]!;
          if (this.q < off[t - t0]!) this.q = off[t - t0]!;
          if (this.q < q1) {
            const d = ranksOf[this.q]!;
            // A sender's channel metadata comes before its first row is read.
            if (!this.metaAsked && consumed[d] === 0) {
              this.metaAsked = true;
              return ctx.untilAtLeast(this.meta, c * R + d, 1);
            }
            this.metaAsked = false;
            this.q++;
            return ctx.untilAtLeast(ctrl, (c * R + d) * 2, consumed[d]! + 1);
          }
          this.showOccupancy();
          // Then take every following token that is already complete: one reduction step.
          const need = this.need;
          need.set(consumed);
          let end = t;
          let bytes = 0;
          while (end < t1) {
            const q0 = off[end - t0]!, q1 = off[end - t0 + 1]!;
            let ok = true;
            for (let q = q0; q < q1; q++) if (ctrl.i32[(c * R + ranksOf[q]!) * 2]! < need[ranksOf[q]!]! + 1) ok = false;
            if (!ok) break;
            for (let q = q0; q < q1; q++) need[ranksOf[q]!]!++;
            bytes += (q1 - q0) * H * 2;
            end++;
          }
          this.end = end;
          this.pc = K_REDUCED;
          return st.recvSm[c]!.sleepReduceRate(ctx, ROLE['combine reduce'], bytes);
        }
        case K_REDUCED: {
          const { ring, out, acc, bias } = this;
          const B = a.combine.nvlBuffer;
          const rec = st.rec;
          for (let t = this.t; t < this.end; t++) {
            const q0 = off[t - t0]!, q1 = off[t - t0 + 1]!;
            if (ring && out && acc) {
              acc.reset();
              for (let q = q0; q < q1; q++) acc.addBf16(ring.u8, ((c * R + ranksOf[q]!) * B + (consumed[ranksOf[q]!]! % B)) * rec);
              if (bias) acc.addF32(bias, t * H);
              acc.writeBf16(out.u8, t * H * 2);
            }
            for (let q = q0; q < q1; q++) consumed[ranksOf[q]!]!++;
          }
          this.t = this.end;
          this.showOccupancy();
          for (let d = 0; d < R; d++) if (ctrl.i32[(c * R + d) * 2 + 1]! !== consumed[d]) ctx.store(ctrl, (c * R + d) * 2 + 1, consumed[d]!);
          this.pc = K_TOKEN;
          break;
        }
        default:
          return null;
      }
    }
  }

  /** Sample the ring-occupancy counter: rows in this channel's rings not consumed yet. */
  private showOccupancy(): void {
    const R = this.ctx.numRanks;
    let o = 0;
    for (let d = 0; d < R; d++) o += this.ctrl.i32[(this.c * R + d) * 2]! - this.consumed[d]!;
    this.ctx.sample(SERIES_NVL_RING, o - this.shown);
    this.shown = o;
  }
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
      tasks.push(ctx.spawn(`nvl.receiver[${c}]`, new CombineReceiver(ctx, a, st, c)));
    }
    yield ctx.join(tasks);
  },
});
