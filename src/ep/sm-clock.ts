/**
 * @module
 * What bounds a communication SM. A role (a group of warps) copying `bytes` to a destination is
 * bounded by
 * - memory-level parallelism: its warps keep `warps * smBytesInFlightPerWarp` bytes in flight, and
 *   each byte occupies its slot for the destination's latency (local HBM or a peer's HBM over
 *   NVLink), so it takes at least `bytes * latency / (warps * smBytesInFlightPerWarp)`;
 * - the SM it runs on: the issue rate and the per-SM HBM read and write rates (every copy reads
 *   HBM and writes, locally or over NVLink), and the bytes in flight of all the SM's warps. These
 *   are shared by every role on the SM: the role's share is reserved on the SM's clock in request
 *   order, so two roles asking at once each get half.
 * The requesting task sleeps until both bounds are met. Each reservation is also an activity slice
 * on the SM's trace track (`ch C <sm>`), labelled with the role that asked; the slices are what the
 * sensitivity bench measures an SM's busy fraction from.
 */
import type { HardwareProfile } from '../hardware/profile.js';
import type { RankContext } from '../sim/rank-context.js';
import type { Wait } from '../sim/task.js';
import { DOUBLE } from '../sim/field-init.js';

/** The SMs (and warp groups) of a channel that kernels charge time to. */
export const SM_SEND = 0; // intranode sender SM; internode RDMA sender + NVL receiver SM
export const SM_RECV = 1; // intranode receiver SM; internode forwarder SM
export const SM_POST = 2; // posting lane: RDMA work requests posted by the channel's warps (their own time)
export const SM_NAMES = ['send SM', 'recv/forward SM', 'RDMA post'] as const;

/** Warp roles, as activity labels. */
export const ROLE_NAMES = [
  'nvl sender', 'nvl receiver', 'RDMASender', 'RDMASenderCoordinator', 'RDMAAndNVLForwarder', 'NVLReceivers',
  'combine reduce', 'NVLSender', 'NVLAndRDMAForwarder', 'RDMAReceiver', 'ForwarderCoordinator',
  // The low-latency kernels (src/ep/low-latency/).
  'LL cast', 'LL send', 'LL recv', 'LL clean', 'LL combine send', 'LL combine reduce',
] as const;
export type RoleName = (typeof ROLE_NAMES)[number];
/**
 * A warp role's number, its index in {@link ROLE_NAMES}. Reservations take the number (a constant
 * property load at the caller), not the name, so labelling an SM activity costs no look-up by name.
 */
export const ROLE = Object.freeze({
  'nvl sender': 0, 'nvl receiver': 1, RDMASender: 2, RDMASenderCoordinator: 3, RDMAAndNVLForwarder: 4, NVLReceivers: 5,
  'combine reduce': 6, NVLSender: 7, NVLAndRDMAForwarder: 8, RDMAReceiver: 9, ForwarderCoordinator: 10,
  'LL cast': 11, 'LL send': 12, 'LL recv': 13, 'LL clean': 14, 'LL combine send': 15, 'LL combine reduce': 16,
} as const satisfies Record<RoleName, number>);
/** The number of a warp role ({@link ROLE}). */
export type RoleId = (typeof ROLE)[RoleName];

/**
 * What bounds an SM reservation, kept in its activity label (`role + ROLE_STRIDE * bound`): the
 * SM's issue slots (copy and reduce instructions), its HBM read/write rates, or its bytes in flight;
 * posting-lane slices are the issuing warp's own time.
 */
export const BOUND_ISSUE = 0;
export const BOUND_HBM = 1;
export const BOUND_IN_FLIGHT = 2;
export const BOUND_POST = 3;
export const ROLE_STRIDE = 32;
/** The warp role of an SM activity label. */
export function activityRole(label: number): RoleName | undefined {
  return ROLE_NAMES[label % ROLE_STRIDE];
}
/** What bounded an SM activity (BOUND_*). */
export function activityBound(label: number): number {
  return Math.floor(label / ROLE_STRIDE);
}

/** Where a copy's stores go: local HBM (a ring, the output, the RDMA send buffer) or a peer's HBM over NVLink. */
export type CopyDest = 'hbm' | 'nvlink';

/** Warps per SM of DeepEP's intranode kernels (split evenly over the peers). */
export const INTRANODE_WARPS_PER_SM = 24;

/** Trace track of SM `sm` of channel `channel`. */
export function smTrack(channel: number, sm: number): number {
  return channel * SM_NAMES.length + sm;
}

