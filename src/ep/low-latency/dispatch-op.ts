/**
 * @module
 * DeepEP V1's low-latency dispatch (`internode_ll.cu`, reference deepep-details.md §4), phase by
 * phase, on the SM and link models of the normal kernels.
 *
 * **Send phase.** Each SM takes the tokens `sm, sm + numSms, ...`. Per token, the SM's warps (all but
 * the last) cast the BF16 row to FP8 per 128 channels (amax, scale, optional power-of-two scale) into
 * the token's message in the send buffer: `16 B header | hidden FP8 | hidden/128 float scales`
 * (7,408 B at hidden 7168; BF16: `16 B | 2 x hidden`): the SM reads the BF16 row and writes the
 * message, each lane one 16 B load, so one round trip of HBM. Then warp k < topk takes the token's
 * k-th expert, claims a slot of that expert with an atomic add on a counter in local memory (one
 * round trip; slots in token order here) and sends the message to `recv[localExpert][srcRank][slot]`
 * of the expert's rank: a warp copy of NVLink stores to a peer of the same node (the warp's bytes in
 * flight over the NVLink latency), then the release of the expert's finish counter (the fence and
 * release an NVLink send pays, `nvlinkMessageUs`); or one RDMA write posted on the queue pair of
 * that local expert across nodes (`ibMessageUs` on the warp, the NIC starting it a doorbell later).
 * The next token's cast waits for the sends (a block barrier). SM 0 zeroes the next buffer set's
 * signals first. After its tokens, the warp group owning global expert e waits until every send of
 * this rank to e is issued, then sends the count as `-n-1`: a release store over NVLink, or a remote
 * atomic on the expert's queue pair, which leaves once the writes are acknowledged ({@link LlNic}).
 *
 * **Receive phase.** The warp group of each (local expert, source rank) polls the count in its own
 * memory, reserves its rows with an atomic add on the expert's packed count (one round trip), then
 * its warps copy the rows (payload, scales, source token), one token per warp at a time, from the
 * receive buffer into `packed[localExpert][maxTokens * ranks]`. One launch runs both phases with a
 * grid sync between; hook mode launches them apart, so no SM is held while data is in flight.
 *
 * Packed rows are placed by source rank (each source's rows at the sum of the lower sources'
 * counts): DeepEP reserves them with an atomic add in arrival order, which a GPU does not make
 * reproducible; source order is one of its outcomes, the same in hook and one-launch mode.
 */
import { defineOp } from '../../actors/op-registry.js';
import { fail } from '../../errors.js';
import { fromBF16Array } from '../../kernels/bf16.js';
import { quantizePerTile } from '../../kernels/quantize.js';
import type { RankContext } from '../../sim/rank-context.js';
import type { RoleStep, TaskBody, Wait } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { ROLE, type SmClock } from '../sm-clock.js';
import { giveSmSends, gridSyncUs, isP2p, LlNic, peerBuffer, qpOf, roleName, smClocks, takeSmSends, type SmSends } from './common.js';
import {
  dispatchMessageBytes, LL_BUF, LL_HEADER_BYTES, LL_LOCAL, LL_SCALE_GROUP, llPacked, llTopk, llX, lowLatencySizes, packedOffsets,
  PHASE_RECV, PHASE_SEND, setOffsets, type LlArgs,
} from './layout.js';

interface State {
  T: number;
  epr: number;
  msg: number;
  off: { signal: number; send: number; recv: number };
  /** Per (token, k): the slot claimed at the expert, -1 for no expert. */
  slots: Int32Array;
  topk: Int32Array;
  /** Messages this rank sends to each global expert. */
  perExpert: Int32Array;
  clocks: SmClock[];
  /** The NIC's streams: this rank's writes to each global expert. */
  nic: LlNic;
  /** Real data: the BF16 tokens to cast; null in sizes-only mode. */
  x: Uint16Array | null;
  /** When the send phase ended, from the operation's start (ctx.opTimeUs). */
  sendEndUs: number;
  /** Each peer's LL_BUF, looked up on first use. */
  peers: Array<Region | undefined>;
}

