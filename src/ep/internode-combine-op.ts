/**
 * @module
 * DeepEP's internode normal combine, the mirror of the two-hop dispatch. Per channel:
 * - `NVLSender` (on every expert GPU, one per forwarder): pushes the rows it received from each
 *   source back over NVLink to the GPU of its node with the source's local index.
 * - `NVLAndRDMAForwarder` (one per source node): walks that source's tokens in dispatch order,
 *   waits for every local GPU that held a token, reduces the node's contributions in FP32 to one
 *   BF16 row, and posts chunked RDMA writes of reduced rows to the source (crossing IB once).
 * - `RDMAReceiver` (on the source): walks its tokens in order, waits for every node that held a
 *   token, reduces across nodes in FP32, writes BF16 (plus the bias), and returns RDMA slots lazily.
 * Heads flow back as in dispatch: every side polls only its own memory.
 */
import { QP_SLOTS } from '../transport/protocol.js';
import { defineOp } from '../actors/op-registry.js';
import type { RankContext } from '../sim/rank-context.js';
import type { TaskBody } from '../sim/task.js';
import { ringNames, R_COMBINE_BIAS, R_COMBINE_IN, R_COMBINE_OUT, notifyStride, type EpArgs } from './ep-args.js';
import { toBF16Bits } from '../kernels/bf16.js';
import { SERIES_NVL_RING, SERIES_RDMA_RING } from '../sim/timeline.js';
import { internodePlan, type InternodePlan } from './internode-dispatch-op.js';
import { putSlots } from './slots.js';
import { RowAccumulator } from './reduce-rows.js';

const NM = ringNames('c');

function* nvlSender(ctx: RankContext, a: EpArgs, st: InternodePlan, c: number, f: number, m: number): TaskBody {
  const { L, rec } = st;
  const { nvlChunk: NC } = a.combine;
  const share = L.share;
  const R = ctx.numRanks;
  const s = m * L.G + f;
  const n = st.counts[s * notifyStride(a, R) + c]!;
  const base = st.offsets[s * L.C + c]!;
  const fwd = ctx.node * L.G + f;
  const ctrl = ctx.region(NM.nvlCtrl);
  const fctrl = ctx.peerRegion(fwd, NM.nvlCtrl);
  const ring = a.sizesOnly ? null : ctx.peerRegion(fwd, NM.nvlRing);
  const stage = a.sizesOnly ? null : ctx.region(NM.nvlStage);
  const input = a.sizesOnly ? null : ctx.region(R_COMBINE_IN);
  let sent = 0;
  while (sent < n) {
    const k = Math.min(NC, n - sent);
    if (sent + k - Atomics.load(ctrl.i32, L.nvlHead(c, f, m)) > share) yield ctx.untilAtLeast(ctrl, L.nvlHead(c, f, m), sent + k - share);
    if (stage && input)
      for (let i = 0; i < k; i++)
        stage.u8.set(input.u8.subarray((base + sent + i) * rec, (base + sent + i + 1) * rec), (L.nvlSlot(c, f, m) + ((sent + i) % share)) * rec);
    yield ctx.sleep(/* one NVLSender warp per forwarder serves every source node in turn */ st.sendSm[c]!.copy(ctx, 'NVLSender', k * rec, fwd === ctx.rank ? 'hbm' : 'nvlink', 1 / L.N, ctx.hardware.nvlinkMessageUs));
    putSlots(ctx, fwd, ring, L.nvlSlot(c, ctx.localIndex, m), stage, L.nvlSlot(c, f, m), sent % share, k, share, rec, fctrl, L.nvlTail(c, ctx.localIndex, m));
    sent += k;
  }
}