/** Latency a copying warp waits on per byte slot for destination `dest`, us. */
export function destLatencyUs(hw: HardwareProfile, dest: CopyDest): number {
  return dest === 'nvlink' ? hw.nvlinkLatencyUs : hw.hbmLatencyUs;
}

/**
 * The two bounds of a copy, as {@link copyBounds} fills them in: `ownUs`, the role's
 * memory-level-parallelism time, `smUs`, the SM time it takes from every role on the SM, and what
 * bounds the SM time (BOUND_*).
 */
export class CopyBounds {
  // Declared DOUBLE: times, written before every read (a double from the first record on: see field-init.ts).
  ownUs = DOUBLE;
  smUs = DOUBLE;
  bound = BOUND_ISSUE;
}

/**
 * The two bounds of a copy of `bytes` by `warps / shares` warps (of an SM with `smWarps`) to `dest`:
 * `ownUs`, the role's memory-level-parallelism time, and `smUs`, the SM time it takes from every
 * role on the SM (issue, HBM read/write, and its share of the SM's bytes in flight). Written into
 * `out` (the SM clocks pass their own record): a record or a float returned by a call that V8 does
 * not inline is a new heap object, and so is a float argument such as a fractional warp count,
 * which is why the division by `shares` is made here.
 */
export function copyBounds(hw: HardwareProfile, bytes: number, dest: CopyDest, warps: number, smWarps: number, shares = 1, out = new CopyBounds()): CopyBounds {
  const w = warps / shares;
  const lat = destLatencyUs(hw, dest);
  const ownUs = (bytes * lat) / (w * hw.smBytesInFlightPerWarp);
  const issueUs = bytes / (hw.smIssueGBps * 1e3);
  const hbmUs = bytes / (Math.min(hw.smHbmReadGBps, hw.smHbmWriteGBps) * 1e3);
  const inFlightShare = (ownUs * w) / smWarps;
  const smUs = Math.max(issueUs, hbmUs, inFlightShare);
  out.ownUs = ownUs;
  out.smUs = smUs;
  out.bound = smUs === inFlightShare ? BOUND_IN_FLIGHT : smUs === hbmUs ? BOUND_HBM : BOUND_ISSUE;
  return out;
}

/**
 * The two bounds of a copy whose warps each move their own bytes, as DeepEP's low-latency kernels
 * copy: one message or one token per warp, or one token's row split over the warps. `readBytes` are
 * read and `writeBytes` written in all; the busiest warp moves `warpBytes`. A warp keeps at most
 * `smBytesInFlightPerWarp` in flight and waits the destination's latency for each window of it, in
 * whole round trips: at least one (a warp whose bytes fit in its window still waits one load's
 * round trip), `warpBytes / smBytesInFlightPerWarp` of them beyond. The SM takes the largest of its
 * issue time (the larger of the two streams), its HBM read and write times (each at its own rate)
 * and its share of the bytes in flight. With equal read and write bytes spread over the warps and
 * more than a window per warp, this is {@link copyBounds}; the normal kernels' copies are chunks of
 * several records per role, which is where the two agree.
 */
export function rowCopyBounds(
  hw: HardwareProfile, readBytes: number, writeBytes: number, warpBytes: number, dest: CopyDest, warps: number, smWarps: number,
): { ownUs: number; smUs: number; bound: number } {
  const ownUs = Math.max(1, warpBytes / hw.smBytesInFlightPerWarp) * destLatencyUs(hw, dest);
  const issueUs = Math.max(readBytes, writeBytes) / (hw.smIssueGBps * 1e3);
  const hbmUs = Math.max(readBytes / (hw.smHbmReadGBps * 1e3), writeBytes / (hw.smHbmWriteGBps * 1e3));
  const inFlightShare = (ownUs * warps) / smWarps;
  const smUs = Math.max(issueUs, hbmUs, inFlightShare);
  return { ownUs, smUs, bound: smUs === inFlightShare ? BOUND_IN_FLIGHT : smUs === hbmUs ? BOUND_HBM : BOUND_ISSUE };
}

export class SmClock {
  /** Declared DOUBLE, set to 0 by the constructor (a double from the first clock on: see field-init.ts). */
  private freeAt = DOUBLE;
  private readonly track: number;
  /**
   * The request being charged: its bounds ({@link copyBounds}, or a reduction's), then the wait
   * {@link charge} leaves. The `sleep*` methods pass their floats to their helpers through this
   * record, not as arguments or results: a float passed to or returned by a call that V8 does not
   * inline is boxed as a new heap number, and whether these calls are inlined into the `sleep*`
   * methods depends on V8's inlining budget (they are with its defaults, not with a smaller one).
   */
  private readonly req = new SmRequest();

