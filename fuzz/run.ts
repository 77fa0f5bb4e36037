/**
 * `npm run fuzz`: feed every parser FUZZ_RUNS fast-check inputs (default 1,000,000 each) and print
 * the counts. Exits 1 on the first crash or uncoded error, printing the counterexample and seed.
 * FUZZ_SEED fixes the seed; FUZZ_ONLY=<name> runs the targets whose name contains it; FUZZ_JOBS
 * (default: the cores available) runs that many targets at once, each in its own process.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { FUZZ_TARGETS, type FuzzTarget } from './targets.js';
import { runInput } from './check.js';

// Stack traces are never printed here and capturing them dominates the cost of a rejected input.
Error.stackTraceLimit = 0;

const runs = Number(process.env['FUZZ_RUNS'] ?? 1_000_000);
const seed = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : Date.now() % 2 ** 31;
const only = process.env['FUZZ_ONLY'];
const jobs = Math.max(1, Number(process.env['FUZZ_JOBS'] ?? availableParallelism()));

/** Fuzz one target in this process; true when it passed. */
function fuzzTarget(t: FuzzTarget): boolean {
  const counts = new Map<string, number>();
  const t0 = performance.now();
  let ok = true;
  try {
    fc.assert(fc.property(t.arbitrary, (input) => {
      const r = runInput(t, input);
      counts.set(r, (counts.get(r) ?? 0) + 1);
    }), { numRuns: runs, seed, endOnFailure: true });
  } catch (e) {
    ok = false;
    console.log(`${t.name}: FAILED\n${(e as Error).message}\n${String((e as Error).cause ?? '')}`);
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const by = [...counts.entries()].sort().map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`${t.name}: ${total} inputs in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${by}; crashes 0, uncoded ${ok ? 0 : '>= 1'}`);
  return ok;
}

/** Fuzz one target in a child process (same flags, so tsx's loader too). */
function fuzzInChild(t: FuzzTarget): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, FUZZ_ONLY: t.name, FUZZ_SEED: String(seed), FUZZ_JOBS: '1', FUZZ_CHILD: '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (code) => resolve(code === 0));
  });
}

const targets = FUZZ_TARGETS.filter((t) => !only || t.name.includes(only));
if (!process.env['FUZZ_CHILD']) console.log(`fuzz: ${runs} inputs per target, seed ${seed}, ${Math.min(jobs, targets.length)} at a time`);
let passed = true;
if (jobs === 1 || targets.length === 1) {
  for (const t of targets) passed = fuzzTarget(t) && passed;
} else {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, targets.length) }, async () => {
    while (next < targets.length) passed = (await fuzzInChild(targets[next++]!)) && passed;
  }));
}
process.exitCode = passed ? 0 : 1;