function* forwarder(ctx: RankContext, a: EpArgs, st: InternodePlan, c: number, m: number): TaskBody {
  const { L, rec } = st;
  const { nvlChunk: NC, rdmaChunk: RC, rdmaBuffer: RB } = a.combine;
  const share = L.share;
  const H = a.hidden;
  const stream = st.streams[c]![m]!;
  const total = stream.tokens.length;
  const src = m * L.G + ctx.localIndex;
  const nctrl = ctx.region(NM.nvlCtrl);
  const rctrl = ctx.region(NM.rdmaCtrl);
  const ring = a.sizesOnly ? null : ctx.region(NM.nvlRing);
  const stage = a.sizesOnly ? null : ctx.region(NM.rdmaStage);
  const dring = a.sizesOnly ? null : ctx.peerRegion(src, NM.rdmaRing);
  const dctrl = ctx.peerRegion(src, NM.rdmaCtrl);
  const acc = a.sizesOnly ? null : new RowAccumulator(H);
  const reduceRate = ctx.hardware.smReduceGBps * 1e3;
  const pos = new Int32Array(L.G); // rows consumed from each local GPU
  const returned = new Int32Array(L.G);
  let done = 0; // tokens reduced into the send buffer
  let sent = 0; // tokens posted
  // Rows waiting in the NVLink rings of this source node's stream (ring-occupancy counter).
  let shown = 0;
  const showOccupancy = () => {
    let o = 0;
    for (let j = 0; j < L.G; j++) o += Atomics.load(nctrl.i32, L.nvlTail(c, j, m)) - pos[j]!;
    ctx.sample(SERIES_NVL_RING, o - shown);
    shown = o;
  };
  while (sent < total) {
    // Reduce as many complete tokens as fit (room in the RDMA buffer), at least one.
    if (done < total) {
      for (let j = 0; j < L.G; j++)
        if (stream.toGpu[j]![done]) yield ctx.untilAtLeast(nctrl, L.nvlTail(c, j, m), pos[j]! + 1);
      if (done - Atomics.load(rctrl.i32, L.rdmaHead(c, m)) >= RB) yield ctx.untilAtLeast(rctrl, L.rdmaHead(c, m), done + 1 - RB);
      let end = done;
      let bytes = 0;
      const head = Atomics.load(rctrl.i32, L.rdmaHead(c, m));
      while (end < total && end - head < RB && end - sent < RC) {
        let ok = true;
        let have = 0;
        for (let j = 0; j < L.G; j++)
          if (stream.toGpu[j]![end]) {
            have++;
            if (Atomics.load(nctrl.i32, L.nvlTail(c, j, m)) < pos[j]! + 1 + countBefore(stream, j, done, end)) ok = false;
          }
        if (!ok) break;
        bytes += have * H * 2;
        end++;
      }
      yield ctx.sleep(st.fwdSm[c]!.busy(ctx, 'NVLAndRDMAForwarder', bytes / reduceRate));
      showOccupancy();
      for (; done < end; done++) {
        if (acc) acc.reset();
        for (let j = 0; j < L.G; j++) {
          if (!stream.toGpu[j]![done]) continue;
          if (acc && ring) acc.addBf16(ring.u8, (L.nvlSlot(c, j, m) + (pos[j]! % share)) * rec);
          pos[j]!++;
        }
        if (acc && stage) acc.writeBf16(stage.u8, (L.rdmaSlot(c, m) + (done % RB)) * rec);
      }
      for (let j = 0; j < L.G; j++) {
        const k = pos[j]! - returned[j]!;
        if (k > 0 && (k >= NC || done === total)) {
          ctx.atomicAdd(ctx.peerRegion(ctx.node * L.G + j, NM.nvlCtrl), L.nvlHead(c, ctx.localIndex, m) * 4, k);
          returned[j] = pos[j]!;
        }
      }
      showOccupancy();
    }
    // Post whole chunks (the rest at the end), as the RDMA coordinator does.
    while (done - sent >= RC || (done === total && sent < total)) {
      const k = Math.min(RC, done - sent);
      yield ctx.sleep(st.postClock[c]!.busy(ctx, 'NVLAndRDMAForwarder', ctx.hardware.ibMessageUs));
      putSlots(ctx, src, dring, L.rdmaSlot(c, ctx.node), stage, L.rdmaSlot(c, m), sent % RB, k, RB, rec, dctrl, L.rdmaTail(c, ctx.node), c % QP_SLOTS);
      sent += k;
    }
  }
  ctx.sample(SERIES_NVL_RING, -shown);
}

/** Rows of GPU j among stream tokens [from, to). */
function countBefore(stream: { toGpu: Uint8Array[] }, j: number, from: number, to: number): number {
  let k = 0;
  const f = stream.toGpu[j]!;
  for (let i = from; i < to; i++) k += f[i]!;
  return k;
}

