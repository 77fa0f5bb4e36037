import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { checkStreams, createStreamMachine, streamStates, type StreamMachineInput } from '../../../src/actors/stream-machine.js';

type Act = { type: string; params?: unknown };
const launched = (actions: readonly Act[]) =>
  actions.filter((a) => a.type === 'launch').map((a) => (a.params as { id: string }).id);

// compute: A, B; comm: D waits A, C waits D; compute B waits nothing (runs after A in order).
const input: StreamMachineInput = {
  rank: 3,
  smCount: 132,
  streams: [
    { name: 'compute', sms: 108, launches: [{ id: 'A', waits: [] }, { id: 'B', waits: [] }, { id: 'E', waits: ['C'] }] },
    { name: 'comm', sms: 24, launches: [{ id: 'D', waits: ['A'] }, { id: 'C', waits: ['D'] }] },
  ],
};

describe('stream machine (pure transitions)', () => {
  it('launches the head of each stream whose waits are recorded, in queue order', () => {
    const m = createStreamMachine(2);
    const [s0, a0] = initialTransition(m, input);
    expect(launched(a0 as Act[])).toEqual(['A']);
    expect(streamStates(s0)).toEqual({ compute: 'running A', comm: 'waiting D' });
    const [s1, a1] = transition(m, s0, { type: 'KERNEL_DONE', stream: 0 });
    // B (next in order on compute) and D (its wait A recorded) start together.
    expect(launched(a1 as Act[]).sort()).toEqual(['B', 'D']);
    const [s2, a2] = transition(m, s1, { type: 'KERNEL_DONE', stream: 0 });
    // E waits for C, which has not run: compute stays queued though its SMs are free.
    expect(launched(a2 as Act[])).toEqual([]);
    expect(streamStates(s2)).toEqual({ compute: 'waiting E', comm: 'running D' });
    const [s3, a3] = transition(m, s2, { type: 'KERNEL_DONE', stream: 1 });
    expect(launched(a3 as Act[])).toEqual(['C']);
    const [s4, a4] = transition(m, s3, { type: 'KERNEL_DONE', stream: 1 });
    expect(launched(a4 as Act[])).toEqual(['E']);
    expect(streamStates(s4)).toEqual({ compute: 'running E', comm: 'drained' });
    const [s5] = transition(m, s4, { type: 'KERNEL_DONE', stream: 0 });
    expect(s5.value).toBe('done');
    expect(s5.status).toBe('done');
    expect(s5.context.completed).toBe(5);
  });

  it('gives each launch the SMs of its stream partition', () => {
    const m = createStreamMachine(2);
    const [s0] = initialTransition(m, input);
    const [, a1] = transition(m, s0, { type: 'KERNEL_DONE', stream: 0 });
    const p = (a1 as Act[]).filter((a) => a.type === 'launch').map((a) => a.params as { id: string; sms: number; index: number });
    expect(p.find((x) => x.id === 'D')).toMatchObject({ sms: 24, index: 0, stream: 1 });
    expect(p.find((x) => x.id === 'B')).toMatchObject({ sms: 108, index: 1, stream: 0 });
  });

  it('ignores a completion for a stream that runs nothing', () => {
    const m = createStreamMachine(2);
    const [s0] = initialTransition(m, input);
    const [s1, a1] = transition(m, s0, { type: 'KERNEL_DONE', stream: 1 });
    expect(launched(a1 as Act[])).toEqual([]);
    expect(s1.context.completed).toBe(0);
  });

  it('a failing kernel fails the rank: every stream stops, nothing more launches', () => {
    const m = createStreamMachine(2);
    const [s0] = initialTransition(m, input);
    const [s1] = transition(m, s0, { type: 'KERNEL_DONE', stream: 0 });
    const [s2, a2] = transition(m, s1, { type: 'KERNEL_FAILED', stream: 1, message: 'ring overflow' });
    expect(s2.value).toBe('failed');
    expect(s2.context.error).toBe("stream 'comm': ring overflow");
    expect(launched(a2 as Act[])).toEqual([]);
    const [s3, a3] = transition(m, s2, { type: 'KERNEL_DONE', stream: 0 });
    expect(s3.value).toBe('failed');
    expect(launched(a3 as Act[])).toEqual([]);
    expect(streamStates(s3)).toEqual({ compute: 'failed', comm: 'failed' });
  });

  it('rejects SM partitions over the GPU, unknown waits and waits that can never be met', () => {
    expect(() => checkStreams({ ...input, smCount: 120 })).toThrow(/add up to 132, over the GPU's 120 SMs/);
    expect(() => checkStreams({ rank: 0, smCount: 132, streams: [{ name: 'c', sms: 8, launches: [{ id: 'A', waits: ['Z'] }] }] })).toThrow(/waits for 'Z'/);
    // X waits for Y, but Y is queued behind X on the same stream.
    expect(() => checkStreams({ rank: 0, smCount: 132, streams: [{ name: 'c', sms: 8, launches: [{ id: 'X', waits: ['Y'] }, { id: 'Y', waits: [] }] }] }))
      .toThrow(/can never finish: 'X' on 'c'/);
  });
});
