/**
 * @module
 * DeepEP V1's low-latency combine (`internode_ll.cu`, reference deepep-details.md §4), the mirror of
 * the dispatch, on the SM and link models of the normal kernels.
 *
 * **Send phase.** The warp group owning (local expert, destination rank) sends back the rows it
 * received from that rank, one warp per row: a BF16 row (`2 x hidden` B) to
 * `recv[globalExpert][sourceToken]` of the destination, as NVLink stores to a peer of the same node,
 * or copied to the send buffer and posted as one RDMA write on the expert's queue pair across nodes
 * (`ibMessageUs` on the warp, the NIC starting it a doorbell later). SM 0 zeroes the next buffer
 * set's signals first; then each group sets the destination's flag of its global expert (a release
 * store, or a remote atomic on the same queue pair that leaves once the rows are acknowledged).
 *
 * **Receive phase.** Each rank waits for the flags of all global experts, a grid sync, then each SM
 * reduces its tokens (`sm, sm + numSms, ...`), a thread per 8 channels with its top-k loads in
 * flight together: the top-k rows of a token, each times its weight in
 * `topkWeights`, summed in FP32 in top-k order and written as BF16 (the low-latency combine weights;
 * the normal combine is a plain sum). One launch runs both phases with a grid sync between; hook
 * mode launches them apart.
 */
import { defineOp } from '../../actors/op-registry.js';
import { bf16FromF32Bits } from '../../kernels/bf16.js';
import type { RankContext } from '../../sim/rank-context.js';
import type { RoleStep, TaskBody, Wait } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { ROLE, type SmClock } from '../sm-clock.js';
import { giveSmSends, gridSyncUs, isP2p, LlNic, peerBuffer, qpOf, roleName, smClocks, takeSmSends, type SmSends } from './common.js';
import {
  combineMessageBytes, LL_BUF, LL_LOCAL, llCombineSrc, llCombineX, llOut, llTopk, llWeights, lowLatencySizes, PHASE_RECV, PHASE_SEND,
  setOffsets, type LlArgs,
} from './layout.js';

interface State {
  T: number;
  epr: number;
  slot: number;
  off: { signal: number; send: number; recv: number };
  clocks: SmClock[];
  /** The NIC's streams: each warp group's rows back to one rank. */
  nic: LlNic;
  /** Real data: the rows to send back (`x`) and each row's source token; null in sizes-only mode. */
  x: Region | null;
  srcTok: Int32Array | null;
  /** When the send phase ended, from the operation's start (ctx.opTimeUs). */
  sendEndUs: number;
  /** Each peer's LL_BUF, looked up on first use. */
  peers: Array<Region | undefined>;
}

/**
 * The warp group of (local expert le, destination rank dst): rows back, then the flag. A state
 * record (its steps in DeepEP's order, each wait yielded where a generator would), since it yields
 * once per warp round and per send whose warp is not done yet.
 */
class SendGroup implements RoleStep {
  /** 0: start; 1: issuing a round; 2: the clean seen; 3: the flag's posting cost paid. */
  private pc = 0;
  private readonly dst: number;
  private readonly ge: number;
  private readonly n: number;
  private readonly begin: number;
  private readonly clock: SmClock;
  private readonly p2p: boolean;
  private readonly bytes: number;
  private readonly qp: number;
  private readonly peer: Region;
  /** The first row of the current round. */
  private r0 = 0;
  private sends: SmSends | null = null;

  constructor(private readonly ctx: RankContext, private readonly a: LlArgs, private readonly st: State, private readonly i: number) {
    const R = ctx.numRanks;
    this.dst = (i / st.epr) | 0;
    const le = i - this.dst * st.epr;
    this.ge = ctx.rank * st.epr + le;
    this.n = a.recvCount[ctx.rank]![le * R + this.dst]!;
    this.begin = le * R * a.maxTokens + a.recvBegin[ctx.rank]![le * R + this.dst]!;
    this.clock = st.clocks[(i / a.launch.numWarpGroups) | 0]!;
    this.p2p = isP2p(ctx, this.dst);
    this.bytes = combineMessageBytes(a.hidden);
    this.qp = qpOf(le);
    this.peer = peerBuffer(ctx, st.peers, this.dst);
  }