  /** `warps`: the warps DeepEP runs on this SM (their bytes in flight are the SM's). */
  constructor(channel = 0, sm = SM_SEND, readonly warps = INTRANODE_WARPS_PER_SM) {
    this.freeAt = 0;
    this.track = smTrack(channel, sm);
  }

  /**
   * Reserve `us` of this SM from the context's clock, recording the work as an activity of `role`
   * on this SM's track, with what bounds it (`bound`, default the issue slots: a reduction's
   * instructions); returns how long the caller must sleep.
   */
  busy(ctx: RankContext, role: RoleId, us: number, bound = BOUND_ISSUE): number {
    const r = this.req;
    r.smUs = us;
    r.bound = bound;
    this.charge(ctx, role);
    return r.waitUs;
  }

  /**
   * {@link busy} of the request's `smUs`, labelled with its `bound`, from the context's clock; the
   * caller's wait is left in the request's `waitUs`. The one place an SM is reserved.
   */
  private charge(ctx: RankContext, role: RoleId): void {
    const r = this.req;
    const us = r.smUs;
    const now = ctx.now;
    const start = this.freeAt > now ? this.freeAt : now;
    this.freeAt = start + us;
    r.waitUs = this.freeAt - now;
    // (The times through the log's scratch, not as arguments: a float passed to a call V8 does not
    // inline is boxed, two per slice; and no call at all without traces.)
    if (us > 0 && ctx.recordsActivity) {
      const span = ctx.activityTimes;
      span[0] = this.freeAt - us;
      span[1] = this.freeAt;
      ctx.activitySpan(this.track, role + ROLE_STRIDE * r.bound);
    }
  }

  /**
   * {@link busy} for a reduction of `bytes` at the SM's reduce rate (`smReduceGBps`, the issue
   * slots), as the wait of the role that sleeps for it (see {@link sleepReduce}; the duration is
   * computed here, not passed in: a float argument is boxed too).
   */
  sleepReduceRate(ctx: RankContext, role: RoleId, bytes: number): Wait {
    const r = this.req;
    r.smUs = bytes / (ctx.hardware.smReduceGBps * 1e3);
    r.bound = BOUND_ISSUE;
    this.charge(ctx, role);
    const w = ctx.sleepWait();
    w.us = r.waitUs;
    return w;
  }

  /**
   * A posting lane (`SM_POST`): `us` of the issuing warp's own time (posting work requests takes
   * the warp, not the SM's issue slots or bytes in flight). The slice is drawn on the lane's track
   * after its previous one, so a channel's posts show one after another; the warp sleeps `us`.
   */
  post(ctx: RankContext, role: RoleId, us: number): number {
    if (us > 0) {
      const r = this.req;
      r.smUs = us;
      r.bound = BOUND_POST;
      this.charge(ctx, role);
    }
    return us;
  }

  /**
   * {@link post} of `requests` work requests (`ibMessageUs` each), as the wait of the warp that
   * posts (see {@link sleepReduce}: the duration is computed here, not passed in).
   */
  sleepPost(ctx: RankContext, role: RoleId, requests: number): Wait {
    const us = requests * ctx.hardware.ibMessageUs;
    if (us > 0) {
      const r = this.req;
      r.smUs = us;
      r.bound = BOUND_POST;
      this.charge(ctx, role);
    }
    const w = ctx.sleepWait();
    w.us = us;
    return w;
  }

  /**
   * A reduction by `warps` of this SM's warps of `readBytes` of input rows from local HBM (the
   * output row is stored locally): the role is bounded by its warps' bytes in flight over HBM's
   * latency, the SM by its reduce rate and its share of the bytes in flight. Returns how long the
   * role sleeps.
   */
  reduce(ctx: RankContext, role: RoleId, readBytes: number, warps: number): number {
    const hw = ctx.hardware;
    const ownUs = (readBytes * hw.hbmLatencyUs) / (warps * hw.smBytesInFlightPerWarp);
    const reduceUs = readBytes / (hw.smReduceGBps * 1e3);
    const inFlightShare = (ownUs * warps) / this.warps;
    return Math.max(this.busy(ctx, role, Math.max(reduceUs, inFlightShare), inFlightShare > reduceUs ? BOUND_IN_FLIGHT : BOUND_ISSUE), ownUs);
  }

