/**
 * @module
 * DeepEP's internode normal combine, the mirror of the two-hop dispatch. Per channel:
 * - `NVLSender` (on every expert GPU, one per forwarder): pushes the rows it received from each
 *   source back over NVLink to the GPU of its node with the source's local index.
 * - `NVLAndRDMAForwarder` (`max(24 / num_nodes, 1)` warps per source node, each its own role
 *   instance): the group walks that source's tokens in dispatch order, a chunk at a time; each warp
 *   waits for every local GPU that held one of its tokens, reduces the node's contributions in FP32
 *   to one BF16 row, and the last warp posts the chunk as an RDMA write to the source (crossing IB once).
 * - `RDMAReceiver` (on the source): walks its tokens in order, waits for every node that held a
 *   token, reduces across nodes in FP32, writes BF16 (plus the bias), and returns RDMA slots lazily.
 * Heads flow back as in dispatch: every side polls only its own memory.
 */
import { QP_SLOTS } from '../../transport/protocol.js';
import { defineOp } from '../../actors/op-registry.js';
import type { RankContext } from '../../sim/rank-context.js';
import type { RoleStep, Wait } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { ringNames, R_COMBINE_BIAS, R_COMBINE_IN, R_COMBINE_OUT, notifyStride, type EpArgs } from '../ep-args.js';
import { toBF16Bits } from '../../kernels/bf16.js';
import { SERIES_NVL_RING, SERIES_RDMA_RING } from '../../sim/timeline.js';
import { internodePlan, releaseRoutingMasks, type InternodePlan } from './internode-dispatch-op.js';
import { putSlots, rdmaAtomicAdd } from './slots.js';
import { RowAccumulator } from '../reduce-rows.js';
import { combineWarpsPerForwarder } from './ep-config.js';
import { RoleNames, roleKey } from './role-names.js';
import { ROLE } from '../sm-clock.js';

const NM = ringNames('c');
const NVL_SENDERS = new RoleNames(), FORWARDERS = new RoleNames(), RECEIVERS = new RoleNames();

/**
 * `NVLSender` (one warp per forwarder f, serving every source node m in turn) as an explicit state
 * record, the combine's most resumed role after the forwarders: per NVLink chunk, wait for room in
 * the forwarder's ring share for node m (its head), stage the rows, copy them (SM time), then put
 * them with the tail. Waits are yielded only when their condition does not hold yet, as the
 * generator did.
 */
const S_ROOM = 0; // top of a chunk: room in the forwarder's ring share
const S_COPY = 1; // room is there: stage and copy the chunk
const S_PUT = 2; // the copy has taken its time: put the chunk with its tail

class NVLSender implements RoleStep {
  private pc = S_ROOM;
  private sent = 0;
  private k = 0;
  private readonly n: number;
  private readonly base: number;
  private readonly fwd: number;
  private readonly ctrl: Region;
  private readonly fctrl: Region;
  private readonly ring: Region | null;
  private readonly stage: Region | null;
  private readonly input: Region | null;

  constructor(private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: InternodePlan, private readonly c: number, private readonly f: number, private readonly m: number) {
    const L = st.L;
    const s = m * L.G + f;
    this.sent = 0; // stored again: mutable from the first sender on, not from the first chunk sent (see sim/field-init.ts)
    this.n = st.counts[s * notifyStride(a, ctx.numRanks) + c]!;
    this.base = st.offsets[s * L.C + c]!;
    this.fwd = ctx.node * L.G + f;
    this.ctrl = ctx.region(NM.nvlCtrl);
    this.fctrl = ctx.peerRegion(this.fwd, NM.nvlCtrl);
    this.ring = a.sizesOnly ? null : ctx.peerRegion(this.fwd, NM.nvlRing);
    this.stage = a.sizesOnly ? null : ctx.region(NM.nvlStage);
    this.input = a.sizesOnly ? null : ctx.region(R_COMBINE_IN);
  }

