/**
 * @module
 * Progress of `expertmesh run` on stderr. On a terminal: a bar per phase (cli-progress), each with
 * the step, the virtual time reached, simulation events per second and the run's ETA. Otherwise:
 * a plain line when a phase finishes, and a line at least every {@link HEARTBEAT_MS} of wall time
 * while one runs (so logs of long runs show it moving).
 */
import cliProgress from 'cli-progress';
import { PHASES } from '../scenario/moe-steps.js';
import type { RunProgress } from '../scenario/run.js';
import type { CliIo } from './command.js';

/** Longest wall time without a progress line when stderr is not a terminal, ms. */
export const HEARTBEAT_MS = 2000;
/** Timer ticks per heartbeat period. */
const HEARTBEAT_TICKS = 4;

/** Options of {@link progressReporter} (tests inject the clock). */
export interface ProgressOptions {
  /** Wall clock, ms. Default `performance.now`. */
  now?: () => number;
  /** Write a line from a timer too when no progress arrives (default true; tests turn it off). */
  timer?: boolean;
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

function fmtEta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

/** Wall time per finished phase so far, for the ETA: phases left x mean wall time per phase. */
class RunClock {
  start: number;
  run: RunProgress['run'] | null = null;
  constructor(private readonly now: () => number) {
    this.start = now();
  }
  /** Reset when a new run (main, check) begins. */
  enter(p: RunProgress): void {
    // The main run starts with the reporter; the check run when its first report arrives.
    if (this.run !== null && p.run !== this.run) this.start = this.now();
    this.run = p.run;
  }
  elapsedS(): number {
    return (this.now() - this.start) / 1000;
  }
  etaS(p: RunProgress): number | null {
    return p.done > 0 ? (this.elapsedS() / p.done) * (p.total - p.done) : null;
  }
  eventsPerS(p: RunProgress): number {
    const s = this.elapsedS();
    return s > 0 ? p.events / s : 0;
  }
}

/** A progress callback for `runScenario` writing to `io.stderr`, and `done()` to stop the bars and timer. */
export function progressReporter(io: CliIo, opts: ProgressOptions = {}): { onProgress: (p: RunProgress) => void; done: () => void } {
  const now = opts.now ?? (() => performance.now());
  return io.isTTY ? barReporter(io, now) : lineReporter(io, now, opts.timer ?? true);
}

function barReporter(io: CliIo, now: () => number): { onProgress: (p: RunProgress) => void; done: () => void } {
  const clock = new RunClock(now);
  let multi: cliProgress.MultiBar | null = null;
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    onProgress(p) {
      clock.enter(p);
      multi ??= new cliProgress.MultiBar({
        stream: io.stderr as NodeJS.WritableStream,
        format: '{run} {phase} |{bar}| step {step}/{steps} | {virtual} us virtual | {eps} events/s | ETA {etaText}',
        barsize: 24, hideCursor: true, clearOnComplete: false, stopOnComplete: false, forceRedraw: false, fps: 10,
        barCompleteChar: '#', barIncompleteChar: '.', autopadding: true,
      }, cliProgress.Presets.legacy);
      const key = `${p.run} ${p.phase}`;
      const payload = { run: p.run, phase: p.phase.padEnd(8), step: p.step, steps: p.steps, virtual: p.virtualUs.toFixed(1), eps: fmtInt(clock.eventsPerS(p)), etaText: fmtEta(clock.etaS(p)) };
      // A phase's bar counts its finished steps: it fills when the phase has run in every step.
      const perStep = PHASES.length;
      const finished = Math.min(p.steps, Math.floor(p.done / perStep) + (p.done % perStep > phaseIndex(p) ? 1 : 0));
      let bar = bars.get(key);
      if (!bar) {
        bar = multi.create(p.steps, 0, payload);
        bars.set(key, bar);
      }
      bar.update(finished, payload);
    },
    done() {
      multi?.stop();
      multi = null;
      bars.clear();
    },
  };
}

const phaseIndex = (p: RunProgress) => Math.max(0, (PHASES as readonly string[]).indexOf(p.phase));

function lineReporter(io: CliIo, now: () => number, timer: boolean): { onProgress: (p: RunProgress) => void; done: () => void } {
  const clock = new RunClock(now);
  let last: RunProgress | null = null;
  let lastDone = '';
  let lastLine = now();
  const write = (p: RunProgress, what: string) => {
    io.stderr.write(`[${p.done}/${p.total}] ${p.run} step ${p.step}/${p.steps} ${p.phase} ${what} at ${p.virtualUs.toFixed(1)} us virtual, ${fmtInt(p.events)} events (${fmtInt(clock.eventsPerS(p))}/s), ${clock.elapsedS().toFixed(1)} s, ETA ${fmtEta(clock.etaS(p))}\n`);
    lastLine = now();
  };
  // A line once HEARTBEAT_TICKS ticks short of the limit: the timer's tick keeps the gap within it.
  const due = () => now() - lastLine >= HEARTBEAT_MS - HEARTBEAT_MS / HEARTBEAT_TICKS;
  const heartbeat = () => {
    if (!due()) return;
    if (last) write(last, 'running');
    else {
      io.stderr.write(`[0/?] starting: routing the tokens and starting the cluster, ${clock.elapsedS().toFixed(1)} s\n`);
      lastLine = now();
    }
  };
  const t = timer ? setInterval(heartbeat, HEARTBEAT_MS / HEARTBEAT_TICKS) : null;
  t?.unref();
  return {
    onProgress(p) {
      clock.enter(p);
      last = p;
      const key = `${p.run}:${p.done}`;
      if (p.done > 0 && key !== lastDone) {
        lastDone = key;
        write(p, 'done');
        return;
      }
      if (due()) write(p, 'running');
    },
    done() {
      if (t) clearInterval(t);
      last = null;
    },
  };
}
