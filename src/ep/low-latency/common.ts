/**
 * @module
 * Pieces both low-latency kernels share: the per-SM clocks (DeepEP's launch: `numSms` SMs of
 * `numWarpGroups x warpsPerGroup` warps, each warp group owning one global expert), which path a
 * peer takes (NVLink stores within a node, RDMA across), the grid sync between the two phases of one
 * launch, and issuing the top-k / row sends of one SM in the order its warps finish them.
 */
import { fail } from '../../errors.js';
import type { HardwareProfile } from '../../hardware/profile.js';
import type { RankContext } from '../../sim/rank-context.js';
import { FreeList } from '../../sim/free-list.js';
import type { RoleStep, TransferHandle, Wait } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { QP_SLOTS } from '../../transport/protocol.js';
import { fencedAtomicQp } from '../normal/slots.js';
import { SM_SEND, SmClock } from '../sm-clock.js';
import { LL_BUF, type LlArgs } from './layout.js';

/** One clock per SM of the launch; all warps of an SM share its issue rate, HBM rates and bytes in flight. */
export function smClocks(a: LlArgs): SmClock[] {
  const { numSms, numWarpGroups, warpsPerGroup } = a.launch;
  return Array.from({ length: numSms }, (_, s) => new SmClock(s, SM_SEND, numWarpGroups * warpsPerGroup));
}

/**
 * A cooperative grid sync (`cg::this_grid().sync()`): every block arrives with an atomic on a global
 * counter in HBM and polls it until all have: an atomic and a load of local HBM, `2 x hbmLatencyUs`.
 */
export function gridSyncUs(hw: HardwareProfile): number {
  return 2 * hw.hbmLatencyUs;
}

/** DeepEP since 2025-06: peers on the same node take NVLink stores (P2P), others RDMA (IBGDA). */
export function isP2p(ctx: RankContext, dst: number): boolean {
  return Math.floor(dst / ctx.gpusPerNode) === ctx.node;
}

/** The queue pair of a local expert: DeepEP opens one per local expert (`num_qps_per_rank = experts / ranks`). */
export function qpOf(localExpert: number): number {
  return localExpert % QP_SLOTS;
}

/**
 * The sends of one SM's warps working at once (a token's top-k sends, or a round of a warp group's
 * rows): each is issued when its warp is done with it, in order of completion (ties in warp order).
 * Columns reused from one batch to the next, so a batch allocates nothing once they have grown.
 * A send is a put of `bytes` from `src` at `srcOff` to `peer` at `dstOff` (sizes-only: `src` null, a
 * send of `bytes` to rank `dst`): as NVLink stores (`qp` -1), or an RDMA write posted on queue pair
 * `qp` as write `total` of NIC stream `stream`. With `counter` >= 0, the send also adds 1 to that
 * local counter once issued (the dispatch's per-expert count of sends issued).
 */
export class SmSends {
  n = 0;
  /** Per send i, its float fields at `F * i`: when its warp is done (from the batch start), destination and source offsets. */
  private f = new Float64Array(8 * F);
  /** Per send i, its integer fields at `I * i`: destination rank, bytes, queue pair, NIC stream, the stream's writes, counter; then `order`'s entry i. */
  private k = new Int32Array(8 * I);
  private cap = 8;
  private peer: Region[] = [];
  private src: Region | null = null;
  private local: Region | null = null;
  /** Issuing: when it began, the next position in `order`, and whether that send's wait is over. */
  private start = 0;
  private pos = 0;
  private slept = false;

  /** A new batch: sends from `src` (null: sizes-only); counters in `local`. */
  begin(src: Region | null, local: Region | null): void {
    this.n = 0;
    this.src = src;
    this.local = local;
  }

  add(doneUs: number, dst: number, peer: Region, dstOff: number, srcOff: number, bytes: number, qp: number, stream: number, total: number, counter: number): void {
    const i = this.n++;
    if (i === this.cap) this.grow();
    const f = this.f;
    const k = this.k;
    const fi = F * i;
    const ki = I * i;
    f[fi] = doneUs;
    f[fi + 1] = dstOff;
    f[fi + 2] = srcOff;
    k[ki] = dst;
    k[ki + 1] = bytes;
    k[ki + 2] = qp;
    k[ki + 3] = stream;
    k[ki + 4] = total;
    k[ki + 5] = counter;
    this.peer[i] = peer;
  }

  private grow(): void {
    this.cap *= 2;
    const f = new Float64Array(this.cap * F);
    f.set(this.f);
    const k = new Int32Array(this.cap * I);
    k.set(this.k);
    this.f = f;
    this.k = k;
  }