  step(): Wait | null {
    const { ctx, st, c, f, m } = this;
    const { L, rec } = st;
    const share = L.share;
    for (;;) {
      switch (this.pc) {
        case S_ROOM: {
          const sent = this.sent;
          if (sent >= this.n) return null;
          const k = (this.k = Math.min(this.a.combine.nvlChunk, this.n - sent));
          this.pc = S_COPY;
          if (sent + k - this.ctrl.i32[L.nvlHead(c, f, m)]! > share) return ctx.untilAtLeast(this.ctrl, L.nvlHead(c, f, m), sent + k - share);
          break;
        }
        case S_COPY: {
          const { stage, input, sent, k } = this;
          if (stage && input)
            for (let i = 0; i < k; i++)
              stage.u8.set(input.u8.subarray((this.base + sent + i) * rec, (this.base + sent + i + 1) * rec), (L.nvlSlot(c, f, m) + ((sent + i) % share)) * rec);
          this.pc = S_PUT;
          // One NVLSender warp per forwarder serves every source node in turn (1 / N warps), and
          // releases the tail (one NVLink message). (sleepCopy: integers in, the duration stays
          // inside the call, not a float passed or returned and boxed.)
          return st.sendSm[c]!.sleepCopy(ctx, ROLE.NVLSender, k * rec, this.fwd === ctx.rank ? 'hbm' : 'nvlink', 1, L.N, 1);
        }
        default:
          putSlots(ctx, this.fwd, this.ring, L.nvlSlot(c, ctx.localIndex, m), this.stage, L.nvlSlot(c, f, m), this.sent % share, this.k, share, rec, this.fctrl, L.nvlTail(c, ctx.localIndex, m));
          this.sent += this.k;
          this.pc = S_ROOM;
      }
    }
  }
}

/**
 * The forwarder group of (channel c, source node m): DeepEP's `warps_per_forwarder =
 * max(24 / num_nodes, 1)` warps (`kNumWarpsPerForwarder`), each a role instance of its own. The
 * group walks the source's tokens in RDMA chunks. Per chunk: wait for room in the source's RDMA ring
 * (sub-warp 0 polls the head; `bar.sync` releases the others); each sub-warp reduces tokens
 * `start + sub, start + sub + warps, ...` of the chunk, each once every local GPU that held it has
 * delivered its row, into the RDMA send buffer; after a second `bar.sync` the last sub-warp posts the
 * chunk (RDMA write plus the remote tail add). The NVLink heads go back lazily, a chunk at a time,
 * at the lowest progress over the group's sub-warps (DeepEP's coordinator takes the minimum of their
 * heads, which is why each node's share of the ring must leave `warps_per_forwarder` slots spare).
 */
interface ForwarderGroup {
  /**
   * Token-major, entry `t * G + j` (t = 0..total): `2 * p + f`, where p is the number of rows of
   * local GPU j among the stream's first t tokens and f is 1 when GPU j held token t (0 at t = total).
   * One array, so a token's G flags and slots sit in one or two cache lines (G separate per-GPU
   * arrays cost a miss per GPU and token).
   */
  slots: Int32Array;
  /** Tokens in the stream. */
  total: number;
  /** Per sub-warp: the next token it has not reduced (total once retired). */
  next: Int32Array;
  /** Per local GPU j: NVLink slots returned. */
  returned: Int32Array;
  /** Ring occupancy last sampled. */
  shown: number;
  /** This rank's NVLink ring counters, and each local GPU's (where the heads go back). */
  nctrl: Region;
  peerCtrl: Region[];
}

function forwarderGroup(ctx: RankContext, st: InternodePlan, c: number, m: number, warps: number): ForwarderGroup {
  const stream = st.streams[c]![m]!;
  const total = stream.tokens.length;
  const G = st.L.G;
  const slots = new Int32Array((total + 1) * G);
  for (let j = 0; j < G; j++) {
    const f = stream.toGpu[j]!;
    let p = 0;
    for (let t = 0; t < total; t++) {
      const held = f[t] ? 1 : 0;
      slots[t * G + j] = 2 * p + held;
      p += held;
    }
    slots[total * G + j] = 2 * p;
  }
  const next = new Int32Array(warps);
  for (let s = 0; s < warps; s++) next[s] = Math.min(s, total);
  const peerCtrl = Array.from({ length: st.L.G }, (_, j) => ctx.peerRegion(ctx.node * st.L.G + j, NM.nvlCtrl));
  return { slots, total, next, returned: new Int32Array(st.L.G), shown: 0, nctrl: ctx.region(NM.nvlCtrl), peerCtrl };
}

