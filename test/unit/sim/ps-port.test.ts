import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../../src/sim/event-queue.js';
import { ProcessorSharingPort, type PortHost, type PortJob } from '../../../src/sim/ps-port.js';

type J = PortJob & { id: number; started: number; done: number };
const BW = 100; // bytes per us

/** A port driven by its own event queue: jobs arrive at given times, timers fire in order. */
function simulate(jobs: Array<{ at: number; bytes: number; peer: number }>, bw = BW): J[] {
  const q = new EventQueue(8);
  let seq = 0;
  const host: PortHost<J> = {
    scheduleTimer: (_p, time, gen) => q.push(time, 0, seq++, 1, gen, null),
    jobStarted: (_p, j, t) => void (j.started = t),
    jobDone: (_p, j, t) => void (j.done = t),
  };
  const port = new ProcessorSharingPort<J>(0, 0, bw, host);
  const js: J[] = jobs.map((j, id) => ({ bytes: j.bytes, peer: j.peer, finishV: 0, id, started: -1, done: -1 }));
  jobs.forEach((j, id) => q.push(j.at, 0, seq++, 0, id, null));
  while (q.pop()) {
    if (q.popKind === 0) port.enqueue(js[q.popArg]!, q.popTime);
    else port.onTimer(q.popTime, q.popArg);
  }
  expect(port.activeJobs).toBe(0);
  return js;
}

const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));

describe('ProcessorSharingPort', () => {
  it('a single job takes bytes / bandwidth', () => {
    const [j] = simulate([{ at: 3, bytes: 1000, peer: 1 }]);
    expect(j!.started).toBe(3);
    close(j!.done, 3 + 1000 / BW);
  });

  it('two equal jobs to different peers share fairly and finish together at 2B/bw', () => {
    const js = simulate([{ at: 0, bytes: 500, peer: 1 }, { at: 0, bytes: 500, peer: 2 }]);
    for (const j of js) close(j.done, 1000 / BW);
  });

  it('unequal jobs: the small one finishes at 2s/bw, the large one at (s+l)/bw', () => {
    const [s, l] = simulate([{ at: 0, bytes: 200, peer: 1 }, { at: 0, bytes: 800, peer: 2 }]);
    close(s!.done, 400 / BW);
    close(l!.done, 1000 / BW);
  });

  it('a late arrival slows the running job down from its arrival on', () => {
    // A alone for 2 us (200 B), then A (800 left) and B (300) share at 50 B/us: B done at 8; A alone again, done at 13.
    const [a, b] = simulate([{ at: 0, bytes: 1000, peer: 1 }, { at: 2, bytes: 300, peer: 2 }]);
    close(b!.done, 8);
    close(a!.done, 13);
  });

  it('jobs to the same peer are served FIFO, one at a time', () => {
    const [a, b, c] = simulate([{ at: 0, bytes: 300, peer: 1 }, { at: 0, bytes: 100, peer: 1 }, { at: 0, bytes: 300, peer: 2 }]);
    // a and c share (6 us each); b starts only when a is done.
    close(a!.done, 6);
    expect(b!.started).toBe(a!.done);
    close(c!.done, 6);
    close(b!.done, 7);
  });

  it('zero-byte jobs complete at their arrival time and keep FIFO order', () => {
    const [z, big, z2] = simulate([{ at: 1, bytes: 0, peer: 1 }, { at: 1, bytes: 100, peer: 2 }, { at: 1.5, bytes: 0, peer: 2 }]);
    expect(z!.done).toBe(1);
    close(big!.done, 2);
    expect(z2!.started).toBe(big!.done); // queued behind the same peer
    expect(z2!.done).toBe(z2!.started);
  });

  it('work conservation and per-peer FIFO over random jobs', () => {
    const jobsArb = fc.array(
      fc.record({ at: fc.integer({ min: 0, max: 20 }), bytes: fc.integer({ min: 0, max: 2000 }), peer: fc.integer({ min: 0, max: 3 }) }),
      { minLength: 1, maxLength: 25 },
    );
    fc.assert(
      fc.property(jobsArb, (jobs) => {
        const js = simulate(jobs);
        const total = jobs.reduce((s, j) => s + j.bytes, 0);
        const first = Math.min(...jobs.map((j) => j.at));
        const last = Math.max(...js.map((j) => j.done));
        // Never faster than the bandwidth allows ...
        expect(last - first).toBeGreaterThanOrEqual(total / BW - 1e-9 * Math.max(1, last));
        // ... and never idle while work is waiting: it ends when any work-conserving server would.
        let end = -Infinity;
        for (const j of [...jobs].sort((a, b) => a.at - b.at)) end = Math.max(end, j.at) + j.bytes / BW;
        close(last, end);
        js.forEach((j, i) => {
          expect(j.started).toBeGreaterThanOrEqual(jobs[i]!.at);
          expect(j.done).toBeGreaterThanOrEqual(j.started + j.bytes / BW - 1e-9 * Math.max(1, j.done));
          for (let k = 0; k < i; k++)
            if (jobs[k]!.peer === jobs[i]!.peer && jobs[k]!.at <= jobs[i]!.at) expect(j.started).toBeGreaterThanOrEqual(js[k]!.done);
        });
      }),
      { numRuns: 200 },
    );
  });
});
