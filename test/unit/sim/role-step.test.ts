/**
 * Roles written as explicit state records (RoleStep) run in the engine exactly as generators do:
 * resumed only when their wait is over, with the value the wait resumed with, at the same times.
 */
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import type { RankContext } from '../../../src/sim/rank-context.js';
import type { RoleStep, Wait } from '../../../src/sim/task.js';
import { ROUND, withCluster } from '../cluster/helpers.js';

/** Waits for flag >= 3, then sleeps 2 us, then ends; logs every step it is given. */
class Waiter implements RoleStep {
  pc = 0;
  constructor(private readonly ctx: RankContext, readonly log: Array<[number, number]>) {}
  step(value: number): Wait | null {
    this.log.push([this.ctx.now, value]);
    switch (this.pc++) {
      case 0:
        return this.ctx.untilAtLeast(this.ctx.region('flag'), 0, 3);
      case 1:
        return this.ctx.sleep(2);
      default:
        return null;
    }
  }
}

defineOp<null>({
  name: 't.roleStep',
  *task(ctx: RankContext) {
    if (ctx.rank !== 0) return;
    const flag = ctx.region('flag');
    const log: Array<[number, number]> = [];
    const w = ctx.spawn('waiter', new Waiter(ctx, log));
    // The counter moves three times; only the third move satisfies the waiter.
    for (let i = 0; i < 3; i++) {
      yield ctx.sleep(1);
      ctx.addLocal(flag, 0, 1);
    }
    yield ctx.join([w]);
    ctx.setResult({ log, end: ctx.now });
  },
});

describe('RoleStep tasks', () => {
  it('are stepped only when the counter they wait on reaches their value (not at every move), then run to their end', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 2, hardware: ROUND }, async (c) => {
      for (let r = 0; r < c.numRanks; r++) c.register(r, 'flag', 4);
      const r = await c.run<{ log: Array<[number, number]>; end: number }>('t.roleStep', null);
      const { log, end } = r.results[0]!;
      // Started at 0; resumed once at 3 us with the counter's value; after its 2 us sleep, ended.
      expect(log).toEqual([[0, 0], [3, 3], [5, 0]]);
      expect(end).toBe(5);
    });
  });
});