/** Return NVLink slots up to the group's lowest progress (lazily, `nvlChunk` at a time, all at the end). */
function returnNvlHeads(ctx: RankContext, a: EpArgs, st: InternodePlan, g: ForwarderGroup, c: number, m: number): void {
  const { L } = st;
  const NC = a.combine.nvlChunk;
  const total = g.total;
  let P = total;
  for (let s = 0; s < g.next.length; s++) if (g.next[s]! < P) P = g.next[s]!;
  const nctrl = g.nctrl;
  let o = 0;
  for (let j = 0; j < L.G; j++) {
    const h = g.slots[P * L.G + j]! >> 1;
    const k = h - g.returned[j]!;
    if (k > 0 && (k >= NC || P === total)) {
      ctx.atomicAdd(g.peerCtrl[j]!, L.nvlHead(c, ctx.localIndex, m) * 4, k);
      g.returned[j] = h;
    }
    o += nctrl.i32[L.nvlTail(c, j, m)]! - h;
  }
  // Rows waiting in this source node's NVLink rings (ring-occupancy counter).
  ctx.sample(SERIES_NVL_RING, o - g.shown);
  g.shown = o;
}

/** Where an {@link NVLAndRDMAForwarder} warp stands in its chunk loop. */
const F_CHUNK = 0; // top of a chunk: bar.sync on the previous chunk's post
const F_ROOM = 1; // sub-warp 0's wait for room in the source's RDMA ring
const F_TOKENS = 2; // first token of this sub-warp in the chunk
const F_TOKEN = 3; // waiting for every local GPU's row of token t (from GPU j on)
const F_REDUCED = 4; // the reduction of tokens t..last has taken its time
const F_ARRIVE = 5; // through the chunk: bar.sync, then the poster's wait for the others
const F_POST = 6; // the poster's work requests have taken its time
const F_POSTED = 7; // the chunk is posted
const F_DONE = 8;

/**
 * One `NVLAndRDMAForwarder` sub-warp as an explicit state record (the hottest role: a fifth of an
 * EP16 run's events). The steps are the role's, in DeepEP's order, one `step` per resumption:
 * - per chunk k of RDMA chunk size: wait until the last sub-warp has posted chunk k - 1 (`bar.sync`),
 *   then until the source's RDMA ring has room for the chunk (sub-warp 0 polls the head);
 * - per token t = start + sub, start + sub + warps, ...: wait for each local GPU j that held it
 *   (its NVLink tail past the token's slot), then reduce it with the following tokens of this
 *   sub-warp whose rows are all in (one SM reservation), write them into the RDMA send buffer, and
 *   return NVLink heads up to the group's lowest progress;
 * - through the chunk (`bar.sync`): the last sub-warp waits for the others, posts the chunk (two work
 *   requests to another node, a local copy to its own) and marks it posted.
 * Each wait is yielded only when its condition does not hold yet, exactly as the generator did, so
 * the same events happen at the same times.
 */
class NVLAndRDMAForwarder implements RoleStep {
  private pc = F_CHUNK;
  private start = 0;
  private k = 0;
  private end = 0;
  private t = 0;
  private j = 0;
  private last = 0;
  private readonly total: number;
  private readonly src: number;
  private readonly poster: boolean;
  private readonly nctrl: Region;
  private readonly rctrl: Region;
  private readonly local: Region;
  private readonly ring: Region | null;
  private readonly stage: Region | null;
  private readonly acc: RowAccumulator | null;

