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

/** A detached role whose first wait is a 1 us sleep from its spawn (as a NIC's doorbell is). */
class Delayed implements RoleStep {
  readonly startDelayUs = 1;
  constructor(private readonly ctx: RankContext, private readonly log: Array<[string, number]>) {}
  step(): Wait | null {
    this.log.push(['delayed', this.ctx.now]);
    return null;
  }
}

/** The same role with its delay as an explicit first sleep (the reference). */
class SleepsFirst implements RoleStep {
  private slept = false;
  constructor(private readonly ctx: RankContext, private readonly log: Array<[string, number]>) {}
  step(): Wait | null {
    if (!this.slept) {
      this.slept = true;
      return this.ctx.sleep(1);
    }
    this.log.push(['delayed', this.ctx.now]);
    return null;
  }
}

defineOp<{ explicit: boolean }>({
  name: 't.roleStepDelayed',
  *task(ctx: RankContext, a) {
    if (ctx.rank !== 0) return;
    const log: Array<[string, number]> = [];
    // P and W both resume at 1 us, P first. P spawns the delayed role; W, resumed after P but
    // before the delayed role's start would have run, sleeps exactly as long as its delay.
    const p = ctx.spawn('P', (function* () {
      yield ctx.sleep(1);
      ctx.spawnDetached('D', a.explicit ? new SleepsFirst(ctx, log) : new Delayed(ctx, log));
    })());
    const w = ctx.spawn('W', (function* () {
      yield ctx.sleep(1);
      yield ctx.sleep(1);
      log.push(['W', ctx.now]);
    })());
    yield ctx.join([p, w]);
    yield ctx.sleep(5);
    ctx.setResult({ log });
  },
});

describe('A detached role with a start delay', () => {
  it('is first stepped at the end of its delay, ordered as if its start had been an event of its own', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 2, hardware: ROUND }, async (c) => {
      for (const explicit of [true, false]) {
        const r = await c.run<{ log: Array<[string, number]> }>('t.roleStepDelayed', { explicit });
        // Both at 2 us: W's sleep started (at 1 us) before the delayed role's start took its place
        // in the order, so W goes first (a start pushed at spawn would put the role first).
        expect(r.results[0]!.log).toEqual([['W', 2], ['delayed', 2]]);
      }
    });
  });
});

/** A detached role 1 us after its spawn (as a NIC's doorbell is): writes `flag[1] = 1`, a mark. */
class Marks implements RoleStep {
  readonly startDelayUs = 1;
  constructor(private readonly ctx: RankContext) {}
  step(): Wait | null {
    this.ctx.store(this.ctx.region('flag'), 1, 1);
    return null;
  }
}

defineOp<null>({
  name: 't.failStopsSiblings',
  *task(ctx: RankContext) {
    if (ctx.rank !== 0) return;
    const flag = ctx.region('flag');
    // Due after the failure: a sleeping generator, a role waiting on a counter the failing task
    // moves, and a detached role whose start delay runs past the failure.
    ctx.spawn('sleeper', (function* () {
      yield ctx.sleep(2);
      ctx.store(flag, 1, 1);
    })());
    ctx.spawn('waiter', new (class implements RoleStep {
      private started = false;
      step(): Wait | null {
        if (this.started) {
          ctx.store(flag, 1, 1);
          return null;
        }
        this.started = true;
        return ctx.untilAtLeast(flag, 0, 1);
      }
    })());
    yield ctx.sleep(1);
    ctx.spawnDetached('doorbell', new Marks(ctx));
    ctx.addLocal(flag, 0, 1); // wakes the waiter: queued behind this task's failure
    yield ctx.sleep(-1); // fails the task, and with it the rank's group
  },
});

describe('A failed task', () => {
  it('stops every other task of its group: none is stepped again, whatever it was waiting for', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 2, hardware: ROUND }, async (c) => {
      for (let r = 0; r < c.numRanks; r++) c.register(r, 'flag', 8);
      await expect(c.run('t.failStopsSiblings', null)).rejects.toThrow('sleep of -1 us');
      expect(Array.from(c.region(0, 'flag').i32)).toEqual([1, 0]);
    });
  });
});
