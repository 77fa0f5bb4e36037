/**
 * @module
 * A reusable "wait for any of these counters" (or "for each of them in turn", WAIT_CHAIN) for the
 * kernels' polling roles: the condition records and the wait are allocated once per task and
 * refilled each time the task has to wait, so a stalled forwarder or coordinator allocates nothing
 * per wait.
 */
import type { Region } from '../../transport/memory.js';
import { CMP_GE, WAIT_ANY } from '../../transport/protocol.js';
import { makeWait, WAIT_CHAIN, type CounterCondition, type Wait } from '../../sim/task.js';

export class CondSet {
  /** The conditions (the first `wait.count`; the array keeps its capacity between waits). */
  private readonly conds: CounterCondition[] = [];
  private readonly any: { conds: CounterCondition[]; count: number };
  /** Yield this after filling the set with {@link add}. */
  readonly wait: Wait;

  /** `chain`: a wait for each condition in turn (WAIT_CHAIN), else for any of them (WAIT_ANY). */
  constructor(chain = false) {
    const w = chain ? Object.assign(makeWait(WAIT_CHAIN), { conds: this.conds, count: 0 }) : Object.assign(makeWait(WAIT_ANY), { conds: this.conds, count: 0 });
    this.any = w;
    this.wait = w;
  }

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