  constructor(
    private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: InternodePlan, private readonly g: ForwarderGroup,
    private readonly c: number, private readonly m: number, private readonly sub: number, private readonly warps: number,
  ) {
    const L = st.L;
    this.start = this.last = 0; // stored again: mutable from the first forwarder on (see sim/field-init.ts)
    this.total = g.total;
    this.src = m * L.G + ctx.localIndex;
    this.nctrl = ctx.region(NM.nvlCtrl);
    this.rctrl = ctx.region(NM.rdmaCtrl);
    this.local = ctx.region(NM.local);
    this.ring = a.sizesOnly ? null : ctx.region(NM.nvlRing);
    this.stage = a.sizesOnly ? null : ctx.region(NM.rdmaStage);
    this.acc = a.sizesOnly ? null : new RowAccumulator(a.hidden);
    this.poster = sub === warps - 1;
  }

  step(): Wait | null {
    const { ctx, st, g, c, m, sub, warps } = this;
    const { L, rec } = st;
    const { rdmaChunk: RC, rdmaBuffer: RB } = this.a.combine;
    const total = this.total;
    for (;;) {
      switch (this.pc) {
        case F_CHUNK: {
          if (this.start >= total) {
            // Retired: out of the group's minimum.
            g.next[sub] = total;
            returnNvlHeads(ctx, this.a, st, g, c, m);
            // (A loop, not every(): a closure over `total` would give every call of step a context.)
            let allRetired = true;
            for (let s = 0; s < g.next.length; s++) if (g.next[s] !== total) allRetired = false;
            if (allRetired) {
              ctx.sample(SERIES_NVL_RING, -g.shown);
              g.shown = 0;
            }
            this.pc = F_DONE;
            return null;
          }
          this.end = Math.min(this.start + RC, total);
          // bar.sync: the group enters chunk k once the last sub-warp has posted chunk k - 1 ...
          this.pc = F_ROOM;
          if (this.local.i32[L.fwdPosted(c, m)]! < this.k) return ctx.untilAtLeast(this.local, L.fwdPosted(c, m), this.k);
          break;
        }
        case F_ROOM:
          // ... and sub-warp 0 has seen room for the chunk in the source's RDMA ring.
          this.pc = F_TOKENS;
          if (this.end - this.rctrl.i32[L.rdmaHead(c, m)]! > RB) return ctx.untilAtLeast(this.rctrl, L.rdmaHead(c, m), this.end - RB);
          break;
        case F_TOKENS:
          this.t = this.start + sub;
          this.j = 0;
          this.pc = F_TOKEN;
          break;
        case F_TOKEN: {
          const t = this.t, end = this.end;
          if (t >= end) {
            this.pc = F_ARRIVE;
            break;
          }
          const slots = g.slots, G = L.G, nctrl = this.nctrl;
          // Every local GPU that held token t, from GPU j on (a resumed wait goes on with the next GPU).
          while (this.j < G) {
            const j = this.j++;
            const v = slots[t * G + j]!;
            if (v & 1 && nctrl.i32[L.nvlTail(c, j, m)]! <= v >> 1) return ctx.untilAtLeast(nctrl, L.nvlTail(c, j, m), (v >> 1) + 1);
          }
          this.j = 0;
          // This token and the following ones of this sub-warp whose rows are all in: one reduction.
          let last = t;
          let bytes = 0;
          for (let u = t; u < end; u += warps) {
            let ok = true;
            let have = 0;
            const row = u * G;
            for (let j = 0; j < G && ok; j++) {
              const v = slots[row + j]!;
              if (v & 1) {
                have++;
                if (nctrl.i32[L.nvlTail(c, j, m)]! <= v >> 1) ok = false;
              }
            }
            if (!ok) break;
            bytes += have * this.a.hidden * 2;
            last = u;
          }
          this.last = last;
          this.pc = F_REDUCED;
          return st.fwdSm[c]!.sleepReduce(ctx, ROLE.NVLAndRDMAForwarder, bytes, 1);
        }
        case F_REDUCED: {
          const { acc, ring, stage } = this;
          const t = this.t, last = this.last, end = this.end;
          if (acc && ring && stage) {
            const slots = g.slots, G = L.G;
            for (let u = t; u <= last; u += warps) {
              acc.reset();
              for (let j = 0; j < G; j++) {
                const v = slots[u * G + j]!;
                if (v & 1) acc.addBf16(ring.u8, (L.nvlSlot(c, j, m) + ((v >> 1) % L.share)) * rec);
              }
              acc.writeBf16(stage.u8, (L.rdmaSlot(c, m) + (u % RB)) * rec);
            }
          }
          const next = last + warps;
          this.t = next;
          g.next[sub] = next < end ? next : Math.min(this.start + RC + sub, total);
          returnNvlHeads(ctx, this.a, st, g, c, m);
          this.pc = F_TOKEN;
          break;
        }
        case F_ARRIVE: {
          g.next[sub] = Math.min(this.start + RC + sub, total);
          // bar.sync: every sub-warp through the chunk; then the last one posts it.
          ctx.addLocal(this.local, L.fwdArrived(c, m), 1);
          if (!this.poster) {
            this.nextChunk();
            break;
          }
          this.pc = F_POST;
          const want = (this.k + 1) * warps;
          if (this.local.i32[L.fwdArrived(c, m)]! < want) return ctx.untilAtLeast(this.local, L.fwdArrived(c, m), want);
          break;
        }
        case F_POST:
          // Two work requests (the write and the tail atomic) to another node; to its own, a local copy.
          this.pc = F_POSTED;
          if (this.src !== ctx.rank) return st.postClock[c]!.sleepPost(ctx, ROLE.NVLAndRDMAForwarder, 2);
          break;
        case F_POSTED: {
          const src = this.src;
          const dring = this.a.sizesOnly ? null : ctx.peerRegion(src, NM.rdmaRing);
          putSlots(ctx, src, dring, L.rdmaSlot(c, ctx.node), this.stage, L.rdmaSlot(c, m), this.start % RB, this.end - this.start, RB, rec, ctx.peerRegion(src, NM.rdmaCtrl), L.rdmaTail(c, ctx.node), c % QP_SLOTS);
          ctx.store(this.local, L.fwdPosted(c, m), this.k + 1);
          this.nextChunk();
          break;
        }
        default:
          return null;
      }
    }
  }

