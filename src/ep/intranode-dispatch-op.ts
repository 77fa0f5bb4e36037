/**
 * @module
 * DeepEP's intranode normal dispatch, role by role. Per channel (two SMs): the sender SM's warps,
 * split over the peers, copy the channel's tokens for each peer into that peer's ring in chunks,
 * polling the peer's head over NVLink until a whole chunk fits, then advance the peer's tail; the
 * receiver SM's warps wait on their own tails, copy the new tokens to the output rows (fixed by
 * source rank and channel) and advance the head the sender polls. Both counters live in the
 * receiver's buffer.
 */
import { defineOp } from '../actors/op-registry.js';
import type { RankContext } from '../sim/rank-context.js';
import type { Region } from '../transport/memory.js';
import type { TaskBody } from '../sim/task.js';
import { layoutOf, numChannels, notifyStride, ringNames, R_IN, R_NOTIFY, R_RECV, R_TOPK, type EpArgs } from './ep-args.js';
import { receiveOffsets, tokensByChannelAndDest } from './plan.js';
import { SmClock } from './sm-clock.js';
import { copySlots } from './slots.js';

const N = ringNames('d');

interface State {
  lists: Int32Array[][];
  offsets: Int32Array;
  counts: Int32Array;
  sendSm: SmClock[];
  recvSm: SmClock[];
  rec: number;
}

function* sender(ctx: RankContext, a: EpArgs, st: State, c: number, d: number): TaskBody {
  const R = ctx.numRanks;
  const cfg = a.dispatch;
  const B = cfg.nvlBuffer;
  const rec = st.rec;
  const toks = st.lists[c]![d]!;
  const n = toks.length;
  const me = ctx.rank;
  const ctrl = ctx.peerRegion(d, N.nvlCtrl);
  const tailIdx = (c * R + me) * 2;
  const headIdx = tailIdx + 1;
  const real = !a.sizesOnly;
  const ring = real ? ctx.peerRegion(d, N.nvlRing) : null;
  const stage = real ? ctx.region(N.nvlStage) : null;
  const input = real ? ctx.region(R_IN) : null;
  const ringBase = (c * R + me) * B;
  const stageBase = (c * R + d) * B;
  const copyRate = ctx.hardware.smCopyGBps * 1e3;
  let sent = 0;
  let head = 0;
  while (sent < n) {
    const k = Math.min(cfg.nvlChunk, n - sent);
    // Wait until a whole chunk fits: poll the receiver's head (over NVLink; own memory for self).
    while (sent + k - head > B) head = d === me ? yield ctx.untilAtLeast(ctrl, headIdx, sent + k - B) : yield ctx.read(ctrl, headIdx);
    if (stage && input) for (let i = 0; i < k; i++) stage.u8.set(input.u8.subarray(toks[sent + i]! * rec, (toks[sent + i]! + 1) * rec), (stageBase + ((sent + i) % B)) * rec);
    yield ctx.sleep(st.sendSm[c]!.reserve(ctx.now, (k * rec) / copyRate + ctx.hardware.nvlinkMessageUs));
    putSlots(ctx, d, ring, ringBase, stage, stageBase, sent % B, k, B, rec, ctrl, tailIdx);
    sent += k;
  }
}

/**
 * Put `k` ring slots starting at `slot` (wrapping) from the staging mirror to the peer's ring, and
 * advance the peer's tail by `k` with the last write (the tail is released after the data). A chunk
 * that wraps is two transfers; sizes-only mode sends the same two, so its timeline is real mode's.
 */
export function putSlots(
  ctx: RankContext, dst: number, ring: Region | null, ringBase: number, stage: Region | null, stageBase: number,
  slot: number, k: number, B: number, rec: number, tail: Region, tailIndex: number,
): void {
  const signal = { region: tail, offset: tailIndex * 4, value: k };
  const first = Math.min(k, B - slot);
  const wraps = k > first;
  if (!ring || !stage) {
    ctx.send(dst, first * rec, wraps ? undefined : { signal });
    if (wraps) ctx.send(dst, (k - first) * rec, { signal });
    return;
  }
  ctx.put(ring, (ringBase + slot) * rec, stage, (stageBase + slot) * rec, first * rec, wraps ? undefined : { signal });
  if (wraps) ctx.put(ring, ringBase * rec, stage, stageBase * rec, (k - first) * rec, { signal });
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
  const copyRate = ctx.hardware.smCopyGBps * 1e3;
  let consumed = 0;
  while (consumed < n) {
    const tail: number = yield ctx.untilAtLeast(ctrl, tailIdx, consumed + 1);
    const k = tail - consumed;
    yield ctx.sleep(st.recvSm[c]!.reserve(ctx.now, (k * rec) / copyRate));
    if (ring && out) copySlots(ring, (c * R + s) * B, consumed % B, B, out, base + consumed, k, rec);
    consumed = tail;
    ctx.store(ctrl, tailIdx + 1, consumed);
  }
}

defineOp<EpArgs>({
  name: 'ep.dispatch.intranode',
  prepare(ctx, a) {
    const R = ctx.numRanks;
    const C = numChannels(a.dispatch);
    const T = a.numTokens[ctx.rank]!;
    const epr = a.numExperts / R;
    const topk = new Int32Array(ctx.region(R_TOPK).buffer, 0, T * a.topk);
    const counts = Int32Array.from(ctx.region(R_NOTIFY).i32);
    const st: State = {
      lists: tokensByChannelAndDest(topk, T, a.topk, C, R, (e) => (e / epr) | 0),
      offsets: receiveOffsets(counts, R, C, notifyStride(a, R)).offsets,
      counts,
      sendSm: Array.from({ length: C }, () => new SmClock()),
      recvSm: Array.from({ length: C }, () => new SmClock()),
      rec: layoutOf(a).bytes,
    };
    ctx.state['dispatch'] = st;
  },
  *task(ctx, a) {
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
