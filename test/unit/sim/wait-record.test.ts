import { describe, expect, it } from 'vitest';
import { makeWait } from '../../../src/sim/task.js';
import { CondSet } from '../../../src/ep/normal/cond-set.js';
import { WAIT_ANY, WAIT_COUNTER, WAIT_READ, WAIT_SLEEP, WAIT_TASKS, WAIT_TRANSFER } from '../../../src/transport/protocol.js';

// The engine reads `kind` and the fields of every wait a task yields; waits of every kind share one
// shape (the same fields in the same order) so those reads stay monomorphic.
const FIELDS = ['kind', 'us', 'region', 'index', 'cmp', 'value', 'transfer', 'peer', 'tasks', 'conds', 'count'];

describe('wait records', () => {
  it('every kind has the same fields in the same order', () => {
    for (const k of [WAIT_SLEEP, WAIT_COUNTER, WAIT_TRANSFER, WAIT_READ, WAIT_TASKS, WAIT_ANY] as const) {
      const w = makeWait(k);
      expect(Object.keys(w)).toEqual(FIELDS);
      expect(w.kind).toBe(k);
    }
  });

  it("a CondSet's wait is one of them", () => {
    const s = new CondSet();
    expect(Object.keys(s.wait)).toEqual(FIELDS);
    expect(s.wait.kind).toBe(WAIT_ANY);
  });
});