/** Cast token t of `x` (BF16) into its message at `o` of `buf`: header, FP8 or BF16 payload, scales. */
function castToken(a: LlArgs, x: Uint16Array, t: number, buf: Uint8Array, o: number): void {
  const H = a.hidden;
  const dv = new DataView(buf.buffer, buf.byteOffset);
  buf.fill(0, o, o + LL_HEADER_BYTES);
  dv.setInt32(o, t, true);
  const row = x.subarray(t * H, (t + 1) * H);
  if (a.dtype === 'bf16') {
    buf.set(new Uint8Array(row.buffer, row.byteOffset, 2 * H), o + LL_HEADER_BYTES);
    return;
  }
  const q = quantizePerTile(fromBF16Array(row), 1, H, { ue8m0: a.ue8m0 });
  buf.set(q.q, o + LL_HEADER_BYTES);
  buf.set(new Uint8Array(q.scales.buffer, q.scales.byteOffset, q.scales.byteLength), o + LL_HEADER_BYTES + H);
}

/** The count of global expert e: after every send of this rank to e is issued, `-n-1` to its rank. */
function* countSender(ctx: RankContext, a: LlArgs, st: State, e: number): TaskBody {
  const R = ctx.numRanks;
  const dst = (e / st.epr) | 0;
  const le = e - dst * st.epr;
  const local = ctx.region(LL_LOCAL);
  const n = st.perExpert[e]!;
  // The clean of the next set comes first (DeepEP's FINISHED_SUM_TAG gate), then all sends to e.
  yield ctx.untilAtLeast(local, a.numExperts, 1);
  if (n > 0) yield ctx.untilAtLeast(local, e, n);
  const at = st.off.signal + (le * R + ctx.rank) * 4;
  if (isP2p(ctx, dst)) {
    // A release store (sys scope), behind the data on the NVLink stream.
    yield ctx.sleep(ctx.hardware.nvlinkMessageUs);
    ctx.atomicAdd(peerBuffer(ctx, st.peers, dst), at, -n - 1);
  } else {
    yield ctx.sleep(ctx.hardware.ibMessageUs);
    st.nic.atomicAfter(ctx, e, n, peerBuffer(ctx, st.peers, dst), at, -n - 1, qpOf(le));
  }
}

/**
 * SM s of the send phase: its tokens' casts and top-k sends, then its warp groups' counts. A state
 * record (its steps in DeepEP's order, each wait yielded where a generator would), since it yields
 * per token and per send whose warp is not done yet.
 */
class SendSm implements RoleStep {
  /** 0: start; 1: the clean done; 2: a token cast; 3: issuing its sends; 4: the counts sent. */
  private pc = 0;
  private readonly clock: SmClock;
  private readonly local: Region;
  private readonly buf: Region;
  /** The SM's current token. */
  private t: number;
  private sends: SmSends | null = null;

  constructor(private readonly ctx: RankContext, private readonly a: LlArgs, private readonly st: State, private readonly s: number) {
    this.clock = st.clocks[s]!;
    this.local = ctx.region(LL_LOCAL);
    this.buf = ctx.region(LL_BUF);
    this.t = s;
  }

  step(): Wait | null {
    const { ctx, a, st } = this;
    switch (this.pc) {
      case 0:
        this.sends = takeSmSends();
        if (this.s === 0) {
          // DeepEP's first SM zeroes the next buffer set's signals (its last warp), before any count goes out.
          this.pc = 1;
          return ctx.sleep(this.clock.copy(ctx, ROLE['LL clean'], a.numExperts * 4, 'hbm', 1));
        }
        return this.cast();
      case 1:
        ctx.store(this.local, a.numExperts, 1);
        return this.cast();
      case 2:
        this.post();
        this.pc = 3;
      // falls through
      case 3: {
        const w = this.sends!.next(ctx, st.nic);
        if (w !== null) return w;
        this.t += a.launch.numSms;
        return this.cast();
      }
      default:
        return null;
    }
  }

