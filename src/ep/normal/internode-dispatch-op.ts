/**
 * @module
 * DeepEP's internode (two-hop) normal dispatch, role by role. A token bound for node m crosses
 * InfiniBand once, to the GPU with the same local index on m, which forwards it over NVLink to
 * every GPU of m that needs it. Per channel:
 * - `RDMASender` (7 warps of the sender SM): every 7th token of the channel each, copied into the
 *   local RDMA send buffer of every destination node once there is room (the head that node
 *   returns), committed in token order.
 * - `RDMASenderCoordinator`: posts chunked RDMA writes plus a remote tail increment, visiting
 *   destination nodes in a rotated order (`(i + channel + node) % nodes`) to soften incast.
 * - `RDMAAndNVLForwarder` (forwarder SM, one per local destination GPU): scans each source node's
 *   RDMA ring as it fills and forwards the tokens its GPU needs into that GPU's NVLink ring (each
 *   ring is shared by all source nodes: no per-node partition) in chunks, advancing its tail.
 * - `ForwarderCoordinator`: once every forwarder has passed a chunk of a source node's ring, returns
 *   those slots to the source (remote head increment), lazily, a chunk at a time.
 * - `NVLReceivers` (8 warps of the sender SM, one per forwarder): copy arrived tokens to the output
 *   rows (fixed by the source rank in each token's metadata and the channel) and return NVLink slots.
 * The receiver owns every tail and the sender every head, so each side polls only its own memory.
 */
import { QP_SLOTS } from '../../transport/protocol.js';
import { fail } from '../../errors.js';
import { defineOp } from '../../actors/op-registry.js';
import type { RankContext } from '../../sim/rank-context.js';
import type { RoleStep, Wait } from '../../sim/task.js';
import { CondSet } from './cond-set.js';
import { SERIES_NVL_RING, SERIES_RDMA_RING } from '../../sim/timeline.js';
import type { Region } from '../../transport/memory.js';
import { layoutOf, numChannels, notifyStride, ringNames, R_IN, R_NOTIFY, R_RECV, R_TOPK, type EpArgs } from '../ep-args.js';

import { channelRange, receiveOffsets } from './plan.js';
import { ROLE, SM_POST, SM_RECV, SM_SEND, SmClock } from '../sm-clock.js';
import { putSlots, rdmaAtomicAdd } from './slots.js';
import { combineRecordBytes } from '../records.js';
import { combineWarpsPerForwarder } from './ep-config.js';
import { RoleNames, roleKey } from './role-names.js';

const NM = ringNames('d');
const RDMA_SENDERS = new RoleNames(), RDMA_COORDINATORS = new RoleNames(), FORWARDERS = new RoleNames();
const FORWARDER_COORDINATORS = new RoleNames(), NVL_RECEIVERS = new RoleNames();

/**
 * Index helpers for the internode regions of one kernel. The NVLink ring of (channel, peer) is split
 * in `nvlParts` parts of `share` slots: one part shared by every source node in dispatch (DeepEP's
 * dispatch ring has no per-node partition), one part per source node in combine (DeepEP's combine
 * keeps "separate NVL buffers for different RDMA sources, to avoid deadlocks").
 */
export class InternodeLayout {
  constructor(readonly C: number, readonly N: number, readonly G: number, readonly share: number, readonly RB: number, readonly nvlParts: number) {}
  /** rdma ctrl: tail of the ring from source node m / head of my sends to node m. */
  rdmaTail(c: number, m: number): number { return (c * this.N + m) * 2; }
  rdmaHead(c: number, m: number): number { return (c * this.N + m) * 2 + 1; }
  rdmaSlot(c: number, m: number): number { return (c * this.N + m) * this.RB; }
  /** nvl ctrl: tail of data from local peer p (part `part`) / head of my forwarding to p. */
  nvlTail(c: number, p: number, part: number): number { return ((c * this.G + p) * this.nvlParts + part) * 2; }
  nvlHead(c: number, p: number, part: number): number { return ((c * this.G + p) * this.nvlParts + part) * 2 + 1; }
  nvlSlot(c: number, p: number, part: number): number { return ((c * this.G + p) * this.nvlParts + part) * this.share; }
  /** local counters. */
  staged(c: number, m: number): number { return c * this.N + m; }
  progress(c: number, m: number, j: number): number { return this.C * this.N + (c * this.N + m) * this.G + j; }
  /** The {@link ForwarderCoordinator}'s bell of channel c: a forwarder rings it when its progress is what the coordinator waits for. */
  coordinatorBell(c: number): number { return this.C * this.N + this.C * this.N * this.G + c; }
  /** combine's forwarder group of (c, m), a barrier: sub-warps through their chunk / chunks posted (the staged and first progress counters, unused by combine). */
  fwdArrived(c: number, m: number): number { return this.staged(c, m); }
  fwdPosted(c: number, m: number): number { return this.progress(c, m, 0); }
  /** meta flags: RDMA channel metadata from source node m / NVLink metadata from forwarder f. */
  rdmaMeta(c: number, m: number): number { return c * this.N + m; }
  nvlMeta(c: number, f: number): number { return this.C * this.N + c * this.G + f; }
}

/** DeepEP's internode dispatch warps per channel (two SMs): roles and counts. */
export const INTERNODE_DISPATCH_WARPS = Object.freeze({
  RDMASender: 7, RDMASenderCoordinator: 1, RDMAAndNVLForwarder: 8, ForwarderCoordinator: 1, NVLReceivers: 8,
});

export interface SourceStream {
  /** Tokens (source token ids) of source rank (m, l), channel c, bound for my node, in order. */
  tokens: Int32Array;
  /** Per local GPU j: 1 where the token goes to GPU j. */
  toGpu: Uint8Array[];
}

export interface SendNodes {
  off: Int32Array;
  nodes: Int32Array;
  pos: Int32Array;
}