  /** Start issuing the batch now: the sends in order of `doneUs`, ties in the order added. */
  startIssue(ctx: RankContext): void {
    const { f, k } = this;
    // Insertion sort (a batch is a few warps): a send goes after every one done no later than it.
    for (let i = 0; i < this.n; i++) {
      const d = f[F * i]!;
      let j = i;
      while (j > 0 && f[F * k[I * (j - 1) + ORDER]!]! > d) {
        k[I * j + ORDER] = k[I * (j - 1) + ORDER]!;
        j--;
      }
      k[I * j + ORDER] = i;
    }
    this.start = ctx.now;
    this.pos = 0;
    this.slept = false;
  }

  /** Issue the sends whose warps are done; the sleep until the next one's, or null when all are issued. */
  next(ctx: RankContext, nic: LlNic): Wait | null {
    const { f, k } = this;
    while (this.pos < this.n) {
      const i = k[I * this.pos + ORDER]!;
      const fi = F * i;
      if (!this.slept) {
        const wait = this.start + f[fi]! - ctx.now;
        if (wait > 0) {
          this.slept = true;
          return ctx.sleep(wait);
        }
      }
      this.slept = false;
      this.pos++;
      const ki = I * i;
      const qp = k[ki + 2]!;
      if (qp < 0) {
        if (this.src) ctx.put(this.peer[i]!, f[fi + 1]!, this.src, f[fi + 2]!, k[ki + 1]!);
        else ctx.send(k[ki]!, k[ki + 1]!);
      } else nic.write(ctx, k[ki + 3]!, k[ki + 4]!, qp, k[ki]!, this.peer[i]!, f[fi + 1]!, this.src, f[fi + 2]!, k[ki + 1]!);
      const c = k[ki + 5]!;
      if (c >= 0) ctx.addLocal(this.local!, c, 1);
    }
    return null;
  }
}

/** {@link SmSends}' float fields per send, its integer fields per send, and where `order` is among the latter. */
const F = 3;
const I = 7;
const ORDER = 6;

/** Batches of ended roles, for reuse (a role takes one when it starts and gives it back when it ends). */
const SM_SENDS = new FreeList<SmSends>();

/** A batch for a role starting now (give it back with {@link giveSmSends} when the role ends). */
export function takeSmSends(): SmSends {
  return SM_SENDS.take() ?? new SmSends();
}

export function giveSmSends(b: SmSends): void {
  b.begin(null, null);
  SM_SENDS.give(b);
}

/**
 * The NIC's side of a low-latency kernel's RDMA traffic, as the normal kernels' posted chunks pay
 * it (`src/ep/normal/slots.ts`): each write a warp posts starts a doorbell (`ibDoorbellUs`) after
 * the post; the count or flag that follows a stream of writes (a remote atomic on the same queue
 * pair) goes out once the last write is acknowledged, since on a multipath fabric an RDMA atomic
 * issued after writes costs about one extra round trip (deepep-details.md §5). A stream is what the
 * atomic covers: this rank's writes to one global expert (dispatch) or one warp group's rows back to
 * one rank (combine). The posting cost (`ibMessageUs`) is the warp's, charged by the caller.
 */
export class LlNic {
  /** Writes of each stream the NIC has started, and the handle of the last one (acknowledged). */
  readonly started: Int32Array;
  readonly last: TransferHandle[];

  constructor(streams: number) {
    this.started = new Int32Array(streams);
    this.last = new Array<TransferHandle>(streams).fill(-1);
  }

  /**
   * A write posted now on stream `stream` of `total` writes: the NIC starts it (a put of `bytes` from
   * `src` at `srcOff` to `peer` at `dstOff`; sizes-only, `src` null: a send to rank `dst`), asking
   * for an acknowledgement if it is the stream's last, one doorbell later.
   */
  write(ctx: RankContext, stream: number, total: number, qp: number, dst: number, peer: Region, dstOff: number, src: Region | null, srcOff: number, bytes: number): void {
    const w = LL_WRITES.take() ?? new LlWrite();
    w.init(ctx, this, stream, total, qp, dst, peer, dstOff, src, srcOff, bytes);
    ctx.spawnDetached(nicName(qp, dst), w);
  }

  /**
   * The atomic add posted now after the `total` writes of `stream` (on queue pair `qp`): one doorbell,
   * then the last write's acknowledgement, then the atomic on the queue pair's fenced half.
   */
  atomicAfter(ctx: RankContext, stream: number, total: number, dst: Region, offset: number, value: number, qp: number): void {
    const w = LL_ATOMICS.take() ?? new LlAtomic();
    w.init(ctx, this, stream, total, dst, offset, value, qp);
    ctx.spawnDetached(nicName(qp, dst.rank), w);
  }
}

const QP_ACK_OPTS = { qp: 0, ack: false };
const QP_OPTS = { qp: 0 };

