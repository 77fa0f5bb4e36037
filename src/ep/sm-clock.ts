/**
 * @module
 * The time an SM spends on a kernel's copies and reductions. All warps of one SM share its rate:
 * work is reserved on the SM's clock in request order, and the requesting task sleeps until its
 * share is done. This is what makes fewer SMs show up in the timeline. Each reservation is also an
 * activity slice on the SM's trace track (`ch C <sm>`), labelled with the warp role that asked.
 */
import type { RankContext } from '../sim/rank-context.js';

/** The SMs (and warp groups) of a channel that kernels charge time to. */
export const SM_SEND = 0; // intranode sender SM; internode RDMA sender + NVL receiver SM
export const SM_RECV = 1; // intranode receiver SM; internode forwarder SM
export const SM_POST = 2; // the coordinator warp posting RDMA work requests
export const SM_NAMES = ['send SM', 'recv/forward SM', 'RDMA post'] as const;

/** Warp roles, as activity labels. */
export const ROLE_NAMES = [
  'nvl sender', 'nvl receiver', 'RDMASender', 'RDMASenderCoordinator', 'RDMAAndNVLForwarder', 'NVLReceivers',
  'combine reduce', 'NVLSender', 'NVLAndRDMAForwarder', 'RDMAReceiver',
] as const;
export type RoleName = (typeof ROLE_NAMES)[number];
const ROLE_ID = new Map<string, number>(ROLE_NAMES.map((n, i) => [n, i]));

/** Trace track of SM `sm` of channel `channel`. */
export function smTrack(channel: number, sm: number): number {
  return channel * SM_NAMES.length + sm;
}

export class SmClock {
  private freeAt = 0;
  private readonly track: number;

  constructor(channel = 0, sm = SM_SEND) {
    this.track = smTrack(channel, sm);
  }

  /** Reserve `us` of this SM from `now`; returns how long the caller must sleep. */
  reserve(now: number, us: number): number {
    const start = this.freeAt > now ? this.freeAt : now;
    this.freeAt = start + us;
    return this.freeAt - now;
  }

  /** {@link reserve}, recording the work as an activity of `role` on this SM's track. */
  busy(ctx: RankContext, role: RoleName, us: number): number {
    const wait = this.reserve(ctx.now, us);
    if (us > 0) ctx.activity(this.track, ROLE_ID.get(role)!, this.freeAt - us, this.freeAt);
    return wait;
  }
}