  step(): Wait | null {
    const { ctx, st } = this;
    switch (this.pc) {
      case 0:
        this.sends = takeSmSends();
        if (this.n > 0) {
          this.round();
          this.pc = 1;
        }
      // falls through
      case 1:
        while (this.r0 < this.n) {
          const w = this.sends!.next(ctx, st.nic);
          if (w !== null) return w;
          this.r0 += this.a.launch.warpsPerGroup;
          if (this.r0 < this.n) this.round();
        }
        giveSmSends(this.sends!);
        this.sends = null;
        this.pc = 2;
        return ctx.untilAtLeast(ctx.region(LL_LOCAL), this.a.numExperts, 1);
      case 2:
        this.pc = 3;
        // A release store (sys scope), behind the rows on the NVLink stream; or a posted atomic.
        return ctx.sleep(this.p2p ? ctx.hardware.nvlinkMessageUs : ctx.hardware.ibMessageUs);
      default:
        if (this.p2p) ctx.atomicAdd(this.peer, st.off.signal + this.ge * 4, 1);
        else st.nic.atomicAfter(ctx, this.i, this.n, this.peer, st.off.signal + this.ge * 4, 1, this.qp);
        return null;
    }
  }

  /** The group's warps take one row each per round, from row r0: their copies, then the issue in order. */
  private round(): void {
    const { ctx, st, bytes, dst, clock } = this;
    const sends = this.sends!;
    const srcTok = st.srcTok;
    sends.begin(srcTok ? st.x : null, null);
    const end = Math.min(this.n, this.r0 + this.a.launch.warpsPerGroup);
    for (let j = this.r0; j < end; j++) {
      // NVLink stores straight to the peer; or a copy into the send buffer and a work request.
      const doneUs = this.p2p
        ? clock.copyRows(ctx, ROLE['LL combine send'], bytes, bytes, bytes, dst === ctx.rank ? 'hbm' : 'nvlink', 1)
        : clock.copyRows(ctx, ROLE['LL combine send'], bytes, bytes, bytes, 'hbm', 1, ctx.hardware.ibMessageUs);
      const row = this.begin + j;
      const dstOff = srcTok ? st.off.recv + (this.ge * this.a.maxTokens + srcTok[row]!) * st.slot : 0;
      sends.add(doneUs, dst, this.peer, dstOff, row * bytes, bytes, this.p2p ? -1 : this.qp, this.i, this.n, -1);
    }
    sends.startIssue(ctx);
  }
}

function* sendSm(ctx: RankContext, a: LlArgs, st: State, s: number): TaskBody {
  const G = a.launch.numWarpGroups;
  if (s === 0) {
    // DeepEP's first SM zeroes the next buffer set's signals before any flag goes out.
    yield ctx.sleep(st.clocks[0]!.copy(ctx, ROLE['LL clean'], a.numExperts * 4, 'hbm', 1));
    ctx.store(ctx.region(LL_LOCAL), a.numExperts, 1);
  }
  const groups = [];
  for (let g = 0; g < G; g++) {
    const i = s * G + g;
    if (i < a.numExperts) groups.push(ctx.spawn(roleName('LL.combine.send[', i), new SendGroup(ctx, a, st, i)));
  }
  yield ctx.join(groups);
}

/** The flags of the SM's warp groups' global experts. */
function* waitFlags(ctx: RankContext, a: LlArgs, st: State, s: number): TaskBody {
  const G = a.launch.numWarpGroups;
  const buf = ctx.region(LL_BUF);
  for (let g = 0; g < G; g++) {
    const i = s * G + g;
    if (i < a.numExperts) yield ctx.untilNot(buf, (st.off.signal >> 2) + i, 0);
  }
}