  private nextChunk(): void {
    this.start += this.a.combine.rdmaChunk;
    this.k++;
    this.pc = F_CHUNK;
  }
}

/** Where an {@link RDMAReceiver} stands in its token loop. */
const R_TOKEN = 0; // top of a step: every node's contribution to token i, from condition q on
const R_REDUCED = 1; // the reduction of tokens i..end has taken its time
const R_RETURN = 2; // returning RDMA slots, node by node from node m on
const R_POSTED = 3; // the post of node m's head has taken its time
const R_DONE = 4;

/**
 * `RDMAReceiver` (one warp per channel, on the source) as an explicit state record. Its steps, in
 * DeepEP's order: wait until every node that held token i has delivered its row (their RDMA tails
 * past the token's slot); reduce it, with every following token whose rows are all in, in one
 * reduction (FP32, written as BF16 plus the bias); return each node's RDMA slots lazily, a chunk at
 * a time (all at the end), posting the head to another node as a work request. Each wait is
 * yielded only when its condition does not hold yet, as the generator it was did (the engine went
 * on at once when it held).
 */
class RDMAReceiver implements RoleStep {
  private pc = R_TOKEN;
  /** The next token not reduced, the end of the current reduction, the next condition and node. */
  private i = 0;
  private end = 0;
  private q: number;
  private m = 0;
  private k = 0;
  /** Tokens waiting in this channel's RDMA rings, last sampled (the ring-occupancy counter). */
  private shown = 0;
  private readonly toks: Int32Array;
  private readonly off: Int32Array;
  private readonly nodes: Int32Array;
  private readonly rctrl: Region;
  private readonly ring: Region | null;
  private readonly out: Region | null;
  private readonly acc: RowAccumulator | null;
  private readonly bias: Float32Array | null;
  /** Per node: rows consumed, rows needed by the reduction being planned, slots returned. */
  private readonly pos: Int32Array;
  private readonly need: Int32Array;
  private readonly returned: Int32Array;
  private readonly totals: Int32Array;

