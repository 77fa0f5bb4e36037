/** What a blocked task waits for, as deadlock and timeout reports print it. */
import { describe, expect, it } from 'vitest';
import { describeWait, Task, type TaskGroup } from '../../../src/sim/task.js';
import { WAIT_TASKS } from '../../../src/transport/protocol.js';

const group = { opId: 1, live: 0, failed: false, endTime: -1 } as unknown as TaskGroup;
const idle = function* (): Generator<never, void, number> {};

describe('describeWait', () => {
  it('names at most six tasks a kernel waits for, then how many more', () => {
    const roles = Array.from({ length: 300 }, (_, i) => new Task(i, 0, `RDMASender[0.${i}]`, idle(), group));
    roles[2]!.done = true;
    const text = describeWait({ kind: WAIT_TASKS, tasks: roles });
    expect(text).toBe("tasks 'RDMASender[0.0]', 'RDMASender[0.1]', 'RDMASender[0.3]', 'RDMASender[0.4]', 'RDMASender[0.5]', 'RDMASender[0.6]' and 293 more");
  });

  it('names every task when there are six or fewer', () => {
    const roles = Array.from({ length: 2 }, (_, i) => new Task(i, 0, `NVLSender[${i}]`, idle(), group));
    expect(describeWait({ kind: WAIT_TASKS, tasks: roles })).toBe("tasks 'NVLSender[0]', 'NVLSender[1]'");
  });
});