export interface InternodePlan {
  L: InternodeLayout;
  rec: number;
  /** Sender: per channel, tokens in order with their destination nodes. */
  sendTokens: Int32Array[];
  /**
   * Sender: per channel, the destination nodes of its i-th token (ascending) are
   * `nodes[off[i]..off[i + 1])`, and `pos` at the same places its position in each node's stream.
   */
  sendNodes: SendNodes[];
  /** Sender: per channel and node, tokens bound there. */
  totals: Int32Array[];
  /** Forwarder: per channel and source node. */
  streams: SourceStream[][];
  counts: Int32Array;
  offsets: Int32Array;
  sendSm: SmClock[];
  fwdSm: SmClock[];
  postClock: SmClock[];
}

const D_TOKEN = 0; // the next token of this warp: room in each destination node's send buffer, staging
const D_COPIED = 1; // its copy has taken its time: commit it to each node in token order

/**
 * One of the 7 `RDMASender` warps of channel c: takes every 7th token of the channel, waits for room
 * in each destination node's send buffer, copies the token there, and commits it in token order
 * (the warps advance a shared tail in order, so the coordinator sees a contiguous prefix). An
 * explicit state record: the counters it waits on only grow, so a resumed step checks the same
 * condition again, finds it met, and goes on where the warp stood.
 */
class RDMASender implements RoleStep {
  private pc = D_TOKEN;
  private started = false;
  private i: number;
  /** The destination of the token being staged or committed (an index into the channel's node list). */
  private q = 0;
  private readonly ctrl: Region;
  private readonly local: Region;
  private readonly stage: Region | null;
  private readonly input: Region | null;

  constructor(private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: InternodePlan, private readonly c: number, private readonly w: number, private readonly warps: number) {
    this.i = w;
    this.ctrl = ctx.region(NM.rdmaCtrl);
    this.local = ctx.region(NM.local);
    this.stage = a.sizesOnly ? null : ctx.region(NM.rdmaStage);
    this.input = a.sizesOnly ? null : ctx.region(R_IN);
  }

  step(): Wait | null {
    const { ctx, st, c } = this;
    const { L, rec } = st;
    const RB = this.a.dispatch.rdmaBuffer;
    const toks = st.sendTokens[c]!;
    const { off, nodes, pos: poss } = st.sendNodes[c]!;
    if (!this.started) {
      this.started = true;
      // Before any token, the channel's metadata (start/end per destination) goes to every node it sends to.
      if (this.w === 0)
        for (let m = 0; m < L.N; m++)
          if (st.totals[c]![m]! > 0) ctx.atomicAdd(ctx.peerRegion(m * L.G + ctx.localIndex, NM.meta), L.rdmaMeta(c, ctx.node) * 4, 1);
      if (this.i < toks.length) this.q = off[this.i]!;
    }
    for (;;) {
      const i = this.i;
      if (i >= toks.length) return null;
      const q0 = off[i]!, q1 = off[i + 1]!;
      if (this.pc === D_TOKEN) {
        const t = toks[i]!;
        for (; this.q < q1; this.q++) {
          const q = this.q;
          const m = nodes[q]!;
          const p = poss[q]!;
          // Room in the send buffer for node m: its slots come back with the head m returns.
          if (p - this.ctrl.i32[L.rdmaHead(c, m)]! >= RB) return ctx.untilAtLeast(this.ctrl, L.rdmaHead(c, m), p + 1 - RB);
          const { stage, input } = this;
          if (stage && input) stage.u8.set(input.u8.subarray(t * rec, (t + 1) * rec), (L.rdmaSlot(c, m) + (p % RB)) * rec);
        }
        this.pc = D_COPIED;
        this.q = q0;
        return st.sendSm[c]!.sleepCopy(ctx, ROLE.RDMASender, (q1 - q0) * rec, 'hbm', 1);
      }
      for (; this.q < q1; this.q++) {
        const q = this.q;
        const m = nodes[q]!;
        const p = poss[q]!;
        if (this.local.i32[L.staged(c, m)]! < p) return ctx.untilAtLeast(this.local, L.staged(c, m), p);
        ctx.store(this.local, L.staged(c, m), p + 1);
      }
      this.i = i + this.warps;
      this.pc = D_TOKEN;
      if (this.i < toks.length) this.q = off[this.i]!;
    }
  }
}

/** Where an {@link RDMASenderCoordinator} stands. */
const C_ROUND = 0; // top of a round over the destination nodes
const C_SCAN = 1; // the round, at its i-th node
const C_POSTED = 2; // the post of node m's chunk has taken its time: put it
const C_DONE = 3;

/**
 * `RDMASenderCoordinator` (one warp per channel) as an explicit state record: round after round
 * over the destination nodes (starting at a channel- and node-dependent one), post to each node the
 * next whole chunk the senders have staged (or the rest at the end) when its RDMA ring has room for
 * it; when a round posts nothing, wait for a chunk to be staged, or for room where one is. Its waits
 * and steps are the generator's, in the same order.
 */
class RDMASenderCoordinator implements RoleStep {
  private pc = C_ROUND;
  private i = 0;
  private progressed = false;
  private remaining = 0;
  /** The chunk being posted: its node and size. */
  private m = 0;
  private k = 0;
  private readonly sent: Int32Array;
  private readonly totals: Int32Array;
  private readonly waits = new CondSet();
  private readonly ctrl: Region;
  private readonly local: Region;
  private readonly stage: Region | null;

  constructor(private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: InternodePlan, private readonly c: number) {
    const L = st.L;
    this.ctrl = ctx.region(NM.rdmaCtrl);
    this.local = ctx.region(NM.local);
    this.stage = a.sizesOnly ? null : ctx.region(NM.rdmaStage);
    this.totals = st.totals[c]!;
    this.sent = new Int32Array(L.N);
    for (let m = 0; m < L.N; m++) if (this.totals[m]! > 0) this.remaining++;
  }