  constructor(private readonly ctx: RankContext, private readonly a: EpArgs, private readonly st: InternodePlan, private readonly c: number) {
    const L = st.L;
    this.toks = st.sendTokens[c]!;
    this.off = st.sendNodes[c]!.off;
    this.nodes = st.sendNodes[c]!.nodes;
    this.rctrl = ctx.region(NM.rdmaCtrl);
    this.ring = a.sizesOnly ? null : ctx.region(NM.rdmaRing);
    this.out = a.sizesOnly ? null : ctx.region(R_COMBINE_OUT);
    this.acc = a.sizesOnly ? null : new RowAccumulator(a.hidden);
    this.bias = a.hasBias && !a.sizesOnly ? new Float32Array(ctx.region(R_COMBINE_BIAS).buffer) : null;
    this.pos = new Int32Array(L.N);
    this.need = new Int32Array(L.N);
    this.returned = new Int32Array(L.N);
    this.totals = st.totals[c]!;
    this.q = this.toks.length > 0 ? this.off[0]! : 0;
  }

  step(): Wait | null {
    const { ctx, st, c, toks, off, nodes, rctrl, pos } = this;
    const { L, rec } = st;
    const H = this.a.hidden;
    for (;;) {
      switch (this.pc) {
        case R_TOKEN: {
          const i = this.i;
          if (i >= toks.length) {
            ctx.sample(SERIES_RDMA_RING, -this.shown);
            this.pc = R_DONE;
            return null;
          }
          // Every node that held token i (a resumed wait goes on with the next one).
          const q1 = off[i + 1]!;
          while (this.q < q1) {
            const m = nodes[this.q++]!;
            if (rctrl.i32[L.rdmaTail(c, m)]! < pos[m]! + 1) return ctx.untilAtLeast(rctrl, L.rdmaTail(c, m), pos[m]! + 1);
          }
          this.showOccupancy();
          // Every following token whose contributions are all in, in one reduction step.
          const need = this.need;
          need.set(pos);
          let end = i;
          let bytes = 0;
          while (end < toks.length) {
            let ok = true;
            const q0 = off[end]!, q1 = off[end + 1]!;
            for (let q = q0; q < q1; q++) if (rctrl.i32[L.rdmaTail(c, nodes[q]!)]! < need[nodes[q]!]! + 1) ok = false;
            if (!ok) break;
            for (let q = q0; q < q1; q++) need[nodes[q]!]!++;
            bytes += (q1 - q0) * H * 2;
            end++;
          }
          this.end = end;
          this.pc = R_REDUCED;
          return st.sendSm[c]!.sleepReduceRate(ctx, ROLE.RDMAReceiver, bytes);
        }
        case R_REDUCED: {
          const { acc, ring, out, bias } = this;
          const RB = this.a.combine.rdmaBuffer;
          for (let i = this.i; i < this.end; i++) {
            if (acc) acc.reset();
            for (let q = off[i]!; q < off[i + 1]!; q++) {
              const m = nodes[q]!;
              if (acc && ring) acc.addBf16(ring.u8, (L.rdmaSlot(c, m) + (pos[m]! % RB)) * rec);
              pos[m]!++;
            }
            if (bias && acc) acc.addF32(bias, toks[i]! * H);
            if (acc && out) acc.writeBf16(out.u8, toks[i]! * H * 2);
          }
          this.i = this.end;
          this.m = 0;
          this.pc = R_RETURN;
          break;
        }
        case R_RETURN: {
          const RC = this.a.combine.rdmaChunk;
          for (; this.m < L.N; this.m++) {
            const m = this.m;
            const k = pos[m]! - this.returned[m]!;
            if (k > 0 && (k >= RC || pos[m] === this.totals[m])) {
              this.k = k;
              if (m !== ctx.node) {
                this.pc = R_POSTED;
                return st.postClock[c]!.sleepPost(ctx, ROLE.RDMAReceiver, 1);
              }
              this.returnHead(m);
            }
          }
          this.showOccupancy();
          this.pc = R_TOKEN;
          if (this.i < toks.length) this.q = off[this.i]!;
          break;
        }
        case R_POSTED:
          this.returnHead(this.m++);
          this.pc = R_RETURN;
          break;
        default:
          return null;
      }
    }
  }

