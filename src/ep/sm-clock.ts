/**
 * @module
 * The time an SM spends on a kernel's copies and reductions. All warps of one SM share its rate:
 * work is reserved on the SM's clock in request order, and the requesting task sleeps until its
 * share is done. This is what makes fewer SMs show up in the timeline.
 */
export class SmClock {
  private freeAt = 0;

  /** Reserve `us` of this SM from `now`; returns how long the caller must sleep. */
  reserve(now: number, us: number): number {
    const start = this.freeAt > now ? this.freeAt : now;
    this.freeAt = start + us;
    return this.freeAt - now;
  }
}