/** SM s reduces its tokens: weighted top-k rows, FP32 in top-k order, BF16 out. */
function* reduceSm(ctx: RankContext, a: LlArgs, st: State, s: number): TaskBody {
  const H = a.hidden;
  const K = a.topk;
  const topk = new Int32Array(ctx.region(llTopk(a.set)).buffer, 0, st.T * K);
  const real = !a.sizesOnly;
  const buf = ctx.region(LL_BUF);
  const w = real ? new Float32Array(ctx.region(llWeights(a.set)).buffer, 0, st.T * K) : null;
  const out = real ? new Uint16Array(ctx.region(llOut(a.set)).buffer, 0, st.T * H) : null;
  const acc = new Float32Array(real ? H : 0);
  const accBits = new Uint32Array(acc.buffer);
  const f = new Float32Array(1);
  const fb = new Uint32Array(f.buffer);
  // DeepEP's threads below hidden / 8 reduce, one int4 of 8 channels each.
  const warps = Math.max(1, Math.ceil(H / 256));
  for (let t = s; t < st.T; t += a.launch.numSms) {
    let valid = 0;
    for (let k = 0; k < K; k++) if (topk[t * K + k]! >= 0) valid++;
    yield ctx.sleep(st.clocks[s]!.reduceRows(ctx, ROLE['LL combine reduce'], valid * 2 * H, warps));
    if (!out || !w) continue;
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const e = topk[t * K + k]!;
      if (e < 0) continue;
      const wk = w[t * K + k]!;
      const row = new Uint16Array(buf.buffer, st.off.recv + (e * a.maxTokens + t) * st.slot, H);
      for (let j = 0; j < H; j++) {
        fb[0] = row[j]! << 16;
        acc[j] = acc[j]! + Math.fround(wk * f[0]!);
      }
    }
    for (let j = 0; j < H; j++) out[t * H + j] = bf16FromF32Bits(accBits[j]!);
  }
}

defineOp<LlArgs>({
  name: 'ep.ll.combine',
  prepare(ctx, a) {
    const sizes = lowLatencySizes(a.maxTokens, a.hidden, a.numExperts);
    if (a.phases & PHASE_SEND) ctx.region(LL_LOCAL).i32.fill(0);
    const st: State = {
      T: a.numTokens[ctx.rank]!, epr: a.numExperts / ctx.numRanks, slot: sizes.combineSlot, off: setOffsets(sizes, a.set),
      clocks: smClocks(a), nic: new LlNic(a.numExperts), sendEndUs: -1, peers: [],
      x: a.sizesOnly ? null : ctx.region(llCombineX(a.set)), srcTok: a.sizesOnly ? null : new Int32Array(ctx.region(llCombineSrc(a.set)).buffer),
    };
    ctx.state['ll'] = st;
  },
  *task(ctx, a) {
    yield ctx.sleep(ctx.hardware.kernelLaunchUs + (a.launchDelayUs?.[ctx.rank] ?? 0));
    const st = ctx.state['ll'] as State;
    const S = a.launch.numSms;
    if (a.phases & PHASE_SEND) {
      const tasks = [];
      for (let s = 0; s < S; s++) tasks.push(ctx.spawn(roleName('LL.combine.send[sm ', s), sendSm(ctx, a, st, s)));
      yield ctx.join(tasks);
      st.sendEndUs = ctx.opTimeUs;
      if (a.phases & PHASE_RECV) yield ctx.sleep(gridSyncUs(ctx.hardware));
    }
    if (a.phases & PHASE_RECV) {
      const flags = [];
      for (let s = 0; s < S; s++) flags.push(ctx.spawn(roleName('LL.combine.flags[sm ', s), waitFlags(ctx, a, st, s)));
      yield ctx.join(flags);
      yield ctx.sleep(gridSyncUs(ctx.hardware));
      const tasks = [];
      for (let s = 0; s < S; s++) tasks.push(ctx.spawn(roleName('LL.combine.reduce[sm ', s), reduceSm(ctx, a, st, s)));
      yield ctx.join(tasks);
    }
  },
  finish(ctx) {
    return { sendEndUs: (ctx.state['ll'] as State).sendEndUs };
  },
});