  step(): Wait | null {
    const { ctx, st, c, sent, totals, ctrl, local } = this;
    const L = st.L;
    const { rdmaChunk: RC, rdmaBuffer: RB } = this.a.dispatch;
    const n = ctx.node;
    for (;;) {
      switch (this.pc) {
        case C_ROUND:
          if (this.remaining <= 0) {
            this.pc = C_DONE;
            return null;
          }
          this.progressed = false;
          this.i = 0;
          this.pc = C_SCAN;
          break;
        case C_SCAN: {
          // Node (i + c + n) % N: from the rotation's start, wrapping once.
          const from = (c + n) % L.N;
          for (; this.i < L.N; this.i++) {
            const m = from + this.i < L.N ? from + this.i : from + this.i - L.N;
            const total = totals[m]!;
            if (sent[m] === total) continue;
            const staged = local.i32[L.staged(c, m)]!;
            const k = Math.min(RC, staged - sent[m]!);
            if (k <= 0 || (k < RC && staged < total)) continue;
            if (sent[m]! + k - ctrl.i32[L.rdmaHead(c, m)]! > RB) continue;
            this.m = m;
            this.k = k;
            // Two work requests (the write and the tail atomic) to another node; to its own, a local copy.
            if (m !== n) {
              this.pc = C_POSTED;
              return st.postClock[c]!.sleepPost(ctx, ROLE.RDMASenderCoordinator, 2);
            }
            this.postChunk();
          }
          this.pc = C_ROUND;
          if (this.progressed || this.remaining === 0) break;
          // Nothing could be posted: wait for a chunk to be staged, or for room where one is.
          const waits = this.waits.clear();
          for (let m = 0; m < L.N; m++) {
            const total = totals[m]!;
            if (sent[m] === total) continue;
            const k = Math.min(RC, total - sent[m]!);
            const staged = local.i32[L.staged(c, m)]!;
            if (staged < sent[m]! + k) waits.add(2 * m, local, L.staged(c, m), sent[m]! + k);
            else waits.add(2 * m + 1, ctrl, L.rdmaHead(c, m), sent[m]! + k - RB);
          }
          return waits.wait;
        }
        case C_POSTED:
          this.postChunk();
          this.i++;
          this.pc = C_SCAN;
          break;
        default:
          return null;
      }
    }
  }

  /** Put node m's chunk of `k` records into its RDMA ring (with the tail), on this channel's queue pair. */
  private postChunk(): void {
    const { ctx, st, c, sent, m, k } = this;
    const { L, rec } = st;
    const RB = this.a.dispatch.rdmaBuffer;
    const n = ctx.node;
    const dst = m * L.G + ctx.localIndex;
    const ring = this.a.sizesOnly ? null : ctx.peerRegion(dst, NM.rdmaRing);
    putSlots(ctx, dst, ring, L.rdmaSlot(c, n), this.stage, L.rdmaSlot(c, m), sent[m]! % RB, k, RB, rec, ctx.peerRegion(dst, NM.rdmaCtrl), L.rdmaTail(c, n), c % QP_SLOTS);
    sent[m]! += k;
    if (sent[m] === this.totals[m]) this.remaining--;
    this.progressed = true;
  }
}

const W_META = 0; // each source node's channel metadata, node by node
const W_ROUND = 1; // top of a round over the source nodes
const W_SCAN = 2; // the round, at source node `m`
const W_COPIED = 3; // a chunk's copy has taken its time: put it, then go on with the round

/**
 * `RDMAAndNVLForwarder` for local GPU j, an explicit state record: round after round over the source
 * nodes, forward from each one's RDMA ring the tokens GPU j needs into the NVLink ring they share
 * (a chunk at a time while there is room), advance past the others, and publish its progress; when a
 * round moves nothing, wait for data where a ring is drained or for room in the NVLink ring. Its
 * waits and steps are the generator's, in the same order.
 */
class RDMAAndNVLForwarder implements RoleStep {
  private pc = W_META;
  private m = 0;
  private progressed = false;
  private remaining = 0;
  private sent = 0;
  /** The chunk being copied: the scan position after it, its size, and its first slot. */
  private p = 0;
  private k = 0;
  private first = 0;
  private readonly scanned: Int32Array;
  /**
   * Per source node: its stream's tokens, and GPU j's flags over them (1: forward). Read from the
   * plan once here: the scan visits every source node per round, and the plan's chain (stream
   * record, its arrays, their lengths) cost a cache miss per node and round at EP64.
   */
  private readonly totals: Int32Array;
  private readonly flags: Uint8Array[];
  private readonly waits = new CondSet();
  private readonly dst: number;
  private readonly rctrl: Region;
  private readonly nctrl: Region;
  private readonly local: Region;
  private readonly rring: Region | null;
  private readonly stage: Region | null;
  private readonly dring: Region | null;
  private readonly dctrl: Region;

  constructor(
    private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: InternodePlan, private readonly c: number, private readonly j: number,
    private readonly lagWait: Int32Array,
  ) {
    const L = st.L;
    this.pc = W_META; // stored again: mutable from the first forwarder on (see sim/field-init.ts)
    this.dst = ctx.node * L.G + j;
    this.rctrl = ctx.region(NM.rdmaCtrl);
    this.nctrl = ctx.region(NM.nvlCtrl);
    this.local = ctx.region(NM.local);
    this.rring = a.sizesOnly ? null : ctx.region(NM.rdmaRing);
    this.stage = a.sizesOnly ? null : ctx.region(NM.nvlStage);
    this.dring = a.sizesOnly ? null : ctx.peerRegion(this.dst, NM.nvlRing);
    this.dctrl = ctx.peerRegion(this.dst, NM.nvlCtrl);
    this.scanned = new Int32Array(L.N);
    this.totals = new Int32Array(L.N);
    this.flags = new Array<Uint8Array>(L.N);
    for (let m = 0; m < L.N; m++) {
      const s = st.streams[c]![m]!;
      this.totals[m] = s.tokens.length;
      this.flags[m] = s.toGpu[j]!;
      if (s.tokens.length > 0) this.remaining++;
    }
  }

