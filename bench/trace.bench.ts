/**
 * Tracing overhead: wall time of the default scenario's main run (DeepSeek-V3 prefill EP32, sizes
 * only) with the default trace (`detail: 'sampled'`: at most 5000 transfer slices and flows per
 * phase, counters as 200 time-bucket means per phase, exact per-port totals) against the same run
 * without, measured alternately in the same process. Target: at most 30% extra. Digests must not
 * change. (`--trace-detail full` on this run is about 5.4M events / 730 MB and doubles the wall time.)
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SCENARIO, parseScenario, runScenario } from '../src/index.js';
import { nowMs, table } from './util.js';

export default async function traceBench(): Promise<void> {
  const { check: _check, ...main } = structuredClone(DEFAULT_SCENARIO);
  const scenario = parseScenario(main);
  const dir = mkdtempSync(join(tmpdir(), 'expertmesh-trace-bench-'));
  const path = join(dir, 'bench.trace.json');
  const trials = 2;
  const off: number[] = [];
  const on: number[] = [];
  const digests = new Set<string>();
  let bytes = 0;
  let events = 0;
  let drawn = '';
  try {
    await runScenario(scenario); // warm-up: JIT, worker start-up paths
    for (let i = 0; i < trials; i++) {
      let t = nowMs();
      const a = await runScenario(scenario);
      off.push(nowMs() - t);
      t = nowMs();
      const b = await runScenario(scenario, { trace: path });
      on.push(nowMs() - t);
      digests.add(`${a.timelineDigest}/${a.outputDigest}`).add(`${b.timelineDigest}/${b.outputDigest}`);
      bytes = statSync(path).size;
      events = b.trace?.events ?? 0;
      drawn = `${b.trace?.transfersDrawn} of ${(b.trace?.transfersDrawn ?? 0) + (b.trace?.transfersNotDrawn ?? 0)} transfers drawn`;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1]!;
  const ratio = median(on) / median(off);
  table([
    { run: 'default main run, no trace', wallMs: median(off) },
    { run: 'default main run, default (sampled) trace', wallMs: median(on) },
  ]);
  console.log(`trace: ${events} events, ${(bytes / 1e6).toFixed(1)} MB, ${drawn}; overhead ${((ratio - 1) * 100).toFixed(1)}% (target <= 30%); digests identical: ${digests.size === 1}`);
}