  /** Give node m's sender its `k` RDMA slots back (a work request on this channel's queue pair). */
  private returnHead(m: number): void {
    const { ctx, st, c } = this;
    const L = st.L;
    rdmaAtomicAdd(ctx, ctx.peerRegion(m * L.G + ctx.localIndex, NM.rdmaCtrl), L.rdmaHead(c, ctx.node) * 4, this.k, c % QP_SLOTS);
    this.returned[m] = this.pos[m]!;
  }

  /** Sample the ring-occupancy counter: tokens in this channel's RDMA rings not consumed yet. */
  private showOccupancy(): void {
    const L = this.st.L;
    let o = 0;
    for (let m = 0; m < L.N; m++) o += this.rctrl.i32[L.rdmaTail(this.c, m)]! - this.pos[m]!;
    this.ctx.sample(SERIES_RDMA_RING, o - this.shown);
    this.shown = o;
  }
}

defineOp<EpArgs>({
  name: 'ep.combine.internode',
  prepare(ctx, a) {
    ctx.state['combine'] = internodePlan(ctx, a, 'c');
    if (!a.sizesOnly) {
      // Tokens routed nowhere get no contributions: their output is the bias (or zero).
      const out = new Uint16Array(ctx.region(R_COMBINE_OUT).buffer);
      if (a.hasBias) {
        const bias = new Float32Array(ctx.region(R_COMBINE_BIAS).buffer);
        for (let i = 0; i < a.numTokens[ctx.rank]! * a.hidden; i++) out[i] = toBF16Bits(bias[i]!);
      } else out.fill(0);
    }
  },
  *task(ctx, a) {
    // Every rank of this host is prepared: the routing masks have served their plans.
    releaseRoutingMasks();
    // The kernel's launch (its own fixed cost, before it runs on the GPU).
    yield ctx.sleep(ctx.hardware.kernelLaunchUs);
    const st = ctx.state['combine'] as InternodePlan;
    const R = ctx.numRanks;
    const stride = notifyStride(a, R);
    const wpf = combineWarpsPerForwarder(st.L.N);
    const tasks = [];
    for (let c = 0; c < st.L.C; c++) {
      for (let f = 0; f < st.L.G; f++)
        for (let m = 0; m < st.L.N; m++)
          if (st.counts[(m * st.L.G + f) * stride + c]! > 0) tasks.push(ctx.spawn(NVL_SENDERS.get(roleKey(c, f, m)) ?? NVL_SENDERS.set(roleKey(c, f, m), `NVLSender[${c}->${f}/${m}]`), new NVLSender(ctx, a, st, c, f, m)));
      for (let m = 0; m < st.L.N; m++) {
        if (st.streams[c]![m]!.tokens.length === 0) continue;
        const g = forwarderGroup(ctx, st, c, m, wpf);
        for (let w = 0; w < wpf; w++) tasks.push(ctx.spawn(FORWARDERS.get(roleKey(c, m, w)) ?? FORWARDERS.set(roleKey(c, m, w), `NVLAndRDMAForwarder[${c}->${m}.${w}]`), new NVLAndRDMAForwarder(ctx, a, st, g, c, m, w, wpf)));
      }
      if (st.sendTokens[c]!.length > 0) tasks.push(ctx.spawn(RECEIVERS.get(c) ?? RECEIVERS.set(c, `RDMAReceiver[${c}]`), new RDMAReceiver(ctx, a, st, c)));
    }
    yield ctx.join(tasks);
    // The kernel ends with its warps; work requests its NIC still holds (a doorbell, a head
    // returned last) finish within the operation but are not kernel time. From the operation's
    // start, on its own clock (a duration: exact whatever ran before).
    ctx.setResult({ kernelEndUs: ctx.opTimeUs });
  },
});