  step(): Wait | null {
    const { ctx, st, c, j, dst } = this;
    const { L, rec } = st;
    const { nvlChunk: NC, rdmaBuffer: RB } = this.a.dispatch;
    // One ring per (channel, peer), shared by the tokens of every source node.
    const B = L.share;
    const me = ctx.localIndex;
    const { scanned, totals } = this;
    for (;;) {
      switch (this.pc) {
        case W_META: {
          // Each source node's channel metadata before its ring is read; then this forwarder's own
          // prefix start/end per source node to its receiver.
          while (this.m < L.N) {
            const m = this.m++;
            if (totals[m]! > 0) return ctx.untilAtLeast(ctx.region(NM.meta), L.rdmaMeta(c, m), 1);
          }
          ctx.atomicAdd(ctx.peerRegion(dst, NM.meta), L.nvlMeta(c, me) * 4, 1);
          this.pc = W_ROUND;
          break;
        }
        case W_ROUND:
          if (this.remaining <= 0) return null;
          this.progressed = false;
          this.m = 0;
          this.pc = W_SCAN;
          break;
        case W_SCAN: {
          const { rctrl, nctrl, stage, rring } = this;
          for (; this.m < L.N; this.m++) {
            const m = this.m;
            const total = totals[m]!;
            if (scanned[m] === total) continue;
            const tail = rctrl.i32[L.rdmaTail(c, m)]!;
            if (tail <= scanned[m]!) continue;
            const flags = this.flags[m]!;
            const space = B - (this.sent - nctrl.i32[L.nvlHead(c, j, 0)]!);
            // Advance past tokens for other GPUs; take up to a chunk of ours while there is room.
            let p = scanned[m]!;
            let k = 0;
            const first = this.sent;
            while (p < tail && k < NC) {
              if (flags[p]) {
                if (k >= space) break;
                if (stage && rring) stage.u8.set(rring.u8.subarray((L.rdmaSlot(c, m) + (p % RB)) * rec, (L.rdmaSlot(c, m) + (p % RB) + 1) * rec), (L.nvlSlot(c, j, 0) + ((first + k) % B)) * rec);
                k++;
              }
              p++;
            }
            if (p === scanned[m] && k === 0) continue;
            if (k > 0) {
              this.p = p;
              this.k = k;
              this.first = first;
              this.pc = W_COPIED;
              return st.fwdSm[c]!.sleepCopy(ctx, ROLE.RDMAAndNVLForwarder, k * rec, dst === ctx.rank ? 'hbm' : 'nvlink', 1, 1, 1);
            }
            this.passed(m, p, total);
          }
          this.pc = W_ROUND;
          if (this.progressed || this.remaining === 0) break;
          // Stuck: wait for data where the RDMA ring is drained, or for room in the shared NVLink ring.
          const waits = this.waits.clear();
          let full = false;
          for (let m = 0; m < L.N; m++) {
            if (scanned[m] === totals[m]) continue;
            if (rctrl.i32[L.rdmaTail(c, m)]! <= scanned[m]!) waits.add(m, rctrl, L.rdmaTail(c, m), scanned[m]! + 1);
            else full = true;
          }
          if (full) waits.add(L.N, nctrl, L.nvlHead(c, j, 0), this.sent + 1 - B);
          return waits.wait;
        }
        default: {
          const m = this.m;
          putSlots(ctx, dst, this.dring, L.nvlSlot(c, me, 0), this.stage, L.nvlSlot(c, j, 0), this.first % B, this.k, B, rec, this.dctrl, L.nvlTail(c, me, 0));
          this.sent += this.k;
          this.passed(m, this.p, totals[m]!);
          this.m = m + 1;
          this.pc = W_SCAN;
        }
      }
    }
  }

  /**
   * The scan of source node m is at p: publish it (the coordinator returns RDMA slots from it), and
   * ring the coordinator's bell when this is the progress it waits for.
   */
  private passed(m: number, p: number, total: number): void {
    this.scanned[m] = p;
    if (p === total) this.remaining--;
    const L = this.st.L;
    this.ctx.store(this.local, L.progress(this.c, m, this.j), p);
    const lw = this.lagWait;
    if (lagMet(lw, m, this.j, p)) {
      lw[LW_WAITING] = 0;
      this.ctx.addLocal(this.local, L.coordinatorBell(this.c), 1);
    }
    this.progressed = true;
  }
}

/** Where a {@link ForwarderCoordinator} stands. */
const FC_ROUND = 0; // top of a round: sample the rings, then look at every source node
const FC_NODE = 1; // the round, at source node m
const FC_POSTED = 2; // the post of node m's head has taken its time: add it
const FC_DONE = 3;

/**
 * What a channel's {@link ForwarderCoordinator} waits for, shared with the channel's forwarders (one
 * `Int32Array` of 1 + 2N): at {@link LW_WAITING} 1 while it waits; per source node m, at
 * {@link lagOf}(m) the forwarder whose progress on m it waits for (-1: none, the node is done or not
 * looked at yet) and at {@link lagTarget}(m) the progress that wakes it. The forwarder that reaches
 * it rings the coordinator's bell (a local counter) right after storing that progress, which is
 * where the store itself woke the coordinator when it waited for any of N progress counters: the
 * same wake at the same place, with one counter watched instead of N.
 */