  /**
   * The cast of the SM's next token: every warp of the SM but the last reads its share of the BF16
   * row (a 16 B load per lane), computes the per-128 amax and scale, and writes the message into
   * the send buffer. After the last token, each warp group sends the count of the global expert it owns.
   */
  private cast(): Wait {
    const { ctx, a, st } = this;
    if (this.t < st.T) {
      const { numWarpGroups: G, warpsPerGroup: W } = a.launch;
      const castWarps = G * W - 1;
      const rowBytes = 2 * a.hidden;
      this.pc = 2;
      return ctx.sleep(this.clock.copyRows(ctx, ROLE['LL cast'], rowBytes, st.msg, rowBytes / castWarps, 'hbm', castWarps));
    }
    giveSmSends(this.sends!);
    this.sends = null;
    const G = a.launch.numWarpGroups;
    const counts = [];
    for (let g = 0; g < G; g++) {
      const e = this.s * G + g;
      if (e < a.numExperts) counts.push(ctx.spawn(roleName('LL.dispatch.count[', e), countSender(ctx, a, st, e)));
    }
    this.pc = 4;
    return ctx.join(counts);
  }

  /**
   * The token's message into the send buffer, then its top-k sends: warp k claims the slot (an
   * atomic add in local memory), then copies the message as NVLink stores (its own HBM for itself)
   * and releases the expert's finish counter, or posts one RDMA work request; either way the send
   * counts towards the expert's count.
   */
  private post(): void {
    const { ctx, a, st, t, clock } = this;
    const R = ctx.numRanks;
    const msg = st.msg;
    const hw = ctx.hardware;
    const src = st.off.send + t * msg;
    if (st.x) castToken(a, st.x, t, this.buf.u8, src);
    const sends = this.sends!;
    sends.begin(st.x ? this.buf : null, this.local);
    for (let k = 0; k < a.topk; k++) {
      const e = st.topk[t * a.topk + k]!;
      if (e < 0) continue;
      const dst = (e / st.epr) | 0;
      const le = e - dst * st.epr;
      const slot = st.slots[t * a.topk + k]!;
      const p2p = isP2p(ctx, dst);
      const doneUs = hw.hbmLatencyUs + (p2p ? clock.copyRows(ctx, ROLE['LL send'], msg, msg, msg, dst === ctx.rank ? 'hbm' : 'nvlink', 1, hw.nvlinkMessageUs) : hw.ibMessageUs);
      const dstOff = st.off.recv + ((le * R + ctx.rank) * a.maxTokens + slot) * msg;
      sends.add(doneUs, dst, peerBuffer(ctx, st.peers, dst), dstOff, src, msg, p2p ? -1 : qpOf(le), e, st.perExpert[e]!, e);
    }
    sends.startIssue(ctx);
  }
}

