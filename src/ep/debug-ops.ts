/**
 * @module
 * Operations for testing the runtime's failure handling on every transport (worker threads only
 * know the operations registered by `src/ops.ts`). Not part of the public API.
 *
 * - `debug.waitForever`: every rank waits on its own counter `debug.never[0]` to become 1, which
 *   nothing ever does: the run ends with `E_TIMEOUT` naming each rank, task and wait.
 * - `debug.stall`: each host blocks its thread for `ms` wall-clock milliseconds while starting the
 *   operation (a host that does not answer), to exercise the cluster's `timeoutMs`.
 * - `debug.poll`: every rank polls `debug.never[0]` every `us` microseconds of virtual time,
 *   forever: with `us > 0` the run passes its virtual-time bound (`maxVirtualUs`); with `us = 0`
 *   virtual time stands still and the host's watchdog ends it.
 * - `debug.slowInstant`: every rank takes `steps` steps at one instant, each blocking its thread for
 *   `spinMs` wall-clock milliseconds (a large instant on a slow machine), then ends.
 * - `debug.spin`: rank 0's task blocks its thread for `ms` wall-clock milliseconds without yielding
 *   (a task that never returns to the engine), for the main thread's watchdog.
 * - `debug.a2aClobber`: the `a2a` exchange, except that rank `clobberRank` zeroes its send buffer
 *   right after issuing its puts, before they are delivered (the RDMA source-stability rule).
 */
import { defineOp } from '../actors/op-registry.js';
import type { RankContext } from '../sim/rank-context.js';
import { A2A_SEND, a2aTask, type AllToAllArgs } from './all-to-all-op.js';

/** Region `debug.waitForever` waits on (registered by the caller, 4 bytes per rank). */
export const DEBUG_NEVER = 'debug.never';

defineOp<null>({
  name: 'debug.waitForever',
  *task(ctx: RankContext) {
    yield ctx.untilAtLeast(ctx.region(DEBUG_NEVER), 0, 1);
  },
});

/** Sleep `us`, then wait forever as debug.waitForever: a deadlock at a clock past 0. */
defineOp<{ us: number }>({
  name: 'debug.waitAfter',
  *task(ctx: RankContext, a) {
    yield ctx.sleep(a.us);
    yield ctx.untilAtLeast(ctx.region(DEBUG_NEVER), 0, 1);
  },
});

defineOp<{ us: number }>({
  name: 'debug.poll',
  *task(ctx: RankContext, a) {
    const never = ctx.region(DEBUG_NEVER);
    while (Atomics.load(never.i32, 0) === 0) yield ctx.sleep(a.us);
  },
});

defineOp<{ steps: number; spinMs: number }>({
  name: 'debug.slowInstant',
  *task(ctx: RankContext, a) {
    for (let i = 0; i < a.steps; i++) {
      const until = performance.now() + a.spinMs; // (a busy wait: sub-millisecond naps are not precise)
      while (performance.now() < until);
      yield ctx.sleep(0);
    }
  },
});

defineOp<{ ms: number }>({
  name: 'debug.spin',
  *task(ctx: RankContext, a) {
    if (ctx.rank === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, a.ms);
    yield ctx.sleep(1);
  },
});

// Each thread receives its own copy of the arguments: stall once per copy, i.e. once per thread.
const stalled = new WeakSet<object>();
defineOp<{ ms: number }>({
  name: 'debug.stall',
  prepare(_ctx: RankContext, a) {
    if (stalled.has(a)) return;
    stalled.add(a);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, a.ms);
  },
});

defineOp<AllToAllArgs & { clobberRank: number }>({
  name: 'debug.a2aClobber',
  *task(ctx: RankContext, a) {
    const body = a2aTask(ctx, a);
    let r = body.next(); // every put issued; r.value is the wait for the peers' puts
    if (ctx.rank === a.clobberRank) ctx.region(A2A_SEND).u8.fill(0);
    while (!r.done) r = body.next((yield r.value) as number);
  },
});