export const LW_WAITING = 0;
export function lagOf(m: number): number {
  return 1 + 2 * m;
}
export function lagTarget(m: number): number {
  return 2 + 2 * m;
}
/** A channel's wait of its coordinator, for `nodes` source nodes: not waiting, no node waited for. */
export function lagWaitFor(nodes: number): Int32Array {
  const lw = new Int32Array(1 + 2 * nodes);
  for (let m = 0; m < nodes; m++) lw[lagOf(m)] = -1;
  return lw;
}
/** Whether forwarder j's progress p on source node m is what the waiting coordinator waits for. */
export function lagMet(lw: Int32Array, m: number, j: number, p: number): boolean {
  return lw[LW_WAITING] === 1 && lw[lagOf(m)] === j && p >= lw[lagTarget(m)]!;
}

/**
 * `ForwarderCoordinator` (one warp per channel) as an explicit state record: round after round,
 * return to each source node the RDMA slots every local forwarder is through, lazily, whole chunks
 * at a time (the rest once every forwarder is through the stream), posting the head as a work
 * request to another node; then wait until the slowest forwarder of a node passes its next chunk
 * boundary. Its waits and steps are the generator's, in the same order.
 */
class ForwarderCoordinator implements RoleStep {
  private pc = FC_ROUND;
  private m = 0;
  /** Node m's slots to return, its slowest forwarder and that forwarder's progress. */
  private k = 0;
  private lag = 0;
  private min = 0;
  private remaining = 0;
  private readonly returned: Int32Array;
  /** RDMA slots of each source node not returned yet, last sampled. */
  private readonly held: Int32Array;
  /**
   * Per source node: the progress of its slowest forwarder when it was found. While that
   * forwarder's progress is still this, it is still the slowest (progress only grows, and the
   * first of the slowest is taken), so the node's round changes nothing: no look at the other GPUs.
   */
  private readonly lagSeen: Int32Array;
  /** Per source node: its stream's tokens (read from the plan once, as the forwarder's). */
  private readonly totals: Int32Array;
  private readonly local: Region;
  private readonly rctrl: Region;

  constructor(private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: InternodePlan, private readonly c: number, private readonly lagWait: Int32Array) {
    const L = st.L;
    this.local = ctx.region(NM.local);
    this.totals = new Int32Array(L.N);
    for (let m = 0; m < L.N; m++) this.totals[m] = st.streams[c]![m]!.tokens.length;
    this.returned = new Int32Array(L.N);
    for (let m = 0; m < L.N; m++) if (this.totals[m]! > 0) this.remaining++;
    this.rctrl = ctx.region(NM.rdmaCtrl);
    this.held = new Int32Array(L.N);
    this.lagSeen = new Int32Array(L.N);
  }

  step(): Wait | null {
    const { ctx, st, c, returned, held, totals, local, lagWait, lagSeen } = this;
    const L = st.L;
    const RC = this.a.dispatch.rdmaChunk;
    for (;;) {
      switch (this.pc) {
        case FC_ROUND:
          if (this.remaining <= 0) {
            // Every slot is returned: the rings are empty.
            for (let m = 0; m < L.N; m++) ctx.sample(SERIES_RDMA_RING, -held[m]!);
            this.pc = FC_DONE;
            return null;
          }
          for (let m = 0; m < L.N; m++) {
            const now = this.rctrl.i32[L.rdmaTail(c, m)]! - returned[m]!;
            ctx.sample(SERIES_RDMA_RING, now - held[m]!);
            held[m] = now;
          }
          this.m = 0;
          this.pc = FC_NODE;
          break;
        case FC_NODE: {
          for (; this.m < L.N; this.m++) {
            const m = this.m;
            const total = totals[m]!;
            if (returned[m] === total) continue;
            // Node m's progress counters, one per local forwarder j, side by side.
            const at = L.progress(c, m, 0);
            const progress = local.i32;
            // Its slowest forwarder has not moved: it still waits for the same progress.
            const was = lagWait[lagOf(m)]!;
            if (was >= 0 && progress[at + was]! === lagSeen[m]) continue;
            let min = total;
            let lag = 0;
            for (let j = 0; j < L.G; j++) {
              const p = progress[at + j]!;
              if (p < min) {
                min = p;
                lag = j;
              }
            }
            this.lag = lag;
            this.min = min;
            // Lazily, whole chunks at a time (the rest once every forwarder is through the stream).
            const k = min < total ? min - returned[m]! - ((min - returned[m]!) % RC) : min - returned[m]!;
            if (k > 0) {
              this.k = k;
              if (m !== ctx.node) {
                this.pc = FC_POSTED;
                return st.postClock[c]!.sleepPost(ctx, ROLE.ForwarderCoordinator, 1);
              }
              if (this.returnHead(m, total)) continue;
            }
            this.waitForLag(m, total);
          }
          this.pc = FC_ROUND;
          if (this.remaining > 0 && !this.lagReached()) {
            lagWait[LW_WAITING] = 1;
            const bell = L.coordinatorBell(c);
            return ctx.untilAtLeast(local, bell, local.i32[bell]! + 1);
          }
          break;
        }
        case FC_POSTED: {
          const m = this.m;
          const total = totals[m]!;
          if (!this.returnHead(m, total)) this.waitForLag(m, total);
          this.m++;
          this.pc = FC_NODE;
          break;
        }
        default:
          return null;
      }
    }
  }

  /** Return node m's `k` slots; true when that was the stream's last. */
  private returnHead(m: number, total: number): boolean {
    const { ctx, c } = this;
    const L = this.st.L;
    const src = m * L.G + ctx.localIndex;
    rdmaAtomicAdd(ctx, ctx.peerRegion(src, NM.rdmaCtrl), L.rdmaHead(c, ctx.node) * 4, this.k, c % QP_SLOTS);
    this.returned[m]! += this.k;
    if (this.returned[m] === total) {
      this.remaining--;
      this.lagWait[lagOf(m)] = -1;
      return true;
    }
    return false;
  }

  /** Wake when the slowest forwarder passes node m's next chunk boundary. */
  private waitForLag(m: number, total: number): void {
    const lw = this.lagWait;
    lw[lagOf(m)] = this.lag;
    lw[lagTarget(m)] = Math.min(this.returned[m]! + this.a.dispatch.rdmaChunk, total);
    this.lagSeen[m] = this.min;
  }