/** A posted write: the doorbell, then the write (a record reused once it ends). */
class LlWrite implements RoleStep {
  private rung = false;
  private ctx: RankContext = null as unknown as RankContext;
  private nic: LlNic = null as unknown as LlNic;
  private stream = 0;
  private total = 0;
  private qp = 0;
  private dst = 0;
  private peer: Region = null as unknown as Region;
  private dstOff = 0;
  private src: Region | null = null;
  private srcOff = 0;
  private bytes = 0;

  init(ctx: RankContext, nic: LlNic, stream: number, total: number, qp: number, dst: number, peer: Region, dstOff: number, src: Region | null, srcOff: number, bytes: number): void {
    this.rung = false;
    this.ctx = ctx; this.nic = nic; this.stream = stream; this.total = total; this.qp = qp; this.dst = dst;
    this.peer = peer; this.dstOff = dstOff; this.src = src; this.srcOff = srcOff; this.bytes = bytes;
  }

  step(): Wait | null {
    const ctx = this.ctx;
    if (!this.rung) {
      this.rung = true;
      return ctx.sleep(ctx.hardware.ibDoorbellUs);
    }
    const nic = this.nic;
    const n = ++nic.started[this.stream]!;
    const ack = n === this.total;
    QP_ACK_OPTS.qp = this.qp;
    QP_ACK_OPTS.ack = ack;
    const h = this.src ? ctx.put(this.peer, this.dstOff, this.src, this.srcOff, this.bytes, QP_ACK_OPTS) : ctx.send(this.dst, this.bytes, QP_ACK_OPTS);
    if (ack) nic.last[this.stream] = h;
    this.peer = null as unknown as Region;
    this.src = null;
    // Done: the engine never steps an ended role again.
    LL_WRITES.give(this);
    return null;
  }
}

/** A posted atomic after a stream's writes: the doorbell, the last write's acknowledgement, the add. */
class LlAtomic implements RoleStep {
  /** 0: posted; 1: the doorbell has rung; 2: the writes are acknowledged. */
  private pc = 0;
  private ctx: RankContext = null as unknown as RankContext;
  private nic: LlNic = null as unknown as LlNic;
  private stream = 0;
  private total = 0;
  private dst: Region = null as unknown as Region;
  private offset = 0;
  private value = 0;
  private qp = 0;

  init(ctx: RankContext, nic: LlNic, stream: number, total: number, dst: Region, offset: number, value: number, qp: number): void {
    this.pc = 0;
    this.ctx = ctx; this.nic = nic; this.stream = stream; this.total = total; this.dst = dst; this.offset = offset; this.value = value; this.qp = qp;
  }

  step(): Wait | null {
    const ctx = this.ctx;
    switch (this.pc++) {
      case 0:
        return ctx.sleep(ctx.hardware.ibDoorbellUs);
      case 1:
        if (this.total > 0) {
          // Every write was posted before the atomic, so its doorbell rang first.
          const started = this.nic.started[this.stream];
          if (started !== this.total)
            fail('E_VERIFY', `low-latency kernel: rank ${ctx.rank} posts an atomic after ${started} of ${this.total} writes of stream ${this.stream}`, { rank: ctx.rank, stream: this.stream });
          return ctx.delivered(this.nic.last[this.stream]!);
        }
      // falls through: no writes to wait for
      default:
        QP_OPTS.qp = fencedAtomicQp(this.qp);
        ctx.atomicAdd(this.dst, this.offset, this.value, QP_OPTS);
        this.dst = null as unknown as Region;
        LL_ATOMICS.give(this);
        return null;
    }
  }
}

/** Ended NIC roles, for reuse (this thread's; a record is given back by its own last step). */
const LL_WRITES = new FreeList<LlWrite>();
const LL_ATOMICS = new FreeList<LlAtomic>();

/** Names of the NIC's tasks, made once per (queue pair, destination), at `dst * QP_SLOTS + qp`. */
const NIC_NAMES: string[] = [];

function nicName(qp: number, dst: number): string {
  return (NIC_NAMES[dst * QP_SLOTS + qp] ??= `LL NIC[qp ${qp} -> ${dst}]`);
}

/** Task names `${prefix}${i}]` made once per thread: the kernels spawn thousands of roles per rank and launch. */
const ROLE_NAMES = new Map<string, string[]>();

/** The name `${prefix}${i}]` of a kernel's i-th role of a kind (e.g. `roleName('LL.dispatch.recv[', 3)`), made once. */
export function roleName(prefix: string, i: number): string {
  let names = ROLE_NAMES.get(prefix);
  if (names === undefined) ROLE_NAMES.set(prefix, (names = []));
  return (names[i] ??= `${prefix}${i}]`);
}

/** Rank `dst`'s low-latency buffer as this launch's roles address it, looked up once per launch and peer (`peers` is the launch's cache). */
export function peerBuffer(ctx: RankContext, peers: Array<Region | undefined>, dst: number): Region {
  return (peers[dst] ??= ctx.peerRegion(dst, LL_BUF));
}
