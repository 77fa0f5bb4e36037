import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { gpuMachine } from '../../../src/actors/gpu-machine.js';

const start = () => createActor(gpuMachine, { input: { rank: 5 } }).start();

describe('gpuMachine', () => {
  it('idle -> busy (op named) -> idle, counting completed operations', () => {
    const a = start();
    expect(a.getSnapshot().value).toBe('idle');
    expect(a.getSnapshot().context).toEqual({ rank: 5, op: null, opId: -1, opsCompleted: 0, error: null, streams: null });
    a.send({ type: 'OP_START', op: 'a2a', opId: 3 });
    expect(a.getSnapshot().value).toBe('busy');
    expect(a.getSnapshot().context).toMatchObject({ op: 'a2a', opId: 3 });
    a.send({ type: 'OP_DONE', opId: 3 });
    expect(a.getSnapshot().value).toBe('idle');
    expect(a.getSnapshot().context).toMatchObject({ op: null, opsCompleted: 1 });
  });

  it('OP_DONE of another operation is ignored; OP_START while busy is ignored', () => {
    const a = start();
    a.send({ type: 'OP_START', op: 'x', opId: 1 });
    a.send({ type: 'OP_DONE', opId: 2 });
    a.send({ type: 'OP_START', op: 'y', opId: 2 });
    expect(a.getSnapshot().value).toBe('busy');
    expect(a.getSnapshot().context.op).toBe('x');
  });

  it('OP_DROPPED (a failed operation dropped) -> idle without counting it; a failed rank stays failed', () => {
    const a = start();
    a.send({ type: 'OP_START', op: 'x', opId: 1 });
    a.send({ type: 'OP_DROPPED' });
    expect(a.getSnapshot().value).toBe('idle');
    expect(a.getSnapshot().context).toMatchObject({ op: null, opsCompleted: 0, streams: null });
    a.send({ type: 'FAIL', message: 'boom' });
    a.send({ type: 'OP_DROPPED' });
    expect(a.getSnapshot().value).toBe('failed');
  });

  it.each(['idle', 'busy'])('FAIL from %s -> failed (final), keeping the reason; nothing leaves it', (from) => {
    const a = start();
    if (from === 'busy') a.send({ type: 'OP_START', op: 'x', opId: 1 });
    a.send({ type: 'FAIL', message: 'boom' });
    expect(a.getSnapshot().value).toBe('failed');
    expect(a.getSnapshot().status).toBe('done');
    expect(a.getSnapshot().context.error).toBe('boom');
    a.send({ type: 'OP_START', op: 'y', opId: 2 });
    expect(a.getSnapshot().value).toBe('failed');
  });
});