  /**
   * Whether a forwarder already passed what the coordinator would wait for (a progress made while
   * it posted, earlier in the round): then it goes on with its next round at once, as a wait
   * already met does.
   */
  private lagReached(): boolean {
    const { lagWait: lw, st, c } = this;
    const L = st.L;
    const progress = this.local.i32;
    for (let m = 0; m < L.N; m++) {
      const lag = lw[lagOf(m)]!;
      if (lag >= 0 && progress[L.progress(c, m, lag)]! >= lw[lagTarget(m)]!) return true;
    }
    return false;
  }
}

const R_META = 0; // before the ring: the forwarder's per-source-node prefix start/end
const R_TAIL = 1; // top of the loop: rows past what is consumed
const R_READ = 2; // rows are there: read the tail and copy up to it
const R_COPIED = 3; // the copy out of the ring has taken its time

/**
 * `NVLReceivers` warp for forwarder f: drains the ring f shares among all source nodes; each token's
 * source rank (from its record's metadata, as DeepEP's receivers read it) gives its output row.
 * An explicit state record (one of the most resumed roles): per step, wait for rows past what it
 * consumed, copy what has arrived (SM time), write the rows out, and return NVLink slots a chunk at
 * a time (all at the end). Its waits are yielded where the generator yielded them.
 */
class NVLReceivers implements RoleStep {
  private pc = R_META;
  private consumed = 0;
  private returned = 0;
  /** The tail the current copy drains to (read before it takes its time, as the warp does). */
  private tail = 0;
  private readonly total: number;
  private readonly perSource: Int32Array;
  private readonly nctrl: Region;
  private readonly ring: Region | null;
  private readonly out: Region | null;
  private readonly fwd: Region;

  constructor(private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: InternodePlan, private readonly c: number, private readonly f: number) {
    const L = st.L;
    const stride = notifyStride(a, ctx.numRanks);
    this.nctrl = ctx.region(NM.nvlCtrl);
    this.ring = a.sizesOnly ? null : ctx.region(NM.nvlRing);
    this.out = a.sizesOnly ? null : ctx.region(R_RECV);
    this.fwd = ctx.peerRegion(ctx.node * L.G + f, NM.nvlCtrl);
    this.tail = 0; // stored again: mutable from the first receiver on (see sim/field-init.ts)
    this.perSource = new Int32Array(L.N);
    let total = 0;
    for (let m = 0; m < L.N; m++) total += st.counts[(m * L.G + f) * stride + c]!;
    this.total = total;
  }

  step(): Wait | null {
    const { ctx, st, c, f } = this;
    const { L, rec } = st;
    const nctrl = this.nctrl;
    for (;;) {
      switch (this.pc) {
        case R_META:
          this.pc = R_TAIL;
          // The forwarder's per-source-node prefix start/end comes before its ring is read.
          if (this.total > 0) return ctx.untilAtLeast(ctx.region(NM.meta), L.nvlMeta(c, f), 1);
          break;
        case R_TAIL: {
          if (this.consumed >= this.total) return null;
          this.pc = R_READ;
          if (nctrl.i32[L.nvlTail(c, f, 0)]! <= this.consumed) return ctx.untilAtLeast(nctrl, L.nvlTail(c, f, 0), this.consumed + 1);
          break;
        }
        case R_READ: {
          const tail = (this.tail = nctrl.i32[L.nvlTail(c, f, 0)]!);
          const k = tail - this.consumed;
          ctx.sample(SERIES_NVL_RING, k);
          this.pc = R_COPIED;
          return st.sendSm[c]!.sleepCopy(ctx, ROLE.NVLReceivers, k * rec, 'hbm', 1);
        }
        default: {
          const tail = this.tail, consumed = this.consumed;
          ctx.sample(SERIES_NVL_RING, -(tail - consumed));
          const { ring, out } = this;
          if (ring && out) {
            const B = L.share, C = L.C;
            const meta = layoutOf(this.a).metaOffset;
            for (let i = consumed; i < tail; i++) {
              const o = (L.nvlSlot(c, f, 0) + (i % B)) * rec;
              const u = ring.u8;
              const s = u[o + meta]! | (u[o + meta + 1]! << 8) | (u[o + meta + 2]! << 16) | (u[o + meta + 3]! << 24);
              const m = (s / L.G) | 0;
              out.u8.set(u.subarray(o, o + rec), (st.offsets[s * C + c]! + this.perSource[m]!++) * rec);
            }
          }
          this.consumed = tail;
          if (tail - this.returned >= this.a.dispatch.nvlChunk || tail === this.total) {
            ctx.atomicAdd(this.fwd, L.nvlHead(c, ctx.localIndex, 0) * 4, tail - this.returned);
            this.returned = tail;
          }
          this.pc = R_TAIL;
        }
      }
    }
  }
}

/**
 * The masks of the operation being prepared: its arguments, its id, and per source rank's routing
 * region the masks read from it. Sound as a cache, looked at again for issue 14:
 * - Within one operation id the routing cannot change: a host prepares all its ranks in one
 *   synchronous loop before any task of the operation runs, and no one writes a routing region
 *   while an operation runs (the caller writes it before, and awaits the operation).
 * - A buffer reused with new contents comes with a new operation (a new id, or new arguments),
 *   which starts afresh; no id (outside an operation) caches nothing.
 * - Every mask depends only on the source's buffer and the operation's arguments (not on the
 *   reading rank), so serving one rank's masks to another rank of the host is exact.
 * - Memory: the operation's task calls {@link releaseRoutingMasks} at its start (every prepare of
 *   the host is done by then), so the masks live only while the host prepares the operation.
 */
let masksOf: { args: EpArgs; opId: number; bySource: Map<ArrayBufferLike, Uint8Array | Uint32Array> } | null = null;

