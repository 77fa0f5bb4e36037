/**
 * @module
 * Progress on stderr: a redrawn bar on a terminal, plain lines (one per finished phase) otherwise.
 */
import type { RunProgress } from '../scenario/run.js';
import type { CliIo } from './command.js';

/** A progress callback for `runScenario` writing to `io.stderr`, and `done()` to clear the bar. */
export function progressReporter(io: CliIo, width = 30): { onProgress: (p: RunProgress) => void; done: () => void } {
  let drawn = false;
  let lastDraw = 0;
  let lastDone = '';
  return {
    onProgress(p) {
      const label = `${p.run} step ${p.step + 1}/${p.steps} ${p.phase}`;
      if (io.isTTY) {
        const now = Date.now();
        if (now - lastDraw < 50 && p.done < p.total) return;
        lastDraw = now;
        const frac = p.total > 0 ? p.done / p.total : 1;
        const fill = Math.round(frac * width);
        io.stderr.write(`\r\x1b[K[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.round(frac * 100)).padStart(3)}% ${label} @ ${p.virtualUs.toFixed(0)} us`);
        drawn = true;
        return;
      }
      const key = `${p.run}:${p.done}`;
      if (p.done === 0 || key === lastDone) return;
      lastDone = key;
      io.stderr.write(`[${p.done}/${p.total}] ${label} done at ${p.virtualUs.toFixed(1)} us virtual\n`);
    },
    done() {
      if (drawn) io.stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}
