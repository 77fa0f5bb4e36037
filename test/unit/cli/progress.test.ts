import { describe, expect, it, vi } from 'vitest';
import { progressReporter } from '../../../src/cli/progress.js';
import type { RunProgress } from '../../../src/scenario/run.js';

const p = (o: Partial<RunProgress>): RunProgress => ({ run: 'main', step: 1, steps: 1, phase: 'dispatch', done: 0, total: 4, virtualUs: 0, events: 0, ...o });

function sink(isTTY: boolean) {
  let out = '';
  const stream = { isTTY, columns: 160, write: (s: string) => ((out += s), true) };
  return { io: { stdout: { write: () => true }, stderr: stream, isTTY }, text: () => out };
}

describe('run progress on stderr', () => {
  it('without a terminal: a line per finished phase, and one at least every 2 s of wall time while a phase runs', () => {
    let t = 0;
    const s = sink(false);
    const r = progressReporter(s.io, { now: () => t, timer: false });
    r.onProgress(p({ virtualUs: 5, events: 100 }));
    t = 1400;
    r.onProgress(p({ virtualUs: 10, events: 200 }));
    expect(s.text()).toBe(''); // well under 2 s: nothing yet
    t = 2100;
    r.onProgress(p({ virtualUs: 20, events: 4200 }));
    expect(s.text()).toBe('[0/4] main step 1/1 dispatch running at 20.0 us virtual, 4,200 events (2,000/s), 2.1 s, ETA ?\n');
    t = 3000;
    r.onProgress(p({ phase: 'notify', done: 1, virtualUs: 20, events: 4200 }));
    t = 4000;
    r.onProgress(p({ phase: 'dispatch', done: 2, virtualUs: 30, events: 6000 }));
    const lines = s.text().trim().split('\n');
    expect(lines[1]).toBe('[1/4] main step 1/1 notify done at 20.0 us virtual, 4,200 events (1,400/s), 3.0 s, ETA 9s');
    expect(lines[2]).toBe('[2/4] main step 1/1 dispatch done at 30.0 us virtual, 6,000 events (1,500/s), 4.0 s, ETA 4s');
    r.done();
  });

  it('without a terminal, a timer speaks up before the first progress too (cluster start, routing plan)', () => {
    vi.useFakeTimers();
    try {
      let t = 0;
      const s = sink(false);
      const r = progressReporter(s.io, { now: () => t });
      t = 1000;
      vi.advanceTimersByTime(1000);
      expect(s.text()).toBe('');
      t = 1600;
      vi.advanceTimersByTime(500);
      expect(s.text()).toBe('[0/?] starting: routing the tokens and starting the cluster, 1.6 s\n');
      r.done();
      t = 10_000;
      vi.advanceTimersByTime(5000);
      expect(s.text().split('\n')).toHaveLength(2); // stopped with done()
    } finally {
      vi.useRealTimers();
    }
  });

  it('on a terminal: a bar per phase with step, virtual time, events per second and ETA', () => {
    let t = 0;
    const s = sink(true);
    const r = progressReporter(s.io, { now: () => t });
    t = 1000;
    r.onProgress(p({ phase: 'notify', done: 1, virtualUs: 17.5, events: 500 }));
    t = 2000;
    r.onProgress(p({ phase: 'dispatch', done: 1, virtualUs: 250, events: 3000 }));
    r.done();
    const out = s.text();
    expect(out).toMatch(/main notify\s+\|#+\| step 1\/1 \| 17\.5 us virtual \| 500 events\/s \| ETA 3s/);
    expect(out).toMatch(/main dispatch\s+\|\.+\| step 1\/1 \| 250\.0 us virtual \| 1,500 events\/s \| ETA 6s/);
  });
});