/**
 * Source rank s's routing as masks (a byte each up to 8 GPUs per node): `masks[n * Ts + t]` has bit j set when its token t goes to GPU j
 * of node n. Every rank of node n reads the tokens source s sends to n; a host holds N/2 such
 * ranks per source (each rank reads N sources), so the routing is read once per host and operation
 * here instead of once per rank.
 */
/** Drop the masks held for the operation being prepared (its plans are built). */
export function releaseRoutingMasks(): void {
  masksOf = null;
}

function routingMasks(ctx: RankContext, a: EpArgs, s: number, Ts: number, N: number, G: number): Uint8Array | Uint32Array {
  if (G > 32) fail('E_ARGUMENT', `internode plan: ${G} GPUs per node do not fit a 32-bit mask`, { gpusPerNode: G });
  const opId = ctx.group?.opId ?? -1;
  if (!masksOf || masksOf.args !== a || masksOf.opId !== opId || opId < 0) masksOf = { args: a, opId, bySource: new Map() };
  const buf = ctx.peerRegion(s, R_TOPK).buffer;
  const had = opId >= 0 ? masksOf.bySource.get(buf) : undefined;
  if (had && had.length === N * Ts) return had;
  const K = a.topk;
  const E = a.numExperts;
  const epr = E / ctx.numRanks;
  const stopk = new Int32Array(buf, 0, Ts * K);
  const masks = G <= 8 ? new Uint8Array(N * Ts) : new Uint32Array(N * Ts);
  for (let t = 0; t < Ts; t++) {
    for (let q = 0; q < K; q++) {
      const e = stopk[t * K + q]!;
      if (e < 0) continue;
      // Refused at the boundary (dispatch's E_ROUTING); here too, rather than a node past the last.
      if (e >= E) badExpert(s, t, e, E);
      const r = (e / epr) | 0;
      masks[((r / G) | 0) * Ts + t]! |= 1 << (r % G);
    }
  }
  if (opId >= 0) masksOf.bySource.set(buf, masks);
  return masks;
}

/**
 * Tokens t0..t1 of a source's channel bound for one node (`masks[at + t]` non-zero), and per local
 * GPU j whether it needs each one. A function of its own: called per (source, channel), V8
 * optimises it after a few calls, where the loop inside one long plan function ran unoptimised.
 */
function sourceStream(masks: Uint8Array | Uint32Array, at: number, t0: number, t1: number, G: number): SourceStream {
  const W = t1 - t0;
  const tl = new Int32Array(W);
  // Per local GPU j, its flags at [j * W, (j + 1) * W) of one buffer.
  const flags = new Uint8Array(G * W);
  let k = 0;
  for (let t = t0; t < t1; t++) {
    const mk = masks[at + t]!;
    if (mk === 0) continue;
    // Each set bit (lowest first): GPU j needs the token.
    for (let b = mk; b !== 0; b &= b - 1) flags[(31 - Math.clz32(b & -b)) * W + k] = 1;
    tl[k++] = t;
  }
  const toGpu: Uint8Array[] = new Array(G);
  for (let j = 0; j < G; j++) toGpu[j] = flags.subarray(j * W, j * W + k);
  return { tokens: tl.subarray(0, k), toGpu };
}

/**
 * Sender side of one channel (tokens t0..t1 of this rank): the tokens with a destination node, their
 * destination nodes ascending with each one's position in that node's stream, and the tokens per
 * node. A function of its own, as {@link sourceStream}. `seen` (per node, the last token that
 * counted it) is shared across channels.
 */
function senderChannel(
  rank: number, topk: Int32Array, t0: number, t1: number, K: number, N: number, nodeOfE: Int32Array, seen: Int32Array,
): { tokens: Int32Array; nodes: SendNodes; totals: Int32Array } {
  const E = nodeOfE.length;
  const tl = new Int32Array(t1 - t0);
  const off = new Int32Array(t1 - t0 + 1);
  const nodes = new Int32Array((t1 - t0) * Math.min(K, N));
  const pos = new Int32Array(nodes.length);
  const tot = new Int32Array(N);
  let k = 0;
  let q1 = 0;
  for (let t = t0; t < t1; t++) {
    // The token's destination nodes, ascending (insertion into its slice of `nodes`).
    const q0 = q1;
    for (let q = 0; q < K; q++) {
      const e = topk[t * K + q]!;
      if (e < 0) continue;
      // An id past the experts would name a node past the last (and write outside seen and tot):
      // dispatch refuses it at the boundary (E_ROUTING); the plan refuses it too.
      if (e >= E) badExpert(rank, t, e, E);
      const m = nodeOfE[e]!;
      if (seen[m] === t) continue;
      seen[m] = t;
      let j = q1++;
      while (j > q0 && nodes[j - 1]! > m) {
        nodes[j] = nodes[j - 1]!;
        j--;
      }
      nodes[j] = m;
      tot[m]!++;
    }
    if (q1 === q0) continue;
    for (let q = q0; q < q1; q++) pos[q] = tot[nodes[q]!]! - 1;
    tl[k++] = t;
    off[k] = q1;
  }
  // Views of the used prefixes (the plan only reads them): no second copy per operation.
  return { tokens: tl.subarray(0, k), nodes: { off: off.subarray(0, k + 1), nodes: nodes.subarray(0, q1), pos: pos.subarray(0, q1) }, totals: tot };
}

/** An expert id outside [-1, E) in rank `rank`'s routing (token t). */
function badExpert(rank: number, t: number, e: number, E: number): never {
  fail('E_ROUTING', `internode plan: rank ${rank}'s token ${t} names expert ${e}, outside [-1, ${E})`, { argument: `topkIdx[${rank}]`, value: e });
}

