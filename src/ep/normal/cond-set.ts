/**
 * @module
 * A reusable "wait for any of these counters" for the kernels' polling roles: the condition records
 * and the wait are allocated once per task and refilled each time the task has to wait, so a
 * stalled forwarder or coordinator allocates nothing per wait.
 */
import type { Region } from '../../transport/memory.js';
import { CMP_GE, WAIT_ANY } from '../../transport/protocol.js';
import { makeWait, type CounterCondition, type Wait } from '../../sim/task.js';

export class CondSet {
  /** The conditions (the first `wait.count`; the array keeps its capacity between waits). */
  private readonly conds: CounterCondition[] = [];
  private readonly any = Object.assign(makeWait(WAIT_ANY), { conds: this.conds, count: 0 });
  /** Yield this after filling the set with {@link add}. */
  readonly wait: Wait = this.any;

  /** Condition slots, one per key, created on first use. */
  private readonly slots = new Map<number, CounterCondition>();

  clear(): this {
    this.any.count = 0;
    return this;
  }

  /** Add `region[index] >= value` (under a stable `key` so its record is reused). */
  add(key: number, region: Region, index: number, value: number): void {
    let c = this.slots.get(key);
    if (!c || c.region !== region || c.index !== index) this.slots.set(key, (c = { region, index, cmp: CMP_GE, value }));
    c.value = value;
    const n = this.any.count++;
    if (n < this.conds.length) this.conds[n] = c;
    else this.conds.push(c);
  }

  get size(): number {
    return this.any.count;
  }
}
