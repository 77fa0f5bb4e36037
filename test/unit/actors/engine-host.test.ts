import { describe, expect, it } from 'vitest';
import { EngineHost } from '../../../src/actors/engine-host.js';
import type { HostReply, HostRequest } from '../../../src/actors/host-messages.js';
import { ROUND } from '../cluster/helpers.js';

function host() {
  const h = new EngineHost();
  const send = (m: HostRequest): HostReply => h.handle(m);
  return send;
}
const init: HostRequest = { type: 'init', id: 1, workerIndex: 0, numWorkers: 1, numRanks: 2, gpusPerNode: 2, hardware: ROUND, workerOfRank: [0, 0], recordTimeline: true };

describe('EngineHost', () => {
  it('reports the actors\' initial idle states, then idle -> busy -> idle around an operation', () => {
    const send = host();
    const r0 = send(init);
    expect(r0.states.map((s) => [s.rank, s.value])).toEqual([[0, 'idle'], [1, 'idle']]);
    send({ type: 'register', id: 2, regions: [0, 1].map((rank) => ({ id: rank, rank, name: 'traffic.signal', buffer: new SharedArrayBuffer(4) })) });
    const r1 = send({ type: 'op', id: 3, opId: 0, name: 'traffic', args: { perRank: [[1, 100, 0], []], expected: [0, 1] }, startTime: 0 });
    expect(r1.states.map((s) => [s.rank, s.value, s.op])).toEqual([[0, 'busy', 'traffic'], [1, 'busy', 'traffic']]);
    expect(r1.next).toBe(0);
    const r2 = send({ type: 'window', id: 4, end: Infinity, inbound: [] });
    expect(r2.finished.map((f) => f.rank).sort()).toEqual([0, 1]);
    expect(r2.states.map((s) => [s.rank, s.value])).toEqual([[0, 'idle'], [1, 'idle']]);
    expect(r2.events).toBeGreaterThan(0);
    expect(r2.outbound).toEqual([]); // one worker: nothing leaves the host
  });

  it('errors travel inside the reply: unknown op, use before init, injected throw', () => {
    const send = host();
    expect(send({ type: 'window', id: 1, end: 1, inbound: [] }).error?.code).toBe('E_WORKER');
    send(init);
    const r = send({ type: 'op', id: 2, opId: 0, name: 'no.such.op', args: null, startTime: 0 });
    expect(r.error).toMatchObject({ code: 'E_ARGUMENT', message: "unknown operation 'no.such.op'" });
    expect(r.id).toBe(2);
    expect(send({ type: 'fault', id: 3, kind: 'throw' }).error?.code).toBe('E_TASK');
    expect(send({ type: 'fault', id: 4, kind: 'exit' }).error?.code).toBe('E_WORKER'); // in-process: no thread to end
  });
});
