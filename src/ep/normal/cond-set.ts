/**
 * @module
 * A reusable "wait for any of these counters" for the kernels' polling roles: the condition records
 * and the wait are allocated once per task and refilled each time the task has to wait, so a
 * stalled forwarder or coordinator allocates nothing per wait.
 */
import { fail } from '../../errors.js';
import type { Region } from '../../transport/memory.js';
import { CMP_GE, WAIT_ANY } from '../../transport/protocol.js';
import { makeWait, type CounterCondition, type Wait } from '../../sim/task.js';

export class CondSet {
  /** The conditions (the first `wait.count`; the array keeps its capacity between waits). */
  private readonly conds: CounterCondition[] = [];
  private readonly any = Object.assign(makeWait(WAIT_ANY), { conds: this.conds, count: 0 });
  /** Yield this after filling the set with {@link add}. */
  readonly wait: Wait = this.any;

  /**
   * Condition slots by key (small integers: a node, or twice a node plus one), created on first
   * use. An array, not a Map: a stalled forwarder adds up to one condition per node at every wait,
   * and a hash look-up per condition was ~1.5% of an EP64 run.
   */
  private readonly slots: Array<CounterCondition | undefined> = [];

  clear(): this {
    this.any.count = 0;
    return this;
  }

  /** Add `region[index] >= value` (under a stable `key` so its record is reused). */
  add(key: number, region: Region, index: number, value: number): void {
    let c = key < this.slots.length ? this.slots[key] : undefined;
    if (c === undefined || c.region !== region || c.index !== index) {
      if (!(Number.isInteger(key) && key >= 0 && key < 1 << 16)) fail('E_ARGUMENT', `condition key ${key} is not an integer in 0..65535`, { key });
      c = { region, index, cmp: CMP_GE, value };
      while (this.slots.length < key) this.slots.push(undefined);
      this.slots[key] = c;
    }
    c.value = value;
    const n = this.any.count++;
    if (n < this.conds.length) this.conds[n] = c;
    else this.conds.push(c);
  }

  get size(): number {
    return this.any.count;
  }
}
