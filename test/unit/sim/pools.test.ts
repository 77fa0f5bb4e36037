/**
 * The task side's records are reused, not made per task: a steady run of rounds of short tasks
 * (as a kernel posts NIC work requests, one per chunk) yields the same few wait records round after
 * round, and a detached task's record serves the next detached task.
 */
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import type { Engine } from '../../../src/sim/engine.js';
import type { RankContext } from '../../../src/sim/rank-context.js';
import type { RoleStep, Wait } from '../../../src/sim/task.js';
import { ROUND, withCluster } from '../cluster/helpers.js';

/** Sleeps 1 us, then tells the parent (a counter) and ends; keeps every wait record it yielded, and its task record. */
class Post implements RoleStep {
  private pc = 0;
  constructor(private readonly ctx: RankContext, private readonly seen: Set<object>, private readonly tasks: Set<object>) {}
  step(): Wait | null {
    this.tasks.add((this.ctx as unknown as { engine: Engine }).engine.current!);
    if (this.pc++ === 0) {
      const w = this.ctx.sleep(1);
      this.seen.add(w);
      return w;
    }
    this.ctx.addLocal(this.ctx.region('flag'), 0, 1);
    return null;
  }
}

defineOp<{ rounds: number; width: number; detached: boolean }>({
  name: 't.pools',
  *task(ctx: RankContext, a) {
    if (ctx.rank !== 0) return;
    const flag = ctx.region('flag');
    const seen = new Set<object>();
    const tasks = new Set<object>();
    const ends: number[] = [];
    const sizes: number[] = [];
    const taskRecords: number[] = [];
    for (let r = 0; r < a.rounds; r++) {
      for (let i = 0; i < a.width; i++) {
        if (a.detached) ctx.spawnDetached('post', new Post(ctx, seen, tasks));
        else ctx.spawn('post', new Post(ctx, seen, tasks));
      }
      yield ctx.untilAtLeast(flag, 0, (r + 1) * a.width);
      ends.push(ctx.now);
      sizes.push(seen.size);
      taskRecords.push(tasks.size);
      // The round's tasks have ended (their last step ran before the counter moved): the next
      // round starts after them.
      yield ctx.sleep(0.5);
    }
    ctx.setResult({ sizes, ends, taskRecords });
  },
});

describe('task-side pools', () => {
  for (const detached of [true, false])
    it(`${detached ? 'detached' : 'ordinary'} tasks: ten rounds of four tasks reuse the same five wait records, at the same times (and detached tasks their four task records)`, async () => {
      await withCluster({ nodes: 1, gpusPerNode: 2, hardware: ROUND }, async (c) => {
        for (let r = 0; r < c.numRanks; r++) c.register(r, 'flag', 4);
        const res = await c.run<{ sizes: number[]; ends: number[]; taskRecords: number[] }>('t.pools', { rounds: 10, width: 4, detached });
        const { sizes, ends, taskRecords } = res.results[0]!;
        // Each round: spawned at its start, 1 us of sleep, then the parent resumes; 0.5 us between rounds.
        expect(ends).toEqual(Array.from({ length: 10 }, (_, r) => 1 + r * 1.5));
        // Round one's four tasks take four new records; the parent's sleep then takes one of them
        // back, so round two takes one more; from then on the pool holds what the rounds need
        // (made per task, the count would grow by four a round).
        expect(sizes).toEqual([4, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
        // Task records: a detached round's four serve every later round (Engine.spawnDetached takes
        // them from the pool); ordinary tasks get a record each (not reused: see docs/runtime.md).
        expect(taskRecords).toEqual(detached ? [4, 4, 4, 4, 4, 4, 4, 4, 4, 4] : [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
      });
    });
});
