/**
 * A port's timer on a late clock: a remainder the float clock cannot resolve must still be served
 * (found by the EP32 tuning sweep: a sender port re-armed its timer at 139,902.06874444624 us
 * forever, and the run stopped with E_TIMEOUT).
 */
import { describe, expect, it } from 'vitest';
import { NEWS_DONE, SendPort, timerAfter, type SendHost } from '../../../src/sim/flow-port.js';
import { TransferTable } from '../../../src/sim/transfers.js';

const T0 = 139902.06874444624; // the instant of the stall; one unit in the last place is 2.9e-11 us
const NVLINK = 160_000; // bytes/us

describe('timerAfter', () => {
  it('keeps a later time and moves a time that rounded onto the clock one step later', () => {
    expect(timerAfter(10, 12.5)).toBe(12.5);
    const t = timerAfter(T0, T0);
    expect(t).toBeGreaterThan(T0);
    expect(t - T0).toBeLessThan(1e-10);
    expect(timerAfter(0, 0)).toBeGreaterThan(0);
  });
});

describe('SendPort on a late clock', () => {
  it('arms its timer after the clock when the remainder takes less than its resolution, and the timer finishes the job', () => {
    const jobs = new TransferTable();
    const timers: number[] = [];
    const done: number[] = [];
    let port!: SendPort;
    const host: SendHost & { now: number } = {
      now: T0,
      settleLater: () => {},
      timer: (p) => { timers.push(p.timerAt); },
      eventKey: () => 0,
      news: (p, count) => { for (let i = 0; i < count; i++) if (p.newsKind[i] === NEWS_DONE) done.push(p.newsJob[i]!); },
    };
    port = new SendPort(0, 0, NVLINK, jobs, host);
    const x = jobs.alloc();
    jobs.bytes[x] = 1000;
    port.enqueue(x, 1, false);
    port.settle();
    expect(timers).toEqual([T0 + 1000 / NVLINK]);
    // Float rounding left 2.1e-6 bytes (above the 2e-6 counted as nothing): 1.3e-11 us at 160 GB/s,
    // which rounds onto T0 itself.
    // (The port keeps the progress of a stream's head in its slot's record; this is its first slot,
    // whose bytes sent are the record's double 9, `S_SENT`.)
    (port as unknown as { sF: Float64Array }).sF[9] = 1000 - 2.1e-6;
    expect(T0 + 2.1e-6 / NVLINK).toBe(T0);
    port.runDue(); // the first timer, fired early by hand: settles at T0 again
    const last = timers[timers.length - 1]!;
    expect(last).toBeGreaterThan(T0);
    host.now = last;
    port.runDue();
    expect(done).toEqual([x]);
  });
});