/** The warp group of (local expert le, source rank src): wait for the count, pack the rows. */
function* recvGroup(ctx: RankContext, a: LlArgs, st: State, i: number): TaskBody {
  const R = ctx.numRanks;
  const src = (i / st.epr) | 0;
  const le = i - src * st.epr;
  const buf = ctx.region(LL_BUF);
  const v: number = yield ctx.untilNot(buf, (st.off.signal >> 2) + le * R + src, 0);
  const n = -v - 1;
  const want = a.recvCount[ctx.rank]![le * R + src]!;
  if (n !== want) fail('E_VERIFY', `low-latency dispatch: rank ${ctx.rank} received a count of ${n} from rank ${src} for local expert ${le}, its routing says ${want}`, { rank: ctx.rank, src, localExpert: le });
  if (n === 0) return;
  const clock = st.clocks[(i / a.launch.numWarpGroups) | 0]!;
  // Reserve the rows (an atomic add on the expert's packed count), then the group's warps copy one
  // token each per round: payload, scales and source token, read from the receive buffer and written packed.
  const W = a.launch.warpsPerGroup;
  const rowBytes = st.msg - LL_HEADER_BYTES + 4;
  yield ctx.sleep(ctx.hardware.hbmLatencyUs + clock.copyRows(ctx, ROLE['LL recv'], n * st.msg, n * rowBytes, Math.ceil(n / W) * st.msg, 'hbm', Math.min(n, W)));
  if (a.sizesOnly) return;
  const H = a.hidden;
  const P = packedOffsets(st.epr, R, a.maxTokens, H, a.dtype);
  const out = ctx.region(llPacked(a.set)).u8;
  const outView = new DataView(out.buffer);
  const dv = new DataView(buf.buffer);
  const first = le * R * a.maxTokens + a.recvBegin[ctx.rank]![le * R + src]!;
  const scaleBytes = (H / LL_SCALE_GROUP) * 4;
  for (let j = 0; j < n; j++) {
    const m = st.off.recv + ((le * R + src) * a.maxTokens + j) * st.msg;
    const row = first + j;
    outView.setInt32(P.src + row * 4, dv.getInt32(m, true), true);
    out.set(buf.u8.subarray(m + LL_HEADER_BYTES, m + LL_HEADER_BYTES + P.rowBytes), P.x + row * P.rowBytes);
    if (a.dtype === 'fp8') out.set(buf.u8.subarray(m + LL_HEADER_BYTES + H, m + LL_HEADER_BYTES + H + scaleBytes), P.scales + row * scaleBytes);
  }
}

defineOp<LlArgs>({
  name: 'ep.ll.dispatch',
  prepare(ctx, a) {
    const R = ctx.numRanks;
    const T = a.numTokens[ctx.rank]!;
    const epr = a.numExperts / R;
    const sizes = lowLatencySizes(a.maxTokens, a.hidden, a.numExperts);
    const topk = new Int32Array(ctx.region(llTopk(a.set)).buffer, 0, T * a.topk);
    const slots = new Int32Array(T * a.topk).fill(-1);
    const perExpert = new Int32Array(a.numExperts);
    for (let i = 0; i < T * a.topk; i++) {
      const e = topk[i]!;
      if (e >= 0) slots[i] = perExpert[e]!++;
    }
    if (a.phases & PHASE_SEND) ctx.region(LL_LOCAL).i32.fill(0);
    const st: State = {
      T, epr, msg: dispatchMessageBytes(a.hidden, a.dtype), off: setOffsets(sizes, a.set), slots, topk, perExpert,
      clocks: smClocks(a), nic: new LlNic(a.numExperts), sendEndUs: -1, peers: [],
      x: a.sizesOnly ? null : new Uint16Array(ctx.region(llX(a.set)).buffer, 0, T * a.hidden),
    };
    ctx.state['ll'] = st;
  },
  *task(ctx, a) {
    yield ctx.sleep(ctx.hardware.kernelLaunchUs + (a.launchDelayUs?.[ctx.rank] ?? 0));
    const st = ctx.state['ll'] as State;
    if (a.phases & PHASE_SEND) {
      const tasks = [];
      for (let s = 0; s < a.launch.numSms; s++) tasks.push(ctx.spawn(roleName('LL.dispatch.send[', s), new SendSm(ctx, a, st, s)));
      yield ctx.join(tasks);
      st.sendEndUs = ctx.opTimeUs;
      if (a.phases & PHASE_RECV) yield ctx.sleep(gridSyncUs(ctx.hardware));
    }
    if (a.phases & PHASE_RECV) {
      const tasks = [];
      for (let i = 0; i < a.numExperts; i++) tasks.push(ctx.spawn(roleName('LL.dispatch.recv[', i), recvGroup(ctx, a, st, i)));
      yield ctx.join(tasks);
    }
  },
  finish(ctx) {
    return { sendEndUs: (ctx.state['ll'] as State).sendEndUs };
  },
});