/** Build the per-rank plan: what this rank sends, forwards and receives (combine reuses it). */
export function internodePlan(ctx: RankContext, a: EpArgs, kernel: 'd' | 'c'): InternodePlan {
  const R = ctx.numRanks;
  const G = ctx.gpusPerNode;
  const N = R / G;
  const C = numChannels(a.dispatch);
  const epr = a.numExperts / R;
  const T = a.numTokens[ctx.rank]!;
  // Read once: the argument object's fields cost a lookup each inside the per-token loops.
  const K = a.topk;
  const cfg = kernel === 'd' ? a.dispatch : a.combine;
  const parts = kernel === 'd' ? 1 : N;
  const L = new InternodeLayout(C, N, G, cfg.nvlBuffer / parts, cfg.rdmaBuffer, parts);
  const topk = new Int32Array(ctx.region(R_TOPK).buffer, 0, T * a.topk);
  // Per expert id: its node (no division per routed slot).
  const E = a.numExperts;
  const nodeOfE = new Int32Array(E);
  for (let e = 0; e < E; e++) nodeOfE[e] = (((e / epr) | 0) / G) | 0;
  const sendTokens: Int32Array[] = [];
  const sendNodes: SendNodes[] = [];
  const totals: Int32Array[] = [];
  const seen = new Int32Array(N).fill(-1);
  for (let c = 0; c < C; c++) {
    const [t0, t1] = channelRange(T, C, c);
    const ch = senderChannel(ctx.rank, topk, t0, t1, K, N, nodeOfE, seen);
    sendTokens.push(ch.tokens);
    sendNodes.push(ch.nodes);
    totals.push(ch.totals);
  }
  // Forwarder streams: what the same-index GPU of every node sends to this node, read from its
  // routing (the metadata every record carries), as per-token GPU masks per node (routingMasks).
  const streams: SourceStream[][] = Array.from({ length: C }, () => []);
  const n = ctx.node;
  for (let m = 0; m < N; m++) {
    const s = m * G + ctx.localIndex;
    const Ts = a.numTokens[s]!;
    const masks = routingMasks(ctx, a, s, Ts, N, G);
    for (let c = 0; c < C; c++) {
      const [t0, t1] = channelRange(Ts, C, c);
      streams[c]!.push(sourceStream(masks, n * Ts, t0, t1, G));
    }
  }
  const counts = Int32Array.from(ctx.region(R_NOTIFY).i32);
  return {
    L, rec: kernel === 'd' ? layoutOf(a).bytes : combineRecordBytes(a.hidden), sendTokens, sendNodes, totals, streams, counts,
    offsets: receiveOffsets(counts, R, C, notifyStride(a, R)).offsets,
    // Copying warps per SM: dispatch 7 RDMASender + 8 NVLReceivers / 8 forwarders; combine 8
    // NVLSender (the receivers reduce) / num_nodes x warps_per_forwarder forwarders (DeepEP's
    // kNumForwarders: they reduce; their posts are the NIC's).
    sendSm: Array.from({ length: C }, (_, c) => new SmClock(c, SM_SEND, kernel === 'd' ? INTERNODE_DISPATCH_WARPS.RDMASender + INTERNODE_DISPATCH_WARPS.NVLReceivers : 8)),
    fwdSm: Array.from({ length: C }, (_, c) => new SmClock(c, SM_RECV, kernel === 'd' ? INTERNODE_DISPATCH_WARPS.RDMAAndNVLForwarder : N * combineWarpsPerForwarder(N))),
    postClock: Array.from({ length: C }, (_, c) => new SmClock(c, SM_POST)),
  };
}

defineOp<EpArgs>({
  name: 'ep.dispatch.internode',
  prepare(ctx, a) {
    ctx.state['dispatch'] = internodePlan(ctx, a, 'd');
  },
  *task(ctx, a) {
    // Every rank of this host is prepared: the routing masks have served their plans.
    releaseRoutingMasks();
    // The kernel's launch (its own fixed cost, before it runs on the GPU).
    yield ctx.sleep(ctx.hardware.kernelLaunchUs);
    const st = ctx.state['dispatch'] as InternodePlan;
    const tasks = [];
    for (let c = 0; c < st.L.C; c++) {
      const senders = INTERNODE_DISPATCH_WARPS.RDMASender;
      for (let w = 0; w < senders; w++) tasks.push(ctx.spawn(RDMA_SENDERS.get(roleKey(c, w)) ?? RDMA_SENDERS.set(roleKey(c, w), `RDMASender[${c}.${w}]`), new RDMASender(ctx, a, st, c, w, senders)));
      tasks.push(ctx.spawn(RDMA_COORDINATORS.get(c) ?? RDMA_COORDINATORS.set(c, `RDMASenderCoordinator[${c}]`), new RDMASenderCoordinator(ctx, a, st, c)));
      const lagWait = lagWaitFor(st.L.N);
      for (let j = 0; j < st.L.G; j++) tasks.push(ctx.spawn(FORWARDERS.get(roleKey(c, j)) ?? FORWARDERS.set(roleKey(c, j), `RDMAAndNVLForwarder[${c}->${j}]`), new RDMAAndNVLForwarder(ctx, a, st, c, j, lagWait)));
      tasks.push(ctx.spawn(FORWARDER_COORDINATORS.get(c) ?? FORWARDER_COORDINATORS.set(c, `ForwarderCoordinator[${c}]`), new ForwarderCoordinator(ctx, a, st, c, lagWait)));
      for (let f = 0; f < st.L.G; f++) tasks.push(ctx.spawn(NVL_RECEIVERS.get(roleKey(c, f)) ?? NVL_RECEIVERS.set(roleKey(c, f), `NVLReceivers[${c}<-${f}]`), new NVLReceivers(ctx, a, st, c, f)));
    }
    yield ctx.join(tasks);
    // The kernel ends with its warps; work requests its NIC still holds (a doorbell, a head
    // returned last) finish within the operation but are not kernel time. From the operation's
    // start, on its own clock (a duration: exact whatever ran before).
    ctx.setResult({ kernelEndUs: ctx.opTimeUs });
  },
});