function* receiver(ctx: RankContext, a: EpArgs, st: InternodePlan, c: number): TaskBody {
  const { L, rec } = st;
  const { rdmaChunk: RC, rdmaBuffer: RB } = a.combine;
  const H = a.hidden;
  const toks = st.sendTokens[c]!;
  const nodes = st.sendNodes[c]!;
  const rctrl = ctx.region(NM.rdmaCtrl);
  const ring = a.sizesOnly ? null : ctx.region(NM.rdmaRing);
  const out = a.sizesOnly ? null : ctx.region(R_COMBINE_OUT);
  const acc = a.sizesOnly ? null : new RowAccumulator(H);
  const bias = a.hasBias && !a.sizesOnly ? new Float32Array(ctx.region(R_COMBINE_BIAS).buffer) : null;
  const reduceRate = ctx.hardware.smReduceGBps * 1e3;
  const pos = new Int32Array(L.N);
  const returned = new Int32Array(L.N);
  const totals = st.totals[c]!;
  let i = 0;
  // Tokens waiting in this channel's RDMA rings (for the trace's ring-occupancy counter).
  let shown = 0;
  const showOccupancy = () => {
    let o = 0;
    for (let m = 0; m < L.N; m++) o += Atomics.load(rctrl.i32, L.rdmaTail(c, m)) - pos[m]!;
    ctx.sample(SERIES_RDMA_RING, o - shown);
    shown = o;
  };
  while (i < toks.length) {
    for (const m of nodes[i]!) yield ctx.untilAtLeast(rctrl, L.rdmaTail(c, m), pos[m]! + 1);
    showOccupancy();
    // Every following token whose contributions are all in, in one reduction step.
    const need = Int32Array.from(pos);
    let end = i;
    let bytes = 0;
    while (end < toks.length) {
      let ok = true;
      for (const m of nodes[end]!) if (Atomics.load(rctrl.i32, L.rdmaTail(c, m)) < need[m]! + 1) ok = false;
      if (!ok) break;
      for (const m of nodes[end]!) need[m]!++;
      bytes += nodes[end]!.length * H * 2;
      end++;
    }
    yield ctx.sleep(st.sendSm[c]!.busy(ctx, 'RDMAReceiver', bytes / reduceRate));
    for (; i < end; i++) {
      if (acc) acc.reset();
      for (const m of nodes[i]!) {
        if (acc && ring) acc.addBf16(ring.u8, (L.rdmaSlot(c, m) + (pos[m]! % RB)) * rec);
        pos[m]!++;
      }
      if (bias && acc) acc.addF32(bias, toks[i]! * H);
      if (acc && out) acc.writeBf16(out.u8, toks[i]! * H * 2);
    }
    for (let m = 0; m < L.N; m++) {
      const k = pos[m]! - returned[m]!;
      if (k > 0 && (k >= RC || pos[m] === totals[m])) {
        ctx.atomicAdd(ctx.peerRegion(m * L.G + ctx.localIndex, NM.rdmaCtrl), L.rdmaHead(c, ctx.node) * 4, k, { qp: c % QP_SLOTS });
        returned[m] = pos[m]!;
      }
    }
    showOccupancy();
  }
  ctx.sample(SERIES_RDMA_RING, -shown);
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
    // The kernel's launch (its own fixed cost, before it runs on the GPU).
    yield ctx.sleep(ctx.hardware.kernelLaunchUs);
    const st = ctx.state['combine'] as InternodePlan;
    const R = ctx.numRanks;
    const stride = notifyStride(a, R);
    const tasks = [];
    for (let c = 0; c < st.L.C; c++) {
      for (let f = 0; f < st.L.G; f++)
        for (let m = 0; m < st.L.N; m++)
          if (st.counts[(m * st.L.G + f) * stride + c]! > 0) tasks.push(ctx.spawn(`NVLSender[${c}->${f}/${m}]`, nvlSender(ctx, a, st, c, f, m)));
      for (let m = 0; m < st.L.N; m++)
        if (st.streams[c]![m]!.tokens.length > 0) tasks.push(ctx.spawn(`NVLAndRDMAForwarder[${c}->${m}]`, forwarder(ctx, a, st, c, m)));
      if (st.sendTokens[c]!.length > 0) tasks.push(ctx.spawn(`RDMAReceiver[${c}]`, receiver(ctx, a, st, c)));
    }
    yield ctx.join(tasks);
  },
});