  /**
   * {@link reduce}, as the wait of the role that sleeps for it: the duration stays inside this call
   * and goes straight into the task's sleep record (a float passed to or returned by a call V8 does
   * not inline is boxed as a heap number, and the roles' steps are large enough to run out of V8's
   * inlining budget). The `sleep*` methods take integers (bytes, warps, counts) for the same reason.
   */
  sleepReduce(ctx: RankContext, role: RoleId, readBytes: number, warps: number): Wait {
    const hw = ctx.hardware;
    const ownUs = (readBytes * hw.hbmLatencyUs) / (warps * hw.smBytesInFlightPerWarp);
    const reduceUs = readBytes / (hw.smReduceGBps * 1e3);
    const inFlightShare = (ownUs * warps) / this.warps;
    const r = this.req;
    r.smUs = Math.max(reduceUs, inFlightShare);
    r.bound = inFlightShare > reduceUs ? BOUND_IN_FLIGHT : BOUND_ISSUE;
    this.charge(ctx, role);
    const w = ctx.sleepWait();
    w.us = Math.max(r.waitUs, ownUs);
    return w;
  }

  /**
   * A copy by `warps` of this SM's warps, each moving its own rows ({@link rowCopyBounds}), plus
   * `fixedUs` of per-message work on the role: returns how long the role sleeps.
   */
  copyRows(ctx: RankContext, role: RoleId, readBytes: number, writeBytes: number, warpBytes: number, dest: CopyDest, warps: number, fixedUs = 0): number {
    const { ownUs, smUs, bound } = rowCopyBounds(ctx.hardware, readBytes, writeBytes, warpBytes, dest, warps, this.warps);
    const wait = this.busy(ctx, role, smUs, bound);
    return Math.max(wait, ownUs) + fixedUs;
  }

  /**
   * A reduction by `warps` of this SM's warps of `readBytes` of input rows from local HBM, each warp
   * loading its share with its loads in flight together (DeepEP's low-latency combine: a thread per
   * 8 channels, its top-k loads unrolled): the SM as in {@link reduce}, the warps in whole round
   * trips of HBM's latency, at least one. Returns how long the role sleeps.
   */
  reduceRows(ctx: RankContext, role: RoleId, readBytes: number, warps: number): number {
    const hw = ctx.hardware;
    const ownUs = Math.max(1, readBytes / (warps * hw.smBytesInFlightPerWarp)) * hw.hbmLatencyUs;
    const reduceUs = readBytes / (hw.smReduceGBps * 1e3);
    const inFlightShare = (ownUs * warps) / this.warps;
    return Math.max(this.busy(ctx, role, Math.max(reduceUs, inFlightShare), inFlightShare > reduceUs ? BOUND_IN_FLIGHT : BOUND_ISSUE), ownUs);
  }

  /**
   * A copy of `bytes` by `warps` of this SM's warps to `dest`, plus `fixedUs` of per-message work
   * (fence, tail release) on the role: returns how long the role sleeps.
   */
  copy(ctx: RankContext, role: RoleId, bytes: number, dest: CopyDest, warps: number, fixedUs = 0): number {
    const r = this.req;
    copyBounds(ctx.hardware, bytes, dest, warps, this.warps, 1, r);
    this.charge(ctx, role);
    return Math.max(r.waitUs, r.ownUs) + fixedUs;
  }

  /**
   * {@link copy}, as the wait of the role that sleeps for it (see {@link sleepReduce}), in integers:
   * by `warps / shares` warps (`shares` streams served in turn by `warps` warps, or `warps` split
   * over `shares` peers), plus `messages` NVLink messages' fixed work (`nvlinkMessageUs` each).
   */
  sleepCopy(ctx: RankContext, role: RoleId, bytes: number, dest: CopyDest, warps: number, shares = 1, messages = 0): Wait {
    const hw = ctx.hardware;
    const r = this.req;
    copyBounds(hw, bytes, dest, warps, this.warps, shares, r);
    this.charge(ctx, role);
    const w = ctx.sleepWait();
    w.us = Math.max(r.waitUs, r.ownUs) + messages * hw.nvlinkMessageUs;
    return w;
  }
}

/** An SM clock's request record ({@link SmClock}'s `req`): a copy's bounds and the wait they come to. */
class SmRequest extends CopyBounds {
  /** Declared DOUBLE, written before every read (see field-init.ts). */
  waitUs = DOUBLE;
}
